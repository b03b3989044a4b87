"""``SmsGatewayChannel``: text messages through a configurable HTTP gateway.

One POST per message to the gateway URL, JSON ``{"phone", "text", "idempotency_key"}``, with
``Authorization: Bearer <token>`` when a token is configured and the header ``Idempotency-Key``.
The text is ``"<subject>：<text>"`` cut to ``SMS_MAX_CHARS`` characters (ending with "…"); the
gateway splits it into SMS segments and adds the signature (短信签名) itself.

Any 2xx reply is success. Failures are classified as for webhooks (see ``webhook``): no phone →
permanent; connection errors, time-outs, 5xx, 408, 429 → transient; other 4xx, 3xx → permanent.
"""

import logging
import urllib.request

from notifications.channels.base import DeliveryError, OutgoingMessage
from notifications.channels.webhook import build_opener, post_json, redact_url, require_http_url

log = logging.getLogger(__name__)

SMS_MAX_CHARS = 500
WHAT = "短信网关"


def sms_text(message: OutgoingMessage, limit: int = SMS_MAX_CHARS) -> str:
    """The text sent for ``message``, at most ``limit`` characters."""
    text = f"{message.subject}：{message.text}" if message.text else message.subject
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


class SmsGatewayChannel:
    name = "sms"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 10.0,
        *,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        try:
            self.url = require_http_url(url, WHAT)
        except DeliveryError as exc:
            raise ValueError(exc.reason) from None
        self.timeout = timeout
        self._token = token or None
        self._opener = opener or build_opener()

    def __repr__(self) -> str:
        token = "***" if self._token else None
        return f"SmsGatewayChannel(url={redact_url(self.url)!r}, token={token})"

    def send(self, message: OutgoingMessage) -> None:
        phone = (message.address.phone or "").strip()
        if not phone:
            raise DeliveryError("收件人没有手机号，无法发送短信", permanent=True)
        headers = {"Idempotency-Key": message.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = {
            "phone": phone,
            "text": sms_text(message),
            "idempotency_key": message.idempotency_key,
        }
        post_json(self._opener, self.url, payload, headers=headers, timeout=self.timeout, what=WHAT)
        log.debug("sms delivered %s via %s", message.idempotency_key, redact_url(self.url))
