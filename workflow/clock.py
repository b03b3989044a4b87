"""Injected time: the ``Clock`` protocol, the system clock and a settable clock for tests.

Every instant is timezone-aware; ``SHANGHAI`` is the zone people see. Choosing which clock to
use (``CASEFLOW_FAKE_NOW``) is the composition root's job.
"""

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests, demos and ``CASEFLOW_FAKE_NOW``."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant that carries its offset; raise ``ValueError`` otherwise."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"instant {text!r} has no UTC offset (write e.g. 2026-09-30T10:00:00+08:00)")
    return at
