"""The channel interface and the message a channel delivers.

A channel sends one ``OutgoingMessage`` or raises ``DeliveryError`` (``permanent`` when retrying
cannot help, e.g. no address). Retries, back-off, dead letters and the idempotency bookkeeping
are the dispatcher's; a channel passes ``idempotency_key`` on to the receiving side (a header,
a field) so that a repeated send after a crash can be recognised there.
"""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Address:
    """Where one recipient is reached on one channel."""

    username: str | None = None
    """The user (None for a department's group robot)."""
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None
    webhook_kind: str | None = None
    """``wecom``, ``dingtalk`` or ``json``."""
    webhook_secret: str | None = None
    """DingTalk signing secret (``SEC…``), if the robot uses signed URLs."""


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    """Stable per (event, recipient, channel): the same on every retry of this message."""
    channel: str
    address: Address
    subject: str
    text: str
    """Plain-text body (SMS, robots, the text part of e-mail)."""
    html: str | None = None
    """HTML body where the channel shows HTML (e-mail)."""
    urgent: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """Sending failed; ``permanent`` failures go straight to the dead letters."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` or raise ``DeliveryError``."""
        ...
