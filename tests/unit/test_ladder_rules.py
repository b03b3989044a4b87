"""Unit tests of the pure supervision-ladder and deadline rules (``workflow.ladder``,
``workflow.deadlines``): the ladder machine's table, when each level falls due, what a
catch-up sweep does, and which clock runs after each kind of decision.

The calendar is built here by hand from DOMAIN.md §2 (2026 data), not from the package.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from workflow import ladder
from workflow.calendar import CalendarData, WorkingCalendar
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.deadlines import CLEAR, KEEP, START, ClockBasis, compute, plan_clock
from workflow.durations import parse_duration
from workflow.errors import GuardFailed
from workflow.loader import load_workflows
from workflow.org import load_organisation
from workflow.spec import LadderStep

CONFIG = Path(__file__).resolve().parents[2] / "config"
LEVELS = ["normal", "warned", "overdue", "supervised", "listed"]
TRIGGERS = {"warn": "warned", "mark_overdue": "overdue", "supervise": "supervised", "list": "listed"}


def _span(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=n) for n in range((b - a).days + 1)]


HOLIDAYS = {
    d: "节假日"
    for first, last in [
        ("2026-01-01", "2026-01-03"), ("2026-02-15", "2026-02-23"), ("2026-04-04", "2026-04-06"),
        ("2026-05-01", "2026-05-05"), ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"),
        ("2026-10-01", "2026-10-07"),
    ]  # fmt: skip
    for d in _span(first, last)
}
WORKDAYS = {date.fromisoformat(d): "调休" for d in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10")}
CALENDAR = WorkingCalendar(CalendarData(HOLIDAYS, WORKDAYS, frozenset({2026})))
DEFAULT_LADDER = (
    LadderStep("warned", at="due_day_start"),
    LadderStep("overdue", at="due_at"),
    LadderStep("supervised", after_due=parse_duration("3wd")),
    LadderStep("listed", after_due=parse_duration("5wd")),
)


def sh(y: int, m: int, d: int, hh: int = 0) -> datetime:
    return datetime(y, m, d, hh, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)


# --- the ladder machine --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_every_trigger_only_raises_the_level(level, trigger):
    target = TRIGGERS[trigger]
    if LEVELS.index(target) > LEVELS.index(level):
        assert ladder.fire(level, trigger) == target
    else:
        with pytest.raises(GuardFailed) as refused:
            ladder.fire(level, trigger)
        assert refused.value.guard == "ladder_raise"
        assert ladder.LEVEL_LABELS[level] in refused.value.message


@pytest.mark.parametrize("level", LEVELS)
def test_reset_brings_every_level_back_to_normal(level):
    assert ladder.fire(level, "reset") == "normal"


def test_level_names_labels_and_colours_are_the_domain_s():
    assert tuple(LEVELS) == ladder.LEVELS
    assert ladder.LEVEL_LABELS == {"normal": "正常", "warned": "临期预警", "overdue": "逾期催办", "supervised": "督办", "listed": "挂牌督办"}
    assert [ladder.LEVEL_COLOURS[lv] for lv in LEVELS[1:]] == ["蓝", "黄", "橙", "红"]
    assert {v: k for k, v in TRIGGERS.items()} == ladder.TRIGGER_OF
    assert ladder.MANUAL_TRIGGERS == ("supervise", "list")
    assert [ladder.rank(lv) for lv in LEVELS] == [0, 1, 2, 3, 4]


# --- when each level falls due ---------------------------------------------------------------------------


def test_moments_of_the_default_ladder_over_the_national_day_holiday():
    due = date(2026, 10, 8)
    moments = ladder.moments(DEFAULT_LADDER, due, end_of(due), CALENDAR)
    assert [(m.level, m.at) for m in moments] == [
        ("warned", sh(2026, 10, 8)),
        ("overdue", sh(2026, 10, 9)),
        ("supervised", sh(2026, 10, 13)),  # 10-09, Sat 10-10 (调休上班), 10-12
        ("listed", sh(2026, 10, 15)),  # 10-13, 10-14
    ]


def test_moments_skip_a_holiday_after_the_due_date():
    due = date(2026, 9, 30)  # the National Day holiday follows
    at = {m.level: m.at for m in ladder.moments(DEFAULT_LADDER, due, end_of(due), CALENDAR)}
    assert at["overdue"] == sh(2026, 10, 1)
    assert at["supervised"] == sh(2026, 10, 11)  # 10-08, 10-09, 10-10
    assert at["listed"] == sh(2026, 10, 14)  # 10-12, 10-13


def test_moments_are_in_ladder_order_whatever_the_definition_order():
    steps = tuple(reversed(DEFAULT_LADDER))
    due = date(2026, 11, 20)
    assert [m.level for m in ladder.moments(steps, due, end_of(due), CALENDAR)] == LEVELS[1:]


def test_moments_in_hours_count_from_due_at():
    steps = (LadderStep("overdue", at="due_at"), LadderStep("supervised", after_due=parse_duration("36h")))
    due = date(2026, 11, 20)
    at = {m.level: m.at for m in ladder.moments(steps, due, end_of(due), CALENDAR)}
    assert at == {"overdue": sh(2026, 11, 21), "supervised": sh(2026, 11, 22, 12)}


def test_moments_in_an_unknown_year_count_weekends_only():
    due = date(2026, 12, 31)
    at = {m.level: m.at for m in ladder.moments(DEFAULT_LADDER, due, end_of(due), CALENDAR)}
    assert at["supervised"] == sh(2027, 1, 6)  # Fri 01-01 counts: no 2027 data
    assert at["listed"] == sh(2027, 1, 8)


SCHEDULE = ladder.moments(DEFAULT_LADDER, date(2026, 10, 8), sh(2026, 10, 9), CALENDAR)


@pytest.mark.parametrize(
    "level, now, expected",
    [
        ("normal", sh(2026, 10, 7, 23), []),
        ("normal", sh(2026, 10, 8), ["warned"]),  # the boundary itself is due
        ("normal", sh(2026, 10, 9), ["warned", "overdue"]),
        ("normal", sh(2026, 11, 30), ["warned", "overdue", "supervised", "listed"]),  # downtime
        ("warned", sh(2026, 11, 30), ["overdue", "supervised", "listed"]),
        ("supervised", sh(2026, 10, 14), []),  # raised by hand: nothing below it fires
        ("supervised", sh(2026, 10, 15), ["listed"]),
        ("listed", sh(2027, 6, 1), []),
    ],
)
def test_due_steps_are_the_levels_above_whose_moment_has_come(level, now, expected):
    assert [m.level for m in ladder.due_steps(level, SCHEDULE, now)] == expected


@pytest.mark.parametrize(
    "level, expected",
    [("normal", sh(2026, 10, 8)), ("warned", sh(2026, 10, 9)), ("overdue", sh(2026, 10, 13)), ("supervised", sh(2026, 10, 15)), ("listed", None)],
)
def test_next_check_is_the_earliest_moment_above_the_level(level, expected):
    assert ladder.next_check(level, SCHEDULE) == expected


@pytest.mark.parametrize(
    "level, expected",
    [("normal", sh(2026, 10, 8)), ("warned", sh(2026, 10, 9)), ("supervised", sh(2026, 10, 9)),
     ("listed", sh(2026, 10, 9))],
)  # fmt: skip
def test_next_check_keeps_the_overdue_moment_a_raise_by_hand_jumped_over(level, expected):
    assert ladder.next_check(level, SCHEDULE, overdue_unrecorded=True) == expected


@pytest.mark.parametrize(
    "from_level, to_level, skips",
    [("normal", "supervised", True), ("warned", "listed", True), ("normal", "listed", True),
     ("overdue", "supervised", False), ("supervised", "listed", False), ("normal", "warned", False),
     ("warned", "overdue", False)],
)  # fmt: skip
def test_a_raise_skips_overdue_only_when_it_jumps_over_it(from_level, to_level, skips):
    assert ladder.skips_overdue(from_level, to_level) is skips


def test_the_overdue_moment_is_due_at():
    assert ladder.overdue_moment(SCHEDULE) == ladder.Moment("overdue", sh(2026, 10, 9))
    assert ladder.overdue_moment([m for m in SCHEDULE if m.level != "overdue"]) is None


def test_catching_up_fires_each_level_once_in_order():
    level, fired = "normal", []
    for moment in ladder.due_steps(level, SCHEDULE, sh(2026, 12, 1)):
        level = ladder.fire(level, ladder.TRIGGER_OF[moment.level])
        fired.append(level)
    assert fired == LEVELS[1:]
    assert ladder.due_steps(level, SCHEDULE, sh(2026, 12, 1)) == []
    assert ladder.next_check(level, SCHEDULE) is None


# --- which clock runs after a decision ---------------------------------------------------------------------

ORG = load_organisation(CONFIG / "departments.yaml")
SPECS = load_workflows(CONFIG / "workflows", ORG)
ENTERPRISE, SITE = SPECS["enterprise_issue"], SPECS["scattered_polluting"]
NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
ASSIGNED_AT = "2026-09-30T02:00:00+00:00"


def draft(state: str, **flags) -> CaseDraft:
    return CaseDraft("enterprise_issue", "QY-2026-00001", state, fields={"class": "simple", "lead_unit": "power"}, flags=dict(flags))


RUNNING = {"clock": ClockBasis(ASSIGNED_AT, "5wd", "in_progress").to_dict(), "due_date": "2026-10-13", "assigned_at": ASSIGNED_AT}


@pytest.mark.parametrize(
    "from_state, to_state, internal, signals, action, basis",
    [
        ("registered", "assigned", False, ["clock:handling:start"], START, ClockBasis(NOW.isoformat(), "1wd", "assigned")),
        ("assigned", "in_progress", False, [], START, ClockBasis(ASSIGNED_AT, "5wd", "in_progress")),
        ("in_progress", "extension_requested", False, [], KEEP, None),
        ("extension_requested", "in_progress", False, [], KEEP, None),  # refused: the clock ran on
        ("extension_requested", "in_progress", False, ["clock:extend:3wd"], START,
         ClockBasis("2026-10-13", "3wd", "in_progress", extends=ClockBasis(ASSIGNED_AT, "5wd", "in_progress"))),
        ("in_progress", "answered", False, [], START, ClockBasis(NOW.isoformat(), "2wd", "answered")),
        ("answered", "in_progress", False, ["clock:restart:5wd"], START, ClockBasis(NOW.isoformat(), "5wd", "in_progress")),
        ("follow_up", "in_progress", False, ["clock:restart:5wd", "raised_to_convenors"], START, ClockBasis(NOW.isoformat(), "5wd", "in_progress")),
        ("in_progress", "in_progress", True, [], KEEP, None),  # co_feedback
        ("follow_up", "closed", False, [], CLEAR, None),
        ("registered", "not_accepted", False, [], CLEAR, None),
    ],
)
def test_plan_clock_for_enterprise_decisions(from_state, to_state, internal, signals, action, basis):
    case = draft(to_state, **RUNNING)
    plan = plan_clock(ENTERPRISE, case, from_state, to_state, internal, signals, NOW)
    assert plan.action == action
    assert plan.basis == basis


def test_handling_clock_without_an_assignment_counts_from_now():
    plan = plan_clock(ENTERPRISE, draft("in_progress"), "assigned", "in_progress", False, [], NOW)
    assert plan.basis == ClockBasis(NOW.isoformat(), "5wd", "in_progress")


def test_site_clocks_fixed_dates_and_the_scheduled_revisit():
    site = CaseDraft("scattered_polluting", "SLW-2026-00001", "rectifying", fields={"deadline": "2026-11-20"})
    assert plan_clock(SITE, site, "verifying", "rectifying", False, [], NOW).basis == ClockBasis("2026-11-20", None, "rectifying")
    site.fields.pop("deadline")
    assert plan_clock(SITE, site, "verifying", "rectifying", False, [], NOW).basis == ClockBasis(NOW.isoformat(), "30d", "rectifying")
    closed = plan_clock(SITE, site, "acceptance", "closed", False, [], NOW)
    assert closed.basis == ClockBasis(NOW.isoformat(), "30d", "closed", on_expiry="revisit")
    assert plan_clock(SITE, site, "revisit_due", "archived", False, [], NOW).action == CLEAR


@pytest.mark.parametrize(
    "basis, due_date, due_at, provisional",
    [
        (ClockBasis("2026-09-30T02:00:00+00:00", "1wd", "registered"), date(2026, 10, 8), sh(2026, 10, 9), False),
        # 10-09 00:30 in Shanghai (still 10-08 in UTC): + 1wd is Saturday 10-10, an adjusted working day
        (ClockBasis("2026-10-08T16:30:00+00:00", "1wd", "registered"), date(2026, 10, 10), sh(2026, 10, 11), False),
        (ClockBasis("2026-09-30T02:00:00+00:00", "10wd", "in_progress"), date(2026, 10, 20), sh(2026, 10, 21), False),
        (ClockBasis("2026-02-12", "5wd", "in_progress"), date(2026, 2, 26), sh(2026, 2, 27), False),
        (ClockBasis("2026-09-17T02:00:00+00:00", "15d", "clearing"), date(2026, 10, 8), sh(2026, 10, 9), False),
        (ClockBasis("2026-11-21", None, "rectifying"), date(2026, 11, 21), sh(2026, 11, 22), False),
        (ClockBasis("2027-02-01", None, "rectifying"), date(2027, 2, 1), sh(2027, 2, 2), True),
        (ClockBasis("2026-12-28T02:00:00+00:00", "10wd", "in_progress"), date(2027, 1, 11), sh(2027, 1, 12), True),
        (ClockBasis("2026-10-12T02:00:00+00:00", "24h", "x"), date(2026, 10, 13), sh(2026, 10, 13, 10), False),
    ],
)
def test_compute_a_basis(basis, due_date, due_at, provisional):
    deadline = compute(basis, CALENDAR)
    assert (deadline.due_date, deadline.due_at, deadline.provisional) == (due_date, due_at, provisional)


def test_clock_basis_round_trips_through_its_stored_form():
    basis = ClockBasis("2026-10-13", "3wd", "in_progress", "ladder")
    assert ClockBasis.from_dict(basis.to_dict()) == basis
    assert "extends" not in basis.to_dict()
    assert ClockBasis.from_dict({"start": "2026-10-13", "state": "closed"}) == ClockBasis("2026-10-13", None, "closed", "ladder")
    twice = ClockBasis("2026-10-16", "2wd", "in_progress", extends=ClockBasis("2026-10-13", "3wd", "in_progress", extends=basis))
    assert ClockBasis.from_dict(twice.to_dict()) == twice


def test_a_second_extension_counts_from_the_first_extended_deadline():
    handling = ClockBasis(ASSIGNED_AT, "5wd", "in_progress")  # 2026-10-13
    case = draft("extension_requested", **RUNNING)
    first = plan_clock(ENTERPRISE, case, "extension_requested", "in_progress", False, ["clock:extend:3wd"], NOW).basis
    assert first is not None and compute(first, CALENDAR).due_date == date(2026, 10, 16)
    case = draft("extension_requested", clock=first.to_dict(), due_date="2026-10-16", assigned_at=ASSIGNED_AT)
    second = plan_clock(ENTERPRISE, case, "extension_requested", "in_progress", False, ["clock:extend:2wd"], NOW).basis
    assert second == ClockBasis("2026-10-16", "2wd", "in_progress", extends=first)
    assert second.extends is not None and second.extends.extends == handling
    assert compute(second, CALENDAR).due_date == date(2026, 10, 20)


def test_an_extension_is_recounted_from_its_recounted_base():
    """A base deadline counted on the weekends-only fallback moves when the year's data arrives,
    and the extension moves with it (the stored ``start`` is not used as a fixed day)."""
    base = ClockBasis("2026-12-28T02:00:00+00:00", "10wd", "in_progress")  # 2027-01-11 on the fallback
    extended = ClockBasis("2027-01-11", "3wd", "in_progress", extends=base)
    assert (compute(extended, CALENDAR).due_date, compute(extended, CALENDAR).provisional) == (date(2027, 1, 14), True)
    known = WorkingCalendar(CalendarData({**HOLIDAYS, date(2027, 1, 1): "元旦"}, WORKDAYS, frozenset({2026, 2027})))
    assert compute(base, known).due_date == date(2027, 1, 12)
    deadline = compute(extended, known)
    assert (deadline.due_date, deadline.due_at, deadline.provisional) == (date(2027, 1, 15), sh(2027, 1, 16), False)
    # a basis stored before extensions kept their base still counts from its fixed start
    assert compute(ClockBasis("2027-01-11", "3wd", "in_progress"), known).due_date == date(2027, 1, 14)
