"""Delivery channels against real local servers on 127.0.0.1 (see ``channel_servers``).

One contract suite runs over every implementation (memory, inapp, email, webhook-json, sms): a
good message is accepted and reaches the receiving side with its idempotency key, a repeat
carries the same key, and a message without the address the channel needs is a permanent
``DeliveryError`` that sends nothing. Then each backend's own promises: the e-mail arrives with
its Chinese subject and bodies intact (parsed with ``policy.default``), a stable Message-ID,
STARTTLS, implicit TLS and AUTH LOGIN; each robot's payload shape and the DingTalk signature
(recomputed here from the received query string); failures classified as the modules document;
time-outs are transient and return within about the time-out (the server holds its reply on an
``Event``; the tests never sleep).
"""

import base64
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from channel_servers import (
    ROBOT_OK,
    Reply,
    ScriptedHttpServer,
    SmtpSink,
    client_tls_context,
    refused_port,
    self_signed_cert,
    server_tls_context,
    silent_port,
    smtp_server,
)

from notifications.channels.base import Address, Channel, DeliveryError, OutgoingMessage
from notifications.channels.email import SmtpChannel, SmtpServer, message_id, parse_smtp_url
from notifications.channels.factory import build_channels
from notifications.channels.inapp import InAppChannel
from notifications.channels.memory import MemoryChannel
from notifications.channels.sms import SMS_MAX_CHARS, SmsGatewayChannel
from notifications.channels.webhook import WebhookChannel

TIMEOUT = 0.5
MAIL_FROM = "市督办办 <noreply@duban.example.cn>"
KEY = "case-2026-0042:assigned:li.ming:email"
SUBJECT = "【交办通知】关于“某化工企业超标排放（COD 日均值 152mg/L）”问题的督办件，请于 5 个工作日内办结"
TEXT = (
    "市水务局 李明同志：\n"
    "\n"
    "编号 DB-2026-0042 的问题已交办贵单位，请于 2026年10月12日（5个工作日）前办结并答复。\n"
    "督办等级：黄色；联系人：市督办办 王芳，电话 0571-8888 8888。\n"
)
HTML = "<p>市水务局 李明同志：</p><p>编号 <b>DB-2026-0042</b> 的问题已交办贵单位，请于 5 个工作日内办结。</p>\n"
RECIPIENT = "li.ming@water.example.cn"
PHONE = "+8613800000000"
ROBOT_SECRET = "SEC4f9a1c0e7b2d48a6953e0c7f1b2a8d4e6c9f0a3b5d7e1c2f4a6b8d0e2f4a6c8"


def message(
    address: Address,
    *,
    key: str = KEY,
    channel: str = "email",
    subject: str = SUBJECT,
    text: str = TEXT,
    html: str | None = None,
    urgent: bool = False,
) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel=channel,
        address=address,
        subject=subject,
        text=text,
        html=html,
        urgent=urgent,
    )


def refused(channel: Channel, msg: OutgoingMessage) -> DeliveryError:
    with pytest.raises(DeliveryError) as failure:
        channel.send(msg)
    assert failure.value.reason  # a person reads it in the dead-letter list
    return failure.value


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; the local servers must be reached directly."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def http_server() -> Iterator[ScriptedHttpServer]:
    with ScriptedHttpServer() as server:
        yield server


@dataclass
class Smtp:
    sink: SmtpSink
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    sink = SmtpSink(refuse={"busy@water.example.cn": "450 4.2.1 Mailbox busy"})
    with smtp_server(sink) as port:
        yield Smtp(sink, port)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("neither the cryptography package nor the openssl command is available")
    return made


# ------------------------------------------------------------------ the contract, every channel


@dataclass
class Harness:
    channel: Channel
    name: str
    good: Address
    lacking: Address
    received: Callable[[], list[str] | None]
    """The idempotency keys the receiving side saw, in order (None: there is no other side)."""


@pytest.fixture(params=["memory", "inapp", "email", "webhook-json", "sms"])
def harness(request: pytest.FixtureRequest) -> Harness:
    kind = request.param
    if kind == "memory":
        memory = MemoryChannel("email")
        return Harness(
            memory, "email", Address(username="li.ming", email=RECIPIENT), Address("li.ming"),
            lambda: memory.sent_keys,
        )  # fmt: skip
    if kind == "inapp":
        return Harness(
            InAppChannel(), "inapp", Address(username="li.ming"), Address(email=RECIPIENT),
            lambda: None,
        )  # fmt: skip
    if kind == "email":
        server: Smtp = request.getfixturevalue("smtp")
        return Harness(
            SmtpChannel(server.url, MAIL_FROM, TIMEOUT), "email",
            Address(username="li.ming", email=RECIPIENT), Address(username="li.ming", phone=PHONE),
            lambda: [m.parsed()["X-Caseflow-Idempotency-Key"] for m in server.sink.messages],
        )  # fmt: skip
    http: ScriptedHttpServer = request.getfixturevalue("http_server")
    if kind == "webhook-json":
        url = http.script("/hooks/caseflow", Reply(202))
        return Harness(
            WebhookChannel(TIMEOUT), "webhook",
            Address(webhook_url=url, webhook_kind="json"), Address(webhook_kind="json"),
            lambda: [r.headers["Idempotency-Key"] for r in http.requests],
        )  # fmt: skip
    assert kind == "sms"
    url = http.script("/sms/send", Reply(200, {"status": "queued"}))
    return Harness(
        SmsGatewayChannel(url, "gateway-token", TIMEOUT), "sms",
        Address(username="li.ming", phone=PHONE), Address(username="li.ming", email=RECIPIENT),
        lambda: [r.json()["idempotency_key"] for r in http.requests],
    )  # fmt: skip


def test_a_good_message_is_accepted_and_arrives_with_its_key(harness: Harness) -> None:
    harness.channel.send(message(harness.good))
    received = harness.received()
    assert received is None or received == [KEY]


def test_a_repeated_send_arrives_again_with_the_same_key(harness: Harness) -> None:
    harness.channel.send(message(harness.good))
    harness.channel.send(message(harness.good))
    received = harness.received()
    assert received is None or received == [KEY, KEY]


def test_a_message_without_the_needed_address_is_permanent_and_sends_nothing(
    harness: Harness,
) -> None:
    assert refused(harness.channel, message(harness.lacking)).permanent
    received = harness.received()
    assert received is None or received == []


def test_the_channel_is_named_as_the_outbox_names_it(harness: Harness) -> None:
    assert harness.channel.name == harness.name


# ------------------------------------------------------------------ e-mail


def test_email_arrives_with_chinese_subject_and_bodies_intact(smtp: Smtp) -> None:
    SmtpChannel(smtp.url, MAIL_FROM, TIMEOUT).send(message(Address(email=RECIPIENT), html=HTML))

    [mail] = smtp.sink.messages
    assert mail.mail_from == "noreply@duban.example.cn" and mail.rcpt_tos == [RECIPIENT]
    assert mail.content.isascii(), "headers RFC 2047-encoded, bodies base64/quoted-printable"
    assert b"\nSubject: =?utf-8?" in mail.content.replace(b"\r\n", b"\n")
    parsed = mail.parsed()
    assert parsed["Subject"] == SUBJECT
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("市督办办", "noreply@duban.example.cn")
    assert parsed["To"] == RECIPIENT
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content() == TEXT
    assert html.get_content() == HTML
    assert parsed["Message-ID"] == message_id(KEY, "duban.example.cn")
    assert parsed["X-Caseflow-Idempotency-Key"] == KEY
    assert parsed["Date"].datetime is not None and parsed["Date"].datetime.tzinfo is not None
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "Importance" not in parsed


def test_email_without_html_is_a_single_utf8_text_part(smtp: Smtp) -> None:
    SmtpChannel(smtp.url, "noreply@duban.example.cn", TIMEOUT).send(message(Address(email=RECIPIENT), urgent=True))
    parsed = smtp.sink.messages[0].parsed()
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == TEXT and parsed["Subject"] == SUBJECT
    assert parsed["From"] == "noreply@duban.example.cn"
    assert parsed["Importance"] == "high"


def test_email_message_id_is_stable_for_a_key_and_differs_between_keys(smtp: Smtp) -> None:
    channel = SmtpChannel(smtp.url, MAIL_FROM, TIMEOUT)
    channel.send(message(Address(email=RECIPIENT), key="k-1"))
    channel.send(message(Address(email=RECIPIENT), key="k-1"))
    channel.send(message(Address(email=RECIPIENT), key="k-2"))
    ids = [m.parsed()["Message-ID"] for m in smtp.sink.messages]
    assert ids[0] == ids[1] != ids[2]
    assert all(i.startswith("<") and i.endswith("@duban.example.cn>") for i in ids)


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        pytest.param("550 5.1.1 No such user here", True, id="550"),
        pytest.param("553 5.1.3 Mailbox name not allowed", True, id="553"),
        pytest.param("450 4.2.1 Mailbox busy", False, id="450"),
        pytest.param("452 4.3.1 Insufficient system storage", False, id="452"),
    ],
)
def test_email_refused_recipient_is_classified_by_reply_code(reply: str, permanent: bool) -> None:
    sink = SmtpSink(refuse={RECIPIENT: reply})
    with smtp_server(sink) as port:
        error = refused(
            SmtpChannel(f"smtp://127.0.0.1:{port}", MAIL_FROM, TIMEOUT),
            message(Address(email=RECIPIENT)),
        )
    assert error.permanent is permanent
    assert reply[:3] in error.reason and RECIPIENT in error.reason
    assert sink.messages == []


@pytest.mark.parametrize(
    "bad",
    ["not-an-address", "li.ming@", "@example.cn", "li ming@example.cn", "li@localhost",
     "li@example.cn\r\nBcc: spy@example.cn", "李明 <li@example.cn>"],
)  # fmt: skip
def test_email_malformed_address_is_permanent(smtp: Smtp, bad: str) -> None:
    error = refused(SmtpChannel(smtp.url, MAIL_FROM, TIMEOUT), message(Address(email=bad)))
    assert error.permanent and smtp.sink.messages == []


def test_email_starttls_upgrades_the_connection(tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    sink = SmtpSink()
    with smtp_server(sink, tls_context=server_tls_context(cert, key), require_starttls=True) as port:
        channel = SmtpChannel(
            f"smtp://127.0.0.1:{port}?starttls=1", MAIL_FROM, TIMEOUT,
            ssl_context=client_tls_context(cert),
        )  # fmt: skip
        channel.send(message(Address(email=RECIPIENT)))
    [mail] = sink.messages
    assert mail.tls and mail.parsed()["Subject"] == SUBJECT


def test_email_without_starttls_to_a_server_that_requires_it_is_transient(
    tls_cert: tuple[Path, Path],
) -> None:
    cert, key = tls_cert
    sink = SmtpSink()
    with smtp_server(sink, tls_context=server_tls_context(cert, key), require_starttls=True) as port:
        error = refused(
            SmtpChannel(f"smtp://127.0.0.1:{port}", MAIL_FROM, TIMEOUT),
            message(Address(email=RECIPIENT)),
        )
    assert not error.permanent and "530" in error.reason and sink.messages == []


def test_email_starttls_verifies_the_certificate(tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    sink = SmtpSink()
    with smtp_server(sink, tls_context=server_tls_context(cert, key), require_starttls=True) as port:
        # The default context trusts the system CAs only, not this self-signed certificate.
        error = refused(
            SmtpChannel(f"smtp://127.0.0.1:{port}?starttls=1", MAIL_FROM, TIMEOUT),
            message(Address(email=RECIPIENT)),
        )
    assert not error.permanent and sink.messages == []


def test_email_smtps_uses_tls_from_the_first_byte(tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    sink = SmtpSink()
    with smtp_server(sink, ssl_context=server_tls_context(cert, key)) as port:
        channel = SmtpChannel(f"smtps://127.0.0.1:{port}", MAIL_FROM, TIMEOUT, ssl_context=client_tls_context(cert))
        channel.send(message(Address(email=RECIPIENT), html=HTML))
    [mail] = sink.messages
    assert mail.tls and mail.parsed()["Subject"] == SUBJECT


USER, PASSWORD = "duban@example.cn", "p@ss:w/rd%?#&="


def _with_credentials(port: int, user: str, password: str) -> str:
    quote = urllib.parse.quote
    return f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


def test_email_logs_in_with_url_decoded_credentials_using_auth_login() -> None:
    sink = SmtpSink(require_auth=True, accounts={USER: PASSWORD})
    with smtp_server(sink) as port:
        channel = SmtpChannel(_with_credentials(port, USER, PASSWORD), MAIL_FROM, TIMEOUT)
        channel.send(message(Address(email=RECIPIENT)))
    assert sink.logins == [("LOGIN", USER, PASSWORD)]
    [mail] = sink.messages
    assert mail.login == USER and mail.parsed()["Subject"] == SUBJECT
    shown = repr(channel)
    assert PASSWORD not in shown and urllib.parse.quote(PASSWORD, safe="") not in shown


@pytest.mark.parametrize("url_password", ["wrong-password", None], ids=["wrong-password", "none"])
def test_email_failed_or_missing_login_is_transient(url_password: str | None) -> None:
    sink = SmtpSink(require_auth=True, accounts={USER: PASSWORD})
    with smtp_server(sink) as port:
        url = _with_credentials(port, USER, url_password) if url_password else f"smtp://127.0.0.1:{port}"
        error = refused(SmtpChannel(url, MAIL_FROM, TIMEOUT), message(Address(email=RECIPIENT)))
    assert not error.permanent and sink.messages == []
    assert ("535" if url_password else "530") in error.reason
    assert PASSWORD not in error.reason


def test_email_connection_refused_is_transient() -> None:
    with refused_port() as port:
        error = refused(
            SmtpChannel(f"smtp://127.0.0.1:{port}", MAIL_FROM, TIMEOUT),
            message(Address(email=RECIPIENT)),
        )
    assert not error.permanent


def test_email_silent_server_times_out_transiently_within_the_timeout() -> None:
    with silent_port() as port:
        channel = SmtpChannel(f"smtp://127.0.0.1:{port}", MAIL_FROM, TIMEOUT)
        started = time.monotonic()
        error = refused(channel, message(Address(email=RECIPIENT)))
        elapsed = time.monotonic() - started
    assert not error.permanent
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT * 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.cn:25", SmtpServer("mail.example.cn", 25)),
        ("smtp://mail.example.cn", SmtpServer("mail.example.cn", 25)),
        ("smtps://mail.example.cn", SmtpServer("mail.example.cn", 465, implicit_tls=True)),
        (
            "smtp://mail.example.cn:587?starttls=1",
            SmtpServer("mail.example.cn", 587, starttls=True),
        ),
        ("smtp://mail.example.cn:587?starttls=0", SmtpServer("mail.example.cn", 587)),
        (
            "smtp://duban%40example.cn:p%40ss%3Aw%2Frd@mail.example.cn:587?starttls=true",
            SmtpServer("mail.example.cn", 587, False, True, "duban@example.cn", "p@ss:w/rd"),
        ),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpServer) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.cn:25", "mail.example.cn:25", "smtp://:25", "smtp://mail.example.cn:abc",
     "smtp://mail.example.cn:25?tls=1", "smtp://mail.example.cn:25?starttls=maybe",
     "smtps://mail.example.cn?starttls=1", "smtp://mail.example.cn:25/inbox",
     "smtp://:secret@mail.example.cn:25"],
)  # fmt: skip
def test_parse_smtp_url_refuses_malformed_urls(url: str) -> None:
    with pytest.raises(ValueError) as refusal:
        parse_smtp_url(url)
    assert "secret" not in str(refusal.value)


def test_smtp_channel_refuses_a_malformed_sender() -> None:
    with pytest.raises(ValueError):
        SmtpChannel("smtp://mail.example.cn:25", "督办系统", TIMEOUT)


# ------------------------------------------------------------------ webhooks


def _robot(kind: str, url: str, secret: str | None = None) -> Address:
    return Address(webhook_url=url, webhook_kind=kind, webhook_secret=secret)


def test_wecom_robot_gets_markdown_and_the_idempotency_header(
    http_server: ScriptedHttpServer,
) -> None:
    url = http_server.script("/cgi-bin/webhook/send", ROBOT_OK) + "?key=693a91f6-7xxx"
    WebhookChannel(TIMEOUT).send(message(_robot("wecom", url), channel="webhook"))

    [request] = http_server.requests
    assert request.query == {"key": ["693a91f6-7xxx"]}
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "msgtype": "markdown",
        "markdown": {"content": f"**{SUBJECT}**\n{TEXT}"},
    }


def test_wecom_urgent_message_is_marked(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/wecom", ROBOT_OK)
    WebhookChannel(TIMEOUT).send(message(_robot("wecom", url), urgent=True))
    content = http_server.requests[0].json()["markdown"]["content"]
    assert content.startswith('<font color="warning">【紧急】</font>**')


def test_wecom_content_is_clipped_to_the_robot_limit(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/wecom", ROBOT_OK)
    WebhookChannel(TIMEOUT).send(message(_robot("wecom", url), text="逾期" * 3000))
    content = http_server.requests[0].json()["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096 and content.endswith("…")


def test_dingtalk_robot_gets_markdown_without_signature_when_no_secret(
    http_server: ScriptedHttpServer,
) -> None:
    url = http_server.script("/robot/send", ROBOT_OK) + "?access_token=abc123"
    WebhookChannel(TIMEOUT).send(message(_robot("dingtalk", url)))

    [request] = http_server.requests
    assert request.query == {"access_token": ["abc123"]}
    assert request.headers["Idempotency-Key"] == KEY
    payload = request.json()
    assert payload["msgtype"] == "markdown" and set(payload) == {"msgtype", "markdown"}
    assert payload["markdown"]["title"] == SUBJECT
    text = payload["markdown"]["text"]
    assert text.startswith(f"#### {SUBJECT}\n\n")
    assert all(line in text for line in TEXT.splitlines() if line)


def _expected_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_dingtalk_signed_url_verifies(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/robot/send", ROBOT_OK) + "?access_token=abc123"
    before = int(time.time() * 1000)
    WebhookChannel(TIMEOUT).send(message(_robot("dingtalk", url, ROBOT_SECRET)))
    after = int(time.time() * 1000)

    [request] = http_server.requests
    query = request.query
    assert set(query) == {"access_token", "timestamp", "sign"}
    assert query["access_token"] == ["abc123"]
    [timestamp], [sign] = query["timestamp"], query["sign"]
    assert before <= int(timestamp) <= after
    assert sign == _expected_sign(ROBOT_SECRET, timestamp)


def test_dingtalk_signature_is_url_encoded(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/robot/send", ROBOT_OK) + "?access_token=abc123"
    timestamp = 1790000000003  # its signature contains "+" and "/", which must be encoded
    expected = _expected_sign(ROBOT_SECRET, str(timestamp))
    assert "+" in expected and "/" in expected
    channel = WebhookChannel(TIMEOUT, clock=lambda: timestamp / 1000)
    channel.send(message(_robot("dingtalk", url, ROBOT_SECRET)))

    [request] = http_server.requests
    assert request.raw_query == (f"access_token=abc123&timestamp={timestamp}&sign={urllib.parse.quote_plus(expected)}")
    assert request.query["sign"] == [expected]


def test_json_webhook_gets_the_documented_payload(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/hooks/caseflow", Reply(204))
    WebhookChannel(TIMEOUT).send(message(_robot("json", url), html=HTML, urgent=True))

    [request] = http_server.requests
    assert request.headers["Idempotency-Key"] == KEY
    assert "X-Caseflow-Signature" not in request.headers
    assert request.json() == {
        "idempotency_key": KEY, "subject": SUBJECT, "text": TEXT, "html": HTML, "urgent": True,
    }  # fmt: skip


def test_json_webhook_with_a_secret_signs_the_body(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/hooks/caseflow", Reply(200, b"not json, and that is fine"))
    WebhookChannel(TIMEOUT).send(message(_robot("json", url, "s3cret")))
    [request] = http_server.requests
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Caseflow-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("kind", "errcode", "permanent"),
    [
        pytest.param("wecom", 45009, False, id="wecom-rate-limited"),
        pytest.param("wecom", 93000, True, id="wecom-invalid-webhook-url"),
        pytest.param("wecom", 40008, True, id="wecom-invalid-message-type"),
        pytest.param("wecom", 12345, False, id="wecom-unknown-code"),
        pytest.param("dingtalk", 130101, False, id="dingtalk-send-too-fast"),
        pytest.param("dingtalk", 310000, True, id="dingtalk-sign-not-match"),
        pytest.param("dingtalk", 300001, True, id="dingtalk-token-not-exist"),
        pytest.param("dingtalk", 12345, False, id="dingtalk-unknown-code"),
    ],
)
def test_robot_errcode_is_a_failure_classified_as_documented(
    http_server: ScriptedHttpServer, kind: str, errcode: int, permanent: bool
) -> None:
    url = http_server.script("/robot", Reply(200, {"errcode": errcode, "errmsg": "refused"}))
    error = refused(WebhookChannel(TIMEOUT), message(_robot(kind, url)))
    assert error.permanent is permanent
    assert str(errcode) in error.reason


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
@pytest.mark.parametrize(
    "body",
    [b"<html>gateway</html>", b'{"ok": true}', b'{"errcode": "0"}'],
    ids=["html", "no-errcode", "string"],
)
def test_robot_unreadable_reply_is_transient(http_server: ScriptedHttpServer, kind: str, body: bytes) -> None:
    url = http_server.script("/robot", Reply(200, body))
    assert not refused(WebhookChannel(TIMEOUT), message(_robot(kind, url))).permanent


TARGETS = ["wecom", "dingtalk", "json", "sms"]


def _sender(target: str, url: str) -> tuple[Channel, OutgoingMessage]:
    if target == "sms":
        return SmsGatewayChannel(url, "t0ken", TIMEOUT), message(Address(phone=PHONE))
    return WebhookChannel(TIMEOUT), message(_robot(target, url, ROBOT_SECRET))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (502, False), (503, False), (429, False), (408, False),
     (400, True), (401, True), (403, True), (404, True), (302, True)],
)  # fmt: skip
def test_http_status_is_classified(http_server: ScriptedHttpServer, target: str, status: int, permanent: bool) -> None:
    http_server.script("/elsewhere", ROBOT_OK)
    url = http_server.script("/endpoint", Reply(status, b"", headers={"Location": http_server.url("/elsewhere")}))
    channel, msg = _sender(target, url)
    error = refused(channel, msg)
    assert error.permanent is permanent and str(status) in error.reason
    assert [r.path for r in http_server.requests] == ["/endpoint"], "redirects are not followed"


@pytest.mark.parametrize("target", TARGETS)
def test_time_out_is_transient_and_prompt(http_server: ScriptedHttpServer, target: str) -> None:
    channel, msg = _sender(target, http_server.script("/slow", Reply(200, {"errcode": 0}, hold=True)))
    started = time.monotonic()
    error = refused(channel, msg)
    elapsed = time.monotonic() - started
    assert not error.permanent
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT * 3
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("target", TARGETS)
def test_connection_refused_is_transient(target: str) -> None:
    with refused_port() as port:
        channel, msg = _sender(target, f"http://127.0.0.1:{port}/send")
        assert not refused(channel, msg).permanent


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/robot", "file:///etc/passwd", "javascript:alert(1)", "127.0.0.1:8080/send",
     "http:///robot", "http://127.0.0.1:port/robot", "http://127.0.0.1/robot send", "http://127.0.0.1/robot\x00", "", None],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "json"])
def test_webhook_refuses_anything_but_an_http_url(kind: str, url: str | None) -> None:
    assert refused(WebhookChannel(TIMEOUT), message(_robot(kind, url))).permanent  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["slack", "", None])
def test_webhook_refuses_an_unknown_kind(http_server: ScriptedHttpServer, kind: str | None) -> None:
    url = http_server.script("/robot", ROBOT_OK)
    address = Address(webhook_url=url, webhook_kind=kind)
    assert refused(WebhookChannel(TIMEOUT), message(address)).permanent
    assert http_server.requests == []


def test_webhook_logs_never_show_the_robot_key(
    http_server: ScriptedHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="notifications.channels")
    ok = http_server.script("/ok", ROBOT_OK) + "?key=TOPSECRETKEY"
    failing = http_server.script("/down", Reply(503)) + "?access_token=TOPSECRETKEY"
    WebhookChannel(TIMEOUT).send(message(_robot("wecom", ok)))
    refused(WebhookChannel(TIMEOUT), message(_robot("dingtalk", failing, ROBOT_SECRET)))
    assert caplog.records, "sends and failures are logged"
    assert all("TOPSECRETKEY" not in r.getMessage() for r in caplog.records)
    assert all(ROBOT_SECRET not in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ SMS


def test_sms_gateway_gets_phone_text_key_and_bearer_token(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/sms/send", Reply(200, {"status": "queued"}))
    SmsGatewayChannel(url, "gateway-token", TIMEOUT).send(message(Address(phone=f" {PHONE} ")))

    [request] = http_server.requests
    assert request.headers["Authorization"] == "Bearer gateway-token"
    assert request.headers["Idempotency-Key"] == KEY
    assert request.json() == {"phone": PHONE, "text": f"{SUBJECT}：{TEXT}", "idempotency_key": KEY}


def test_sms_without_a_token_sends_no_authorization(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/sms/send", Reply(200))
    SmsGatewayChannel(url, None, TIMEOUT).send(message(Address(phone=PHONE)))
    assert "Authorization" not in http_server.requests[0].headers


def test_sms_long_text_is_cut_with_an_ellipsis(http_server: ScriptedHttpServer) -> None:
    url = http_server.script("/sms/send", Reply(200))
    SmsGatewayChannel(url, None, TIMEOUT).send(message(Address(phone=PHONE), text="逾期未办结" * 200))
    text = http_server.requests[0].json()["text"]
    assert len(text) == SMS_MAX_CHARS and text.endswith("…") and text.startswith(f"{SUBJECT}：逾期")


def test_sms_gateway_url_must_be_http_and_token_stays_out_of_repr() -> None:
    with pytest.raises(ValueError):
        SmsGatewayChannel("ftp://sms.example.cn/send", "t", TIMEOUT)
    channel = SmsGatewayChannel("https://sms.example.cn/send?appkey=K", "very-secret", TIMEOUT)
    assert "very-secret" not in repr(channel) and "appkey" not in repr(channel)


# ------------------------------------------------------------------ the memory twin


def test_memory_fails_the_next_sends_as_told_then_delivers() -> None:
    channel = MemoryChannel("sms")
    channel.fail_next(2)
    channel.fail_next(1, permanent=True, reason="号码已停机")
    msg = message(Address(phone=PHONE))
    outcomes = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as failure:
            channel.send(msg)
        outcomes.append(failure.value.permanent)
    channel.send(msg)
    assert outcomes == [False, False, True]
    assert channel.sent == [msg] and len(channel.attempts) == 4 and channel.pending_failures == 0


def test_memory_missing_address_does_not_use_up_a_scripted_failure() -> None:
    channel = MemoryChannel("sms")
    channel.fail_next(1)
    assert refused(channel, message(Address(email=RECIPIENT))).permanent
    assert channel.pending_failures == 1 and channel.sent == []


def test_memory_needs_follow_its_name_unless_given() -> None:
    assert MemoryChannel("inapp").needs == ("username",)
    assert MemoryChannel("webhook").needs == ("webhook_url",)
    anything = MemoryChannel("fax")
    anything.send(message(Address()))
    assert anything.sent_keys == [KEY]
    assert refused(MemoryChannel("fax", needs=["phone"]), message(Address())).permanent


# ------------------------------------------------------------------ the factory


def test_factory_without_smtp_or_sms_has_inapp_and_webhook() -> None:
    channels = build_channels(timeout=3.0)
    assert set(channels) == {"inapp", "webhook"}
    assert isinstance(channels["inapp"], InAppChannel)
    assert isinstance(channels["webhook"], WebhookChannel) and channels["webhook"].timeout == 3.0


def test_factory_builds_every_configured_channel_and_they_deliver(smtp: Smtp, http_server: ScriptedHttpServer) -> None:
    sms_url = http_server.script("/sms", Reply(200))
    hook_url = http_server.script("/hook", Reply(200))
    channels = build_channels(smtp_url=smtp.url, mail_from=MAIL_FROM, sms_url=sms_url, sms_token="t", timeout=TIMEOUT)
    assert set(channels) == {"inapp", "webhook", "email", "sms"}
    assert all(channel.name == name for name, channel in channels.items())
    address = Address("li.ming", RECIPIENT, PHONE, hook_url, "json")
    for name, channel in channels.items():
        channel.send(message(address, channel=name, key=f"k:{name}"))
    assert [m.parsed()["X-Caseflow-Idempotency-Key"] for m in smtp.sink.messages] == ["k:email"]
    assert sorted(r.headers["Idempotency-Key"] for r in http_server.requests) == [
        "k:sms",
        "k:webhook",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"smtp_url": "smtp://mail.example.cn:25"}, id="smtp-without-sender"),
        pytest.param({"smtp_url": "smtp://mail.example.cn:25", "mail_from": " "}, id="blank-sender"),
        pytest.param({"smtp_url": "http://mail.example.cn", "mail_from": MAIL_FROM}, id="bad-smtp-url"),
        pytest.param({"sms_url": "sms.example.cn/send"}, id="bad-sms-url"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
    ],
)
def test_factory_refuses_bad_settings_at_start_up(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_channels(**kwargs)  # type: ignore[arg-type]
