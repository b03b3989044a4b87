"""``WebhookChannel``: group robots and generic JSON webhooks, over ``urllib.request``.

The flavour is the address's ``webhook_kind``:

- ``wecom`` — WeCom (企业微信) group robot: ``{"msgtype": "markdown", "markdown": {"content"}}``;
  the reply is JSON, ``errcode`` 0 on success.
- ``dingtalk`` — DingTalk (钉钉) group robot: ``{"msgtype": "markdown", "markdown": {"title",
  "text"}}``; with ``webhook_secret`` the URL is signed (``&timestamp=<ms>&sign=<urlencoded
  base64(hmac_sha256(secret, f"{timestamp}\\n{secret}"))>``); ``errcode`` 0 on success.
- ``json`` — generic receiver: ``{"idempotency_key", "subject", "text", "html", "urgent"}``; any
  2xx is success. With ``webhook_secret``, the header ``X-Caseflow-Signature: sha256=<hex
  hmac_sha256(secret, body)>`` lets the receiver check the sender.

Every request carries the header ``Idempotency-Key``. How failures are classified::

    DeliveryError(permanent=False)   retry with back-off (the dispatcher's business)
      connection refused/reset, time-out (``timeout`` applies to each socket operation),
      HTTP 5xx, 408, 429, an unreadable robot reply, a robot errcode not listed below
    DeliveryError(permanent=True)    straight to the dead letters
      no URL, a URL that is not http(s), an unknown kind, HTTP 3xx (redirects are not followed:
      the configured URL is wrong), any other 4xx, and the robot errcodes that say the robot
      itself is misconfigured or gone:
        WeCom    93000 invalid webhook url, 40008 invalid message type, 44004 empty content
        DingTalk 300001 token does not exist, 310000 security check failed (signature,
                 timestamp, keyword or IP allow-list: the robot's settings must be fixed)
      Rate limits (WeCom 45009, DingTalk 130101/410100) and unknown codes stay transient.

``post_json`` and ``require_http_url`` are shared with the SMS gateway channel. Robot content
is clipped to ``ROBOT_CONTENT_LIMIT`` UTF-8 bytes. Retries, back-off and the recording of results
are the dispatcher's; the URL (it carries the robot's key) is never logged beyond its path.
"""

import base64
import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from notifications.channels.base import DeliveryError, OutgoingMessage

log = logging.getLogger(__name__)

USER_AGENT = "caseflow-notifier/0.1"
MAX_RESPONSE_BYTES = 64 * 1024
ROBOT_CONTENT_LIMIT = 4096
"""WeCom caps markdown content at 4096 bytes; DingTalk allows more; one limit serves both."""

WECOM_PERMANENT_ERRCODES = frozenset({93000, 40008, 44004})
DINGTALK_PERMANENT_ERRCODES = frozenset({300001, 310000})
KINDS = ("wecom", "dingtalk", "json")
URGENT_MARK = "【紧急】"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn redirects into errors: urllib would replay a POST as a GET without its body."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def build_opener() -> urllib.request.OpenerDirector:
    """An opener that honours the proxy environment variables and follows no redirects."""
    return urllib.request.build_opener(_NoRedirect())


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path`` — without credentials, query (robot keys) or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def require_http_url(url: str | None, what: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL; raise a permanent ``DeliveryError``."""
    if not url:
        raise DeliveryError(f"{what}未配置地址", permanent=True)
    parts = urllib.parse.urlsplit(url)
    try:
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise DeliveryError(f"{what}地址的端口无效：{redact_url(url)}", permanent=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(
            f"{what}地址必须以 http:// 或 https:// 开头并包含主机名（当前协议为 {parts.scheme or '无'}）",
            permanent=True,
        )
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise DeliveryError(f"{what}地址包含空白或控制字符", permanent=True)
    return url


def status_error(status: int, what: str) -> DeliveryError:
    """Classify a non-2xx HTTP status: 5xx, 408 and 429 are transient, the rest permanent."""
    if status >= 500 or status in (408, 429):
        return DeliveryError(f"{what}暂时不可用（HTTP {status}），稍后重试")
    if 300 <= status < 400:
        return DeliveryError(f"{what}地址发生跳转（HTTP {status}），请改为最终地址", permanent=True)
    return DeliveryError(f"{what}拒绝了请求（HTTP {status}），重试无益", permanent=True)


def post_json(
    opener: urllib.request.OpenerDirector,
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float,
    what: str,
) -> HttpResponse:
    """POST ``payload`` as UTF-8 JSON; return the 2xx response or raise ``DeliveryError``."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return post_bytes(opener, url, body, headers=headers, timeout=timeout, what=what)


def post_bytes(
    opener: urllib.request.OpenerDirector,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    what: str,
) -> HttpResponse:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            **headers,
        },
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return HttpResponse(response.status, response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        log.info("POST %s answered HTTP %s", redact_url(url), status)
        raise status_error(status, what) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        log.info("POST %s failed: %r", redact_url(url), reason)
        if isinstance(reason, TimeoutError):
            raise DeliveryError(f"{what}在 {timeout:g} 秒内没有应答，稍后重试") from exc
        raise DeliveryError(f"{what}连接失败（{reason}），稍后重试") from exc


def clip_utf8(text: str, limit: int, mark: str = "…") -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending with ``mark`` if it was cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    budget = limit - len(mark.encode("utf-8"))
    return encoded[:budget].decode("utf-8", errors="ignore") + mark


def wecom_payload(message: OutgoingMessage) -> dict[str, Any]:
    mark = f'<font color="warning">{URGENT_MARK}</font>' if message.urgent else ""
    content = f"{mark}**{message.subject}**\n{message.text}"
    return {"msgtype": "markdown", "markdown": {"content": clip_utf8(content, ROBOT_CONTENT_LIMIT)}}


def dingtalk_payload(message: OutgoingMessage) -> dict[str, Any]:
    mark = URGENT_MARK if message.urgent else ""
    # DingTalk markdown needs two trailing spaces (or a blank line) for a line break.
    body = "  \n".join(message.text.splitlines())
    text = f"#### {mark}{message.subject}\n\n{body}"
    return {
        "msgtype": "markdown",
        "markdown": {
            "title": f"{mark}{message.subject}",
            "text": clip_utf8(text, ROBOT_CONTENT_LIMIT),
        },
    }


def json_payload(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "urgent": message.urgent,
    }


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The DingTalk signature, base64 (not yet URL-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    sign = urllib.parse.quote_plus(dingtalk_sign(secret, timestamp_ms))
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    if url.endswith(("?", "&")):
        separator = ""
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign}"


def json_signature(secret: str, body: bytes) -> str:
    """The value of ``X-Caseflow-Signature`` for the generic JSON flavour."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_robot_reply(response: HttpResponse, what: str, permanent_codes: frozenset[int]) -> None:
    """Raise unless the robot's JSON reply has ``errcode`` 0."""
    try:
        data = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    errcode = data.get("errcode") if isinstance(data, dict) else None
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        raise DeliveryError(f"{what}的应答无法识别（缺少 errcode），稍后重试")
    if errcode == 0:
        return
    assert isinstance(data, dict)
    errmsg = str(data.get("errmsg", ""))[:200]
    permanent = errcode in permanent_codes
    advice = "请检查机器人配置，重试无益" if permanent else "稍后重试"
    raise DeliveryError(f"{what}返回错误码 {errcode}（{errmsg}），{advice}", permanent=permanent)


class WebhookChannel:
    """POSTs one message to the address's robot or webhook URL."""

    name = "webhook"

    def __init__(
        self,
        timeout: float = 10.0,
        *,
        opener: urllib.request.OpenerDirector | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self._opener = opener or build_opener()
        self._clock = clock

    def send(self, message: OutgoingMessage) -> None:
        address = message.address
        kind = address.webhook_kind
        if kind not in KINDS:
            raise DeliveryError(f"未知的 webhook 类型 {kind!r}（可用：{', '.join(KINDS)}）", permanent=True)
        what = {"wecom": "企业微信机器人", "dingtalk": "钉钉机器人", "json": "webhook 接收方"}[kind]
        url = require_http_url(address.webhook_url, what)
        headers = {"Idempotency-Key": message.idempotency_key}
        if kind == "wecom":
            response = self._post(url, wecom_payload(message), headers, what)
            check_robot_reply(response, what, WECOM_PERMANENT_ERRCODES)
        elif kind == "dingtalk":
            if address.webhook_secret:
                url = dingtalk_signed_url(url, address.webhook_secret, int(self._clock() * 1000))
            response = self._post(url, dingtalk_payload(message), headers, what)
            check_robot_reply(response, what, DINGTALK_PERMANENT_ERRCODES)
        else:
            body = json.dumps(json_payload(message), ensure_ascii=False).encode("utf-8")
            if address.webhook_secret:
                headers["X-Caseflow-Signature"] = json_signature(address.webhook_secret, body)
            post_bytes(self._opener, url, body, headers=headers, timeout=self.timeout, what=what)
        log.debug("webhook %s delivered %s to %s", kind, message.idempotency_key, redact_url(url))

    def _post(self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str], what: str) -> HttpResponse:
        return post_json(self._opener, url, payload, headers=headers, timeout=self.timeout, what=what)
