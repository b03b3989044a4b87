"""Durations as written in definitions: ``5wd`` (working days), ``15d`` (calendar days), ``24h``.

Parsing only; counting them on the working-day calendar is the calendar's job.
"""

import re
from dataclasses import dataclass
from typing import Literal

Unit = Literal["wd", "d", "h"]
_PATTERN = re.compile(r"^\s*(\d{1,4})\s*(wd|d|h)\s*$")
UNIT_NAMES: dict[str, str] = {"wd": "个工作日", "d": "天", "h": "小时"}


@dataclass(frozen=True)
class Duration:
    """A length of time in one unit."""

    amount: int
    """How many units; zero or more."""
    unit: Unit
    """``wd`` working days, ``d`` calendar days, ``h`` hours."""

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def label(self) -> str:
        """The Chinese wording, e.g. ``5个工作日``."""
        return f"{self.amount}{UNIT_NAMES[self.unit]}"


def parse_duration(text: object) -> Duration:
    """Parse ``5wd`` / ``15d`` / ``24h``; raise ``ValueError`` with what is allowed."""
    match = _PATTERN.match(str(text)) if isinstance(text, str | int) else None
    if match is None:
        raise ValueError(f"bad duration {text!r}: write N followed by wd, d or h (e.g. 5wd, 15d)")
    return Duration(int(match.group(1)), match.group(2))  # type: ignore[arg-type]
