"""``SmtpChannel``: e-mail over SMTP, one connection per message.

Configured by ``CASEFLOW_SMTP_URL`` = ``smtp://[user:password@]host:port[?starttls=1]`` (user and
password URL-encoded; ``smtps://`` for implicit TLS, default ports 25 and 465) and
``CASEFLOW_MAIL_FROM`` (``noreply@example.cn`` or ``督办系统 <noreply@example.cn>``).

The message (``build_email``) is a MIME ``EmailMessage`` in UTF-8: text/plain, or
multipart/alternative with an HTML part when the message has HTML; headers From, To, Subject
(RFC 2047-encoded), Date, Message-ID (derived from the idempotency key, so a repeated send has
the same Message-ID and mail clients fold the duplicates), ``X-Caseflow-Idempotency-Key``,
``Auto-Submitted: auto-generated``, and ``Importance: high`` when urgent. TLS certificates are
verified (``ssl_context`` lets a deployment trust a private CA).

How failures are classified::

    DeliveryError(permanent=True)    no or malformed e-mail address; a 5xx reply to RCPT TO
                                     (recipient refused) or to DATA (message refused)
    DeliveryError(permanent=False)   connection refused/reset, time-out, TLS failure, any 4xx,
                                     and 5xx replies to the greeting, EHLO, STARTTLS, AUTH or
                                     MAIL FROM: those are server or configuration faults that
                                     hit every message alike; once fixed, the retry succeeds

Retries and dead letters are the dispatcher's. The password never appears in logs or errors.
"""

import hashlib
import logging
import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass, field
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from notifications.channels.base import DeliveryError, OutgoingMessage

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class SmtpServer:
    """A parsed ``CASEFLOW_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool = False
    """``smtps://``: TLS from the first byte."""
    starttls: bool = False
    """``?starttls=1``: upgrade a plain connection with STARTTLS before anything else."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """Parse ``smtp://[user:password@]host:port[?starttls=1]`` or ``smtps://…``; ``ValueError``."""
    shape = "smtp://[用户:密码@]主机:端口[?starttls=1] 或 smtps://[用户:密码@]主机:端口"
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"SMTP 地址的协议必须是 smtp 或 smtps（当前为 {parts.scheme or '无'}），格式：{shape}")
    if not parts.hostname:
        raise ValueError(f"SMTP 地址缺少主机名，格式：{shape}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"SMTP 地址的端口无效，格式：{shape}") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"SMTP 地址不应包含路径或片段，格式：{shape}")
    starttls = False
    for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if key != "starttls":
            raise ValueError(f"SMTP 地址含未知参数 {key!r}（只支持 starttls），格式：{shape}")
        if value.lower() in TRUE_WORDS:
            starttls = True
        elif value.lower() in FALSE_WORDS:
            starttls = False
        else:
            raise ValueError(f"starttls 的取值必须是 1 或 0（当前为 {value!r}）")
    if starttls and parts.scheme == "smtps":
        raise ValueError("smtps:// 已是加密连接，不能再加 starttls=1")
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("SMTP 地址给了密码却没有用户名")
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls,
        username=username,
        password=password if username else None,
    )


def valid_email(value: str | None) -> str | None:
    """``value`` stripped if it looks like a deliverable ``local@domain`` address, else None."""
    if not value:
        return None
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in value) or any(ch in value for ch in '<>,;"'):
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or domain != domain.strip("."):
        return None
    return value


def message_id(idempotency_key: str, domain: str) -> str:
    """``<sha256(key)[:32]@domain>``: the same key gives the same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.caseflow@{domain}>"


def _domain_of(mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    return domain if domain and domain.isascii() else "caseflow.invalid"


def build_email(message: OutgoingMessage, mail_from: str, recipient: str) -> EmailMessage:
    """The MIME message for ``message`` (UTF-8; multipart/alternative when it has HTML)."""
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = MailAddress(addr_spec=recipient)
    mail["Subject"] = " ".join(message.subject.split())
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = message_id(message.idempotency_key, _domain_of(mail_from))
    mail["X-Caseflow-Idempotency-Key"] = message.idempotency_key
    mail["Auto-Submitted"] = "auto-generated"
    if message.urgent:
        mail["Importance"] = "high"
        mail["X-Priority"] = "1"
    mail.set_content(message.text, charset="utf-8")
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail


class SmtpChannel:
    """Sends each message in its own SMTP session (STARTTLS and LOGIN when configured)."""

    name = "email"

    def __init__(
        self,
        url: str,
        mail_from: str,
        timeout: float = 10.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.server = parse_smtp_url(url)
        envelope_from = parseaddr(mail_from)[1]
        if not valid_email(envelope_from):
            raise ValueError(f"发件地址无效：{mail_from!r}（例如 noreply@example.cn）")
        self.mail_from = mail_from
        self.envelope_from = envelope_from
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpChannel({self.server!r}, mail_from={self.mail_from!r})"

    def send(self, message: OutgoingMessage) -> None:
        recipient = valid_email(message.address.email)
        if recipient is None:
            if message.address.email:
                raise DeliveryError(f"邮箱地址无效：{message.address.email!r}", permanent=True)
            raise DeliveryError("收件人没有邮箱地址，无法发送邮件", permanent=True)
        try:
            mail = build_email(message, self.mail_from, recipient)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"邮件无法编码（{exc}）", permanent=True) from None
        try:
            self._deliver(mail, recipient)
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = exc.recipients.get(recipient, (0, b""))
            raise _refused(code, answer, f"邮件服务器拒收收件人 {recipient}") from None
        except smtplib.SMTPDataError as exc:
            raise _refused(exc.smtp_code, exc.smtp_error, "邮件服务器拒收邮件") from None
        except smtplib.SMTPResponseException as exc:
            log.info("SMTP %s:%s refused: %s", self.server.host, self.server.port, exc.smtp_code)
            reply = _text(exc.smtp_error)
            raise DeliveryError(f"邮件服务器拒绝（{exc.smtp_code} {reply}），请检查邮件服务器配置；稍后重试") from None
        except (smtplib.SMTPException, OSError) as exc:
            log.info("SMTP %s:%s failed: %r", self.server.host, self.server.port, exc)
            if isinstance(exc, TimeoutError):
                raise DeliveryError(f"邮件服务器在 {self.timeout:g} 秒内没有应答，稍后重试") from exc
            raise DeliveryError(f"连接邮件服务器失败（{exc}），稍后重试") from exc
        log.debug("email delivered %s to %s", message.idempotency_key, recipient)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _deliver(self, mail: EmailMessage, recipient: str) -> None:
        server = self.server
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, local_hostname=self._local_hostname, timeout=self.timeout)
        try:
            if server.starttls:
                smtp.starttls(context=self._context())
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(mail, from_addr=self.envelope_from, to_addrs=[recipient])
        except BaseException:
            smtp.close()  # no QUIT: the session is broken, and QUIT could wait another time-out
            raise
        try:
            smtp.quit()  # the message is accepted; a failing QUIT changes nothing
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _refused(code: int, reply: bytes | str, what: str) -> DeliveryError:
    """5xx: permanent; anything else (4xx): transient."""
    if 500 <= code < 600:
        return DeliveryError(f"{what}（{code} {_text(reply)}），重试无益", permanent=True)
    return DeliveryError(f"{what}（{code} {_text(reply)}），稍后重试")
