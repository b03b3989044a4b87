"""``MemoryChannel``: the in-memory twin of every channel, for tests.

It records every message it accepts (``sent``) and every attempt (``attempts``), refuses a
message that lacks the address field the channel it stands in for needs (the same permanent
``DeliveryError`` the real channel raises), and can be told to fail the next N sends, transiently
or permanently, so that retry, back-off and dead-letter paths can be driven without a server.

It does not deduplicate: a repeated send is recorded again, with the same idempotency key — as a
real receiving side would see it.
"""

import threading
from collections.abc import Sequence

from notifications.channels.base import DeliveryError, OutgoingMessage

NEEDS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    "inapp": ("username",),
    "email": ("email",),
    "sms": ("phone",),
    "webhook": ("webhook_url",),
}
"""The ``Address`` fields each real channel needs; a ``MemoryChannel`` named like one of them
needs the same fields unless told otherwise."""


class MemoryChannel:
    """Records messages instead of delivering them; thread-safe."""

    def __init__(self, name: str, needs: Sequence[str] | None = None) -> None:
        self.name = name
        self.needs: tuple[str, ...] = tuple(needs) if needs is not None else NEEDS_BY_CHANNEL.get(name, ())
        self.sent: list[OutgoingMessage] = []
        """Messages accepted, in order (a repeated send appears twice)."""
        self.attempts: list[OutgoingMessage] = []
        """Every call of ``send``, successful or not."""
        self._failures: list[DeliveryError] = []
        self._lock = threading.Lock()

    def fail_next(self, count: int = 1, *, permanent: bool = False, reason: str = "模拟的发送失败") -> None:
        """Make the next ``count`` sends (that have the needed address) raise ``DeliveryError``."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        with self._lock:
            self._failures.extend(DeliveryError(reason, permanent=permanent) for _ in range(count))

    @property
    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    @property
    def sent_keys(self) -> list[str]:
        """The idempotency keys of ``sent``, in order."""
        with self._lock:
            return [message.idempotency_key for message in self.sent]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.attempts.clear()
            self._failures.clear()

    def send(self, message: OutgoingMessage) -> None:
        with self._lock:
            self.attempts.append(message)
            missing = [field for field in self.needs if not getattr(message.address, field)]
            if missing:
                raise DeliveryError(f"收件人缺少{self.name}渠道所需的地址（{', '.join(missing)}）", permanent=True)
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append(message)
