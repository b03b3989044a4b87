"""``build_channels``: the channels a deployment has, from plain settings values.

``inapp`` and ``webhook`` always (robot and webhook URLs travel on each address); ``email`` when
an SMTP URL is given (then the sender address is required); ``sms`` when a gateway URL is given.
The composition root passes the values from ``Settings``; this module does not read config.
Invalid values raise ``ValueError`` at start-up rather than failing every send later.
"""

from notifications.channels.base import Channel
from notifications.channels.email import SmtpChannel
from notifications.channels.inapp import InAppChannel
from notifications.channels.sms import SmsGatewayChannel
from notifications.channels.webhook import WebhookChannel

DEFAULT_TIMEOUT = 10.0


def build_channels(
    *,
    smtp_url: str | None = None,
    mail_from: str | None = None,
    sms_url: str | None = None,
    sms_token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Channel]:
    """The configured channels by name: ``inapp``, ``webhook``, and ``email``/``sms`` if set."""
    if timeout <= 0:
        raise ValueError(f"通知发送超时必须大于 0 秒（当前为 {timeout}）")
    channels: list[Channel] = [InAppChannel(), WebhookChannel(timeout)]
    if smtp_url and smtp_url.strip():
        if not mail_from or not mail_from.strip():
            raise ValueError("配置了 SMTP 地址（CASEFLOW_SMTP_URL）就必须配置发件地址（CASEFLOW_MAIL_FROM）")
        channels.append(SmtpChannel(smtp_url, mail_from.strip(), timeout))
    if sms_url and sms_url.strip():
        channels.append(SmsGatewayChannel(sms_url.strip(), sms_token or None, timeout))
    return {channel.name: channel for channel in channels}
