"""The working-day calendar: which days are Chinese working days, and deadlines counted on them.

Counting (DOMAIN.md §2; Civil Code art. 201/203; Administrative Licensing Law art. 82):

- The start day is not counted; a period ends at 24:00 Asia/Shanghai of its last day, so
  ``Deadline.due_at`` is 00:00 +08:00 of the calendar day after ``due_date``.
- ``Nwd``: N working days after the start day. A working day is a Monday–Friday that is not a
  statutory holiday, or an adjusted working day (调休上班, usually a Saturday or Sunday).
- ``Nd``: N calendar days after the start day. Civil Code art. 203: when the last day is a
  statutory rest day (a holiday, or a weekend that is not an adjusted working day), the period
  ends on the first working day after it instead.
- ``Nh``: N hours after the start instant (``deadline`` only: a bare date has no instant);
  ``due_date`` is the Shanghai date of ``due_at``.

Data (``CalendarData``) comes in layers, merged by the caller: the ``chinese_calendar`` package
(``load_package_data``; it carries 2004–2026 and raises ``NotImplementedError`` for later
years, which are then simply unknown), then the YAML files of ``config/calendar/``
(``load_calendar_files``; a file replaces the data of its year: it is the State Council notice),
then the days an admin entered (``cases.calendar``; per day). A year without data falls back to
weekends only and every deadline that depends on such a year is ``provisional``; nothing here
ever raises for 2027+.

The YAML format, one file per year (``config/calendar/2026.yaml``)::

    year: 2026                                    # required; every date below must be in it
    source: 国务院办公厅关于2026年部分节假日安排的通知  # optional text
    holidays:                                     # required, not empty: date or range -> name
      2026-01-01..2026-01-03: 元旦                 # an inclusive range, both ends written out
      2026-02-16: 春节                             # or a single date
    workdays:                                     # optional: adjusted working days -> name
      2026-01-04: 元旦

Names are 1–50 characters. Unknown keys, bad dates, dates outside ``year``, a day listed twice,
and a day that is both a holiday and a workday are ``DefinitionError`` naming the file and key.
This module is pure: no database, no I/O beyond reading those files.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn

from workflow.clock import SHANGHAI
from workflow.durations import Duration
from workflow.errors import DefinitionError
from workflow.yamlfile import load_file

DayKind = Literal["holiday", "workday"]
KINDS: tuple[DayKind, ...] = ("holiday", "workday")
MIN_YEAR, MAX_YEAR = 2000, 2099
"""The years a calendar entry may be given for (catches typos such as ``0226-10-01``)."""
NAME_MAX = 50
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
ONE_DAY = timedelta(days=1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOP_KEYS = ("year", "source", "holidays", "workdays")


@dataclass(frozen=True)
class CalendarData:
    """Holidays and adjusted working days of the years whose official data is known."""

    holidays: dict[date, str] = field(default_factory=dict)
    """Statutory holidays (放假) → name, weekend days of a holiday period included."""
    workdays: dict[date, str] = field(default_factory=dict)
    """Adjusted working days (调休上班) → name of the holiday they make up for."""
    known_years: frozenset[int] = frozenset()
    """Years with official data; every date above lies in one of them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", dict(self.holidays))
        object.__setattr__(self, "workdays", dict(self.workdays))
        object.__setattr__(self, "known_years", frozenset(self.known_years))
        both = sorted(self.holidays.keys() & self.workdays.keys())
        if both:
            raise ValueError(f"{both[0]} is both a holiday and a workday")
        stray = sorted({d.year for d in (*self.holidays, *self.workdays)} - self.known_years)
        if stray:
            raise ValueError(f"entries for year {stray[0]}, which is not among the known years")

    def kind_of(self, day: date) -> tuple[DayKind, str] | None:
        """``("holiday", name)``, ``("workday", name)``, or ``None`` for an ordinary day."""
        if day in self.holidays:
            return "holiday", self.holidays[day]
        if day in self.workdays:
            return "workday", self.workdays[day]
        return None

    def replace_years(self, other: "CalendarData") -> "CalendarData":
        """This data with every year known to ``other`` replaced by ``other``'s data."""
        ours = self._without_years(other.known_years)
        return CalendarData(
            {**ours.holidays, **other.holidays},
            {**ours.workdays, **other.workdays},
            self.known_years | other.known_years,
        )

    def with_days(self, days: Mapping[date, tuple[DayKind, str]]) -> "CalendarData":
        """This data with each given day set to its kind and name; their years become known."""
        holidays = {d: n for d, n in self.holidays.items() if d not in days}
        workdays = {d: n for d, n in self.workdays.items() if d not in days}
        for day, (kind, name) in days.items():
            (holidays if kind == "holiday" else workdays)[day] = name
        return CalendarData(holidays, workdays, self.known_years | {d.year for d in days})

    def _without_years(self, years: frozenset[int]) -> "CalendarData":
        return CalendarData(
            {d: n for d, n in self.holidays.items() if d.year not in years},
            {d: n for d, n in self.workdays.items() if d.year not in years},
            self.known_years - years,
        )


@dataclass(frozen=True)
class Deadline:
    """When a period ends."""

    due_date: date
    """The last day of the period (for ``wd`` the last working day), Asia/Shanghai."""
    due_at: datetime
    """The instant the period is over: 00:00 +08:00 after ``due_date`` (for ``h``: start + N h)."""
    provisional: bool
    """True when the result depends on a day of a year without official data."""


@dataclass(frozen=True)
class YearSummary:
    """One year of the calendar, for listings."""

    year: int
    known: bool
    """Whether the year has official data (otherwise: weekends only)."""
    holidays: tuple[tuple[date, str], ...]
    workdays: tuple[tuple[date, str], ...]
    working_days: int
    """How many days of the year are working days."""
    days: int
    """How many days the year has."""


def end_of_day(day: date) -> datetime:
    """24:00 of ``day`` in Asia/Shanghai, i.e. 00:00 +08:00 of the next day (aware)."""
    return datetime.combine(day + ONE_DAY, time(0), tzinfo=SHANGHAI)


class WorkingCalendar:
    """Working days and deadlines on one ``CalendarData`` (immutable, safe to share)."""

    def __init__(self, data: CalendarData) -> None:
        self.data = data

    def is_known(self, year: int) -> bool:
        return year in self.data.known_years

    def is_working_day(self, day: date) -> bool:
        """Monday–Friday and not a holiday, or an adjusted working day; weekends only for a year
        without data."""
        if day.year in self.data.known_years:
            if day in self.data.holidays:
                return False
            if day in self.data.workdays:
                return True
        return day.weekday() < 5

    def add(self, start: date, duration: Duration) -> Deadline:
        """The deadline of a ``wd`` or ``d`` period that starts on ``start`` (not counted).

        ``h`` needs an instant: use ``deadline``; here it is a ``ValueError``.
        """
        if duration.unit == "wd":
            due, provisional = self._add_working_days(start, duration.amount)
        elif duration.unit == "d":
            due, provisional = self._add_calendar_days(start, duration.amount)
        else:
            raise ValueError(f"{duration} counts hours from an instant: use deadline(), not add()")
        return Deadline(due, end_of_day(due), provisional)

    def deadline(self, start_instant: datetime, duration: Duration) -> Deadline:
        """The deadline of a period that starts at ``start_instant`` (timezone-aware); for
        ``wd``/``d`` the start day is its date in Asia/Shanghai."""
        if start_instant.tzinfo is None:
            raise ValueError("deadline() needs a timezone-aware start instant")
        if duration.unit == "h":
            due_at = (start_instant.astimezone(UTC) + timedelta(hours=duration.amount)).astimezone(SHANGHAI)
            return Deadline(due_at.date(), due_at, False)
        return self.add(start_instant.astimezone(SHANGHAI).date(), duration)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]`` — from today ``a`` to a due date ``b``, the working days
        left, the due date included; negative (working days in ``(b, a]``) when ``b`` is past."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(1 for n in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(days=n)))

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        day += ONE_DAY
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def year_summary(self, year: int) -> YearSummary:
        first, last = date(year, 1, 1), date(year, 12, 31)
        days = (last - first).days + 1
        return YearSummary(
            year=year,
            known=self.is_known(year),
            holidays=tuple(sorted((d, n) for d, n in self.data.holidays.items() if d.year == year)),
            workdays=tuple(sorted((d, n) for d, n in self.data.workdays.items() if d.year == year)),
            working_days=self.working_days_between(first - ONE_DAY, last),
            days=days,
        )

    def _add_working_days(self, start: date, amount: int) -> tuple[date, bool]:
        day, counted, provisional = start, 0, False
        while counted < amount:
            day += ONE_DAY
            provisional = provisional or not self.is_known(day.year)
            counted += self.is_working_day(day)
        return day, provisional

    def _add_calendar_days(self, start: date, amount: int) -> tuple[date, bool]:
        day = start + timedelta(days=amount)
        provisional = not self.is_known(day.year)
        while not self.is_working_day(day):  # Civil Code art. 203: a rest day is not the last day
            day += ONE_DAY
            provisional = provisional or not self.is_known(day.year)
        return day, provisional


# --- data: the chinese_calendar package --------------------------------------------------------


def load_package_data(years: Iterable[int]) -> CalendarData:
    """The data ``chinese_calendar`` carries for ``years``; a year it lacks (it raises
    ``NotImplementedError`` for it) is left unknown."""
    import chinese_calendar  # type: ignore[import-untyped]

    def chinese(value: str) -> str:
        try:
            return str(chinese_calendar.Holiday(value).chinese)
        except ValueError:
            return value

    known: set[int] = set()
    for year in years:
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        known.add(year)
    holidays: dict[date, str] = {d: chinese(v) for d, v in chinese_calendar.holidays.items() if d.year in known}
    workdays: dict[date, str] = {d: chinese(v) for d, v in chinese_calendar.workdays.items() if d.year in known}
    return CalendarData(holidays, workdays, frozenset(known))


# --- data: config/calendar/*.yaml ----------------------------------------------------------------


def load_calendar_files(paths: Iterable[Path]) -> CalendarData:
    """Every file's year, merged; a year defined by two files is a ``DefinitionError``."""
    merged, seen = CalendarData(), dict[int, Path]()
    for path in paths:
        data = load_calendar_file(path)
        for year in data.known_years:
            if year in seen:
                raise DefinitionError(str(path), "year", f"{year} is also defined in {seen[year]}")
            seen[year] = path
        merged = merged.replace_years(data)
    return merged


def load_calendar_file(path: Path) -> CalendarData:
    """One year's holidays and adjusted working days (format: see the module docstring)."""
    return _FileReader(str(path)).read(load_file(path))


class _FileReader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, reason: str) -> NoReturn:
        raise DefinitionError(self.file, key, reason)

    def read(self, raw: Any) -> CalendarData:
        if not isinstance(raw, dict):
            self.fail("(document)", "expected a mapping with year, holidays and workdays")
        for key in raw:
            if key not in _TOP_KEYS:
                self.fail(str(key), f"unknown key; allowed: {', '.join(_TOP_KEYS)}")
        year = raw.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            self.fail("year", f"required: the year of this file, {MIN_YEAR}–{MAX_YEAR} (got {year!r})")
        if "source" in raw and not isinstance(raw["source"], str):
            self.fail("source", "expected text")
        holidays = self.section(raw.get("holidays"), "holidays", year)
        if not holidays:
            self.fail("holidays", "required: the year's statutory holidays (date or range: name)")
        workdays = self.section(raw.get("workdays"), "workdays", year)
        for day, (_, key) in sorted(workdays.items()):
            if day in holidays:
                self.fail(key, f"{day} is also a holiday (holidays.{holidays[day][1]})")
        return CalendarData(
            {d: n for d, (n, _) in holidays.items()},
            {d: n for d, (n, _) in workdays.items()},
            frozenset({year}),
        )

    def section(self, value: Any, section: str, year: int) -> dict[date, tuple[str, str]]:
        """Day → (name, key path) of one section."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(section, "expected a mapping of date (or from..to range) to name")
        days: dict[date, tuple[str, str]] = {}
        for raw_key, name in value.items():
            key = f"{section}.{raw_key}"
            first, last = self.dates(raw_key, key)
            if first.year != year or last.year != year:
                self.fail(key, f"date outside the file's year {year}")
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
                self.fail(key, f"expected a name of 1–{NAME_MAX} characters (got {name!r})")
            day = first
            while day <= last:
                if day in days:
                    self.fail(key, f"{day} is already listed ({days[day][1]})")
                days[day] = (name.strip(), key)
                day += ONE_DAY
        return days

    def dates(self, raw_key: Any, key: str) -> tuple[date, date]:
        if not isinstance(raw_key, str):
            self.fail(key, "expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD")
        parts = [self.one_date(part.strip(), key) for part in raw_key.split("..")]
        if len(parts) > 2:
            self.fail(key, "a range has two ends: YYYY-MM-DD..YYYY-MM-DD")
        if parts[-1] < parts[0]:
            self.fail(key, "a range must not end before it starts")
        return parts[0], parts[-1]

    def one_date(self, text: str, key: str) -> date:
        try:
            if _DATE.match(text):
                return date.fromisoformat(text)
        except ValueError as exc:
            self.fail(key, f"not a date: {exc}")
        self.fail(key, f"not a date {text!r}: write YYYY-MM-DD (a range: YYYY-MM-DD..YYYY-MM-DD)")
