"""The working-day calendar (DOMAIN.md §2): the 2026 State Council data, the test vectors,
``wd``/``d``/``h`` counting, the Civil Code art. 203 rule for ``d``, and the weekends-only
fallback for a year without data (2027), which is provisional and never raises.

The expected 2026 data is written here by hand from DOMAIN.md §2, never read from the files
under test.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.calendar import (
    CalendarData,
    Deadline,
    WorkingCalendar,
    end_of_day,
    load_calendar_files,
    load_package_data,
)
from workflow.clock import SHANGHAI
from workflow.durations import Duration, parse_duration

CONFIG_CALENDAR = Path(__file__).resolve().parents[3] / "config" / "calendar"


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# DOMAIN.md §2 — 2026 (notice of 2025-11-04)
HOLIDAYS_2026 = [
    *days("2026-01-01", "2026-01-03"),
    *days("2026-02-15", "2026-02-23"),
    *days("2026-04-04", "2026-04-06"),
    *days("2026-05-01", "2026-05-05"),
    *days("2026-06-19", "2026-06-21"),
    *days("2026-09-25", "2026-09-27"),
    *days("2026-10-01", "2026-10-07"),
]
ADJUSTED_WORKDAYS_2026 = [
    date(2026, 1, 4),  # Sunday
    date(2026, 2, 14),  # Saturday
    date(2026, 2, 28),  # Saturday
    date(2026, 5, 9),  # Saturday
    date(2026, 9, 20),  # Sunday
    date(2026, 10, 10),  # Saturday
]
WORKING_DAYS_2026 = 248
"""261 Monday–Fridays, minus 19 holidays on a weekday, plus 6 adjusted working days."""


def d(text: str) -> Duration:
    return parse_duration(text)


@pytest.fixture(scope="module")
def package() -> CalendarData:
    return load_package_data(range(2000, 2100))


@pytest.fixture(scope="module")
def config() -> CalendarData:
    return load_calendar_files(sorted(CONFIG_CALENDAR.glob("*.yaml")))


@pytest.fixture(scope="module")
def shipped(package: CalendarData, config: CalendarData) -> WorkingCalendar:
    """What the app counts on before any admin change: package data, config files over it."""
    return WorkingCalendar(package.replace_years(config))


@pytest.fixture(scope="module", params=["package", "config", "shipped"])
def each_source(
    request: pytest.FixtureRequest, package: CalendarData, config: CalendarData
) -> WorkingCalendar:
    return {
        "package": WorkingCalendar(package),
        "config": WorkingCalendar(config),
        "shipped": WorkingCalendar(package.replace_years(config)),
    }[request.param]


# --- the 2026 data ----------------------------------------------------------------------------


@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_every_2026_holiday_is_not_a_working_day(each_source: WorkingCalendar, day: date) -> None:
    assert not each_source.is_working_day(day)


@pytest.mark.parametrize("day", ADJUSTED_WORKDAYS_2026, ids=str)
def test_every_2026_adjusted_workday_is_a_working_day(
    each_source: WorkingCalendar, day: date
) -> None:
    assert day.weekday() >= 5  # the point of the test: a weekend day that is worked
    assert each_source.is_working_day(day)


def test_the_2026_lists_are_exactly_the_notice(each_source: WorkingCalendar) -> None:
    summary = each_source.year_summary(2026)
    assert summary.known
    assert [day for day, _ in summary.holidays] == HOLIDAYS_2026
    assert [day for day, _ in summary.workdays] == ADJUSTED_WORKDAYS_2026
    assert summary.working_days == WORKING_DAYS_2026
    assert summary.days == 365


def test_config_names_the_holidays_in_chinese(config: CalendarData) -> None:
    assert config.holidays[date(2026, 10, 1)] == "国庆节"
    assert config.holidays[date(2026, 2, 17)] == "春节"
    assert config.workdays[date(2026, 10, 10)] == "国庆节"
    assert config.known_years == frozenset({2026})


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 9, 30), True),  # Wednesday
        (date(2026, 10, 8), True),  # Thursday after National Day
        (date(2026, 10, 11), False),  # Sunday
        (date(2026, 9, 19), False),  # Saturday next to an adjusted Sunday
        (date(2026, 2, 24), True),  # Tuesday after Spring Festival
    ],
    ids=str,
)
def test_ordinary_days(shipped: WorkingCalendar, day: date, working: bool) -> None:
    assert shipped.is_working_day(day) is working


# --- DOMAIN.md §2 test vectors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "due", "provisional"),
    [
        (date(2026, 9, 30), "1wd", date(2026, 10, 8), False),
        (date(2026, 9, 30), "10wd", date(2026, 10, 20), False),  # 10-10 (Saturday) counts
        (date(2026, 2, 12), "5wd", date(2026, 2, 26), False),
        (date(2026, 12, 28), "10wd", date(2027, 1, 11), True),  # into 2027: weekends only
    ],
    ids=lambda v: str(v),
)
def test_domain_vectors(
    shipped: WorkingCalendar, start: date, duration: str, due: date, provisional: bool
) -> None:
    deadline = shipped.add(start, d(duration))
    assert deadline == Deadline(
        due, datetime.combine(due + timedelta(days=1), datetime.min.time(), SHANGHAI), provisional
    )


def test_due_at_is_midnight_shanghai_after_the_last_day(shipped: WorkingCalendar) -> None:
    deadline = shipped.add(date(2026, 9, 30), d("1wd"))
    assert deadline.due_at.utcoffset() == timedelta(hours=8)
    assert deadline.due_at == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)  # 2026-10-09 00:00 +08:00
    assert end_of_day(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_zero_working_days_end_on_the_start_day(shipped: WorkingCalendar) -> None:
    assert shipped.add(date(2026, 9, 30), d("0wd")).due_date == date(2026, 9, 30)


# --- start instants ---------------------------------------------------------------------------


def test_the_start_day_is_the_shanghai_date_of_the_instant(shipped: WorkingCalendar) -> None:
    # 2026-09-29 16:30 UTC is 2026-09-30 00:30 in Shanghai: the start day is the 30th, not the 29th
    deadline = shipped.deadline(datetime(2026, 9, 29, 16, 30, tzinfo=UTC), d("1wd"))
    assert deadline.due_date == date(2026, 10, 8)


def test_a_naive_start_instant_is_refused(shipped: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        shipped.deadline(datetime(2026, 9, 30, 10, 0), d("1wd"))


# --- calendar days and the Civil Code art. 203 rule -----------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (date(2026, 9, 20), "10d", date(2026, 9, 30)),  # a Wednesday: no shift
        (date(2026, 9, 21), "10d", date(2026, 10, 8)),  # 10-01 is a holiday: the day after it ends
        (date(2026, 11, 2), "5d", date(2026, 11, 9)),  # Saturday 11-07: the next Monday
        (date(2026, 9, 30), "10d", date(2026, 10, 10)),  # Saturday 10-10 is a working day: kept
        (date(2026, 9, 1), "15d", date(2026, 9, 16)),  # holidays inside the period do not matter
    ],
    ids=str,
)
def test_calendar_days(shipped: WorkingCalendar, start: date, duration: str, due: date) -> None:
    deadline = shipped.add(start, d(duration))
    assert (deadline.due_date, deadline.provisional) == (due, False)
    assert deadline.due_at == end_of_day(due)


# --- hours ------------------------------------------------------------------------------------


def test_hours_are_added_to_the_instant_whatever_the_calendar(shipped: WorkingCalendar) -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    deadline = shipped.deadline(start, d("24h"))
    assert deadline == Deadline(
        date(2026, 10, 1), datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI), False
    )


def test_the_due_date_of_hours_is_the_shanghai_date(shipped: WorkingCalendar) -> None:
    # 15:00 UTC is 23:00 in Shanghai; two hours later it is 10-01 there and still 09-30 in UTC
    deadline = shipped.deadline(datetime(2026, 9, 30, 15, 0, tzinfo=UTC), d("2h"))
    assert deadline.due_date == date(2026, 10, 1)
    assert deadline.due_at == datetime(2026, 9, 30, 17, 0, tzinfo=UTC)


def test_hours_into_2027_are_not_provisional(shipped: WorkingCalendar) -> None:
    deadline = shipped.deadline(datetime(2026, 12, 31, 20, 0, tzinfo=SHANGHAI), d("10h"))
    assert (deadline.due_date, deadline.provisional) == (date(2027, 1, 1), False)


def test_hours_from_a_bare_date_are_refused(shipped: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="deadline"):
        shipped.add(date(2026, 9, 30), d("24h"))


# --- a year without data: weekends only, provisional, never an error ------------------------------


def test_the_package_has_no_2027_and_loading_it_does_not_raise(package: CalendarData) -> None:
    assert 2026 in package.known_years
    assert 2027 not in package.known_years
    assert load_package_data(range(2025, 2030)).known_years == frozenset({2025, 2026})


def test_2027_falls_back_to_weekends(shipped: WorkingCalendar) -> None:
    assert not shipped.is_known(2027)
    assert shipped.is_working_day(date(2027, 1, 1))  # a Friday; no guessed New Year holiday
    assert not shipped.is_working_day(date(2027, 1, 2))  # Saturday
    summary = shipped.year_summary(2027)
    assert (summary.known, summary.holidays, summary.workdays, summary.working_days) == (
        False,
        (),
        (),
        261,
    )


@pytest.mark.parametrize(
    ("start", "duration", "due", "provisional"),
    [
        (date(2026, 12, 28), "10wd", date(2027, 1, 11), True),
        (date(2026, 12, 20), "15d", date(2027, 1, 4), True),  # last day in 2027
        (date(2026, 12, 24), "10d", date(2027, 1, 4), True),  # 01-03 is a Sunday in the fallback
        (date(2027, 3, 1), "40wd", date(2027, 4, 26), True),
        (date(2026, 12, 30), "1wd", date(2026, 12, 31), False),  # stays in 2026
        (date(2026, 12, 1), "10d", date(2026, 12, 11), False),
        (
            date(2099, 12, 25),
            "30wd",
            date(2100, 2, 5),
            True,
        ),  # a Friday + 6 weeks: far beyond any data
    ],
    ids=str,
)
def test_periods_touching_a_year_without_data(
    shipped: WorkingCalendar, start: date, duration: str, due: date, provisional: bool
) -> None:
    deadline = shipped.add(start, d(duration))
    assert (deadline.due_date, deadline.provisional) == (due, provisional)


def test_once_2027_is_known_the_same_period_is_final(
    package: CalendarData, config: CalendarData
) -> None:
    known = package.replace_years(config).with_days({date(2027, 1, 1): ("holiday", "元旦")})
    deadline = WorkingCalendar(known).add(date(2026, 12, 28), d("10wd"))
    assert (deadline.due_date, deadline.provisional) == (date(2027, 1, 12), False)


# --- working days between two dates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        (date(2026, 9, 30), date(2026, 10, 8), 1),
        (date(2026, 9, 30), date(2026, 10, 20), 10),
        (date(2026, 9, 30), date(2026, 9, 30), 0),
        (date(2026, 10, 8), date(2026, 9, 30), -1),  # overdue by one working day
        (date(2026, 12, 31), date(2027, 1, 4), 2),  # fallback: Friday 01-01 and Monday 01-04
    ],
    ids=str,
)
def test_working_days_between(shipped: WorkingCalendar, a: date, b: date, count: int) -> None:
    assert shipped.working_days_between(a, b) == count


# --- CalendarData -------------------------------------------------------------------------------


def test_a_day_cannot_be_both_holiday_and_workday() -> None:
    with pytest.raises(ValueError, match="both"):
        CalendarData(
            {date(2026, 10, 1): "国庆节"}, {date(2026, 10, 1): "国庆节"}, frozenset({2026})
        )


def test_entries_must_lie_in_known_years() -> None:
    with pytest.raises(ValueError, match="2027"):
        CalendarData({date(2027, 1, 1): "元旦"}, {}, frozenset({2026}))


def test_a_file_replaces_the_whole_year_of_the_package() -> None:
    base = CalendarData(
        {date(2026, 3, 2): "错误数据", date(2025, 1, 1): "元旦"}, {}, frozenset({2025, 2026})
    )
    file = CalendarData(
        {date(2026, 10, 1): "国庆节"}, {date(2026, 10, 10): "国庆节"}, frozenset({2026})
    )
    merged = base.replace_years(file)
    assert merged.holidays == {date(2025, 1, 1): "元旦", date(2026, 10, 1): "国庆节"}
    assert merged.workdays == {date(2026, 10, 10): "国庆节"}
    assert merged.known_years == frozenset({2025, 2026})


def test_a_day_entry_changes_its_kind_and_makes_its_year_known() -> None:
    base = CalendarData({date(2026, 10, 1): "国庆节"}, {}, frozenset({2026}))
    changed = base.with_days(
        {date(2026, 10, 1): ("workday", "更正"), date(2027, 2, 6): ("holiday", "春节")}
    )
    assert changed.workdays == {date(2026, 10, 1): "更正"}
    assert changed.holidays == {date(2027, 2, 6): "春节"}
    assert changed.known_years == frozenset({2026, 2027})
    assert changed.kind_of(date(2026, 10, 1)) == ("workday", "更正")
    assert changed.kind_of(date(2026, 10, 2)) is None


# --- property: N working days ---------------------------------------------------------------------


@settings(max_examples=300)
@given(start=st.dates(date(2025, 1, 1), date(2026, 12, 31)), amount=st.integers(1, 40))
def test_n_working_days_end_on_the_nth_working_day(start: date, amount: int) -> None:
    calendar = _SHIPPED_FOR_PROPERTY
    due = calendar.add(start, Duration(amount, "wd")).due_date
    assert calendar.is_working_day(due)
    counted = [start + timedelta(days=n) for n in range(1, (due - start).days + 1)]
    assert sum(calendar.is_working_day(day) for day in counted) == amount


_SHIPPED_FOR_PROPERTY = WorkingCalendar(
    load_package_data(range(2000, 2100)).replace_years(
        load_calendar_files(sorted(CONFIG_CALENDAR.glob("*.yaml")))
    )
)
"""Hypothesis does not mix with function-scoped fixtures; the same composition as ``shipped``."""
