"""Frozen-clock walks of both workflows through their deadlines and every supervision level, on
SQLite and PostgreSQL (DOMAIN.md §2–§5).

Time moves only through the app's ``FixedClock``. Expected dates come from a small reference
calendar written here from DOMAIN.md §2 (the 2026 State Council notice), not from the product's
calendar, and are checked against the test vectors of §2 first. At every ladder moment the walk
sweeps one second before (nothing may happen), at the moment (exactly one event: the trigger,
actor ``system``) and again at the same instant (nothing more).
"""

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from helpers import (
    START,
    new_enterprise_case,
    new_site_case,
    photo,
    walk_enterprise_to,
    walk_site_to,
)
from sqlalchemy import select

from cases.models import Case, LadderStep
from workflow.clock import SHANGHAI
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied

# --- a reference calendar from DOMAIN.md §2 ---------------------------------------------------------

_HOLIDAY_RANGES_2026 = [
    ("01-01", "01-03"), ("02-15", "02-23"), ("04-04", "04-06"), ("05-01", "05-05"),
    ("06-19", "06-21"), ("09-25", "09-27"), ("10-01", "10-07"),
]  # fmt: skip
HOLIDAYS_2026 = {
    date(2026, 1, 1) + timedelta(days=n)
    for first, last in _HOLIDAY_RANGES_2026
    for n in range((date.fromisoformat(f"2026-{last}") - date(2026, 1, 1)).days + 1)
    if date(2026, 1, 1) + timedelta(days=n) >= date.fromisoformat(f"2026-{first}")
}
WORKDAYS_2026 = {
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
}


def is_working(day: date) -> bool:
    if day.year == 2026 and day in HOLIDAYS_2026:
        return False
    if day.year == 2026 and day in WORKDAYS_2026:
        return True
    return day.weekday() < 5


def add_wd(start: date, amount: int) -> date:
    day, counted = start, 0
    while counted < amount:
        day += timedelta(days=1)
        counted += is_working(day)
    return day


def add_days(start: date, amount: int) -> date:
    """Calendar days; a last day that is a rest day moves to the next working day (art. 203)."""
    day = start + timedelta(days=amount)
    while not is_working(day):
        day += timedelta(days=1)
    return day


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)


LADDER = [
    ("warned", "warn"),
    ("overdue", "mark_overdue"),
    ("supervised", "supervise"),
    ("listed", "list"),
]


def moments(due: date) -> dict[str, datetime]:
    """DOMAIN.md §5: start of the due day, due_at, due_at + 3wd, due_at + 5wd."""
    return {
        "warned": datetime.combine(due, datetime.min.time(), SHANGHAI),
        "overdue": end_of(due),
        "supervised": end_of(add_wd(due, 3)),
        "listed": end_of(add_wd(due, 5)),
    }


def test_reference_calendar_meets_the_domain_vectors():
    assert len(HOLIDAYS_2026) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert add_wd(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_wd(date(2026, 9, 30), 10) == date(2026, 10, 20)
    assert add_wd(date(2026, 2, 12), 5) == date(2026, 2, 26)


# --- reading what the sweep and the services did -------------------------------------------------------

ANSWER = {"result": "resolved", "reply": "已协调完成增容", "signed_by": "王局长"}


def case_row(app, number: str) -> Any:
    with app.db.read() as conn:
        return conn.execute(select(Case.__table__).where(Case.__table__.c.number == number)).one()


def ladder_rows(app, number: str) -> list[tuple[int, str, str]]:
    """(deadline_seq, level, actor) of every ladder_step row of the case, in insertion order."""
    steps, cases = LadderStep.__table__, Case.__table__
    with app.db.read() as conn:
        rows = conn.execute(
            select(steps.c.deadline_seq, steps.c.level, steps.c.actor)
            .join(cases, cases.c.id == steps.c.case_id)
            .where(cases.c.number == number)
            .order_by(steps.c.id)
        ).all()
    return [tuple(r) for r in rows]


def ladder_rank(level: str) -> int:
    return ["normal", "warned", "overdue", "supervised", "listed"].index(level)


def sweep_at(app, at: datetime, number: str, *, obligations: bool = False) -> list[Any]:
    """Sweep at ``at``; the steps the report lists for this case's clock (and, with
    ``obligations``, those of its obligations' own ladders: the office's extension ruling …)."""
    app.clock.set(at)
    report = app.sweeper.sweep()
    assert report.now == at
    return [s for s in report.steps if s.case == number and (obligations or s.obligation is None)]


class LadderWalk:
    """Sweeps one case at chosen instants and checks each step against its history."""

    def __init__(self, app, number: str) -> None:
        self.app = app
        self.number = number
        self.history = app.cases.history(number)

    def quiet(self, at: datetime) -> None:
        """A sweep at ``at`` does nothing to this case."""
        before = self.app.cases.show(self.number)
        assert sweep_at(self.app, at, self.number) == [], f"nothing is due at {at}"
        history = self.app.cases.history(self.number)
        clock_events = [e for e in history if "obligation" not in e["payload"]]  # items' own ladders aside
        assert clock_events == [e for e in self.history if "obligation" not in e["payload"]]
        own = len(history) - len(self.history)  # steps of obligations with deadlines of their own
        assert self.app.cases.show(self.number)["version"] == before["version"] + own
        self.history = history

    def step(
        self, at: datetime, trigger: str, level: str, state: str, due: date, seq: int
    ) -> dict[str, Any]:
        """A sweep at ``at`` performs exactly this one step, as ``system``."""
        steps = sweep_at(self.app, at, self.number)
        assert [(s.action, s.level, s.to_state) for s in steps] == [(trigger, level, state)], at
        assert steps[0].scheduled_for == at
        history = self.app.cases.history(self.number)
        clock_events = [e for e in history if "obligation" not in e["payload"]]  # not an obligation's own ladder
        assert len(clock_events) == len([e for e in self.history if "obligation" not in e["payload"]]) + 1, (
            "exactly one event per step"
        )
        event = clock_events[-1]
        assert event["trigger"] == trigger and event["actor"] == "system"
        assert event["from_state"] == event["to_state"] == state
        assert event["at"] == at.isoformat()
        assert event["payload"]["level"] == level
        assert event["payload"]["deadline_seq"] == seq
        assert event["payload"]["due_date"] == due.isoformat()
        assert datetime.fromisoformat(event["payload"]["scheduled_for"]) == at
        assert event["prev_hash"] == history[history.index(event) - 1]["hash"]
        self.history = history
        case = self.app.cases.show(self.number)
        assert case["clock_supervision"] == level  # the case's own clock (its items have ladders of their own)
        assert ladder_rank(case["supervision"]) >= ladder_rank(level)
        return case

    def climb(
        self,
        due: date,
        state: str,
        levels: tuple[str, ...] = ("warned", "overdue", "supervised", "listed"),
    ) -> None:
        """The given levels of the ladder, each at its moment, once; after ``listed`` nothing
        more ever falls due (checked 60 days later)."""
        seq = case_row(self.app, self.number).deadline_seq
        before_rows = ladder_rows(self.app, self.number)
        at = moments(due)
        done: list[str] = []
        for level, trigger in LADDER:
            if level not in levels:
                continue
            self.quiet(at[level] - timedelta(seconds=1))
            self.step(at[level], trigger, level, state, due, seq)
            self.quiet(at[level])
            done.append(level)
            assert ladder_rows(self.app, self.number) == before_rows + [
                (seq, lv, "system") for lv in done
            ]
            above = [at[lv] for lv, _ in LADDER[[lv for lv, _ in LADDER].index(level) + 1 :]]
            assert case_row(self.app, self.number).next_check_at == (min(above) if above else None)
        if "listed" in levels:
            self.quiet(at["listed"] + timedelta(days=60))


def assert_deadline(case: dict[str, Any], due: date, level: str = "normal") -> None:
    assert case["due_date"] == due.isoformat()
    assert case["due_at"] == end_of(due).isoformat()
    assert case["due_at"].endswith("+08:00")
    assert case["due_provisional"] is False
    assert case["supervision"] == level


# --- enterprise problems ---------------------------------------------------------------------------------


def test_registered_problem_climbs_every_level_once(app, actors):
    case = new_enterprise_case(app)
    assert case["created_at"] == "2026-09-30T10:00:00+08:00"
    assert_deadline(case, date(2026, 10, 8))  # 1wd over the National Day holiday
    assert app.cases.history(case["number"])[0]["payload"]["deadline"] == {
        "due_date": "2026-10-08", "due_at": "2026-10-09T00:00:00+08:00", "provisional": False,
    }  # fmt: skip
    assert case_row(app, case["number"]).next_check_at == sh(2026, 10, 8)
    walk = LadderWalk(app, case["number"])
    # 2026-10-08 Thu: warned; 10-09 00:00 overdue; +3wd counts Sat 10-10 (调休上班): 10-09, 10-10, 10-12
    assert moments(date(2026, 10, 8))["supervised"] == sh(2026, 10, 13)
    assert moments(date(2026, 10, 8))["listed"] == sh(2026, 10, 15)
    walk.climb(date(2026, 10, 8), "registered")
    case = app.cases.show(case["number"])
    assert case["supervision"] == "listed" and case["state"] == "registered"
    assert [e["trigger"] for e in app.cases.history(case["number"])] == [
        "create",
        "warn",
        "mark_overdue",
        "supervise",
        "list",
    ]


def test_assigned_problem_climbs_every_level_once(app, actors):
    number = new_enterprise_case(app)["number"]
    case = app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
    assert case["state"] == "assigned"
    assert_deadline(case, date(2026, 10, 8))
    LadderWalk(app, number).climb(date(2026, 10, 8), "assigned")


@pytest.mark.parametrize(
    "klass, due",
    [
        ("simple", date(2026, 10, 13)),
        ("general", date(2026, 10, 20)),
        ("complex", date(2026, 11, 3)),
    ],
)
def test_handling_deadline_counts_from_assignment_by_class(app, actors, klass, due):
    assert add_wd(date(2026, 9, 30), {"simple": 5, "general": 10, "complex": 20}[klass]) == due
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power", "class": klass})
    seq_assigned = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 8, 15))  # accepted a week later: still counted from 2026-09-30
    case = app.cases.advance(number, "accept", actors.power)
    assert case["state"] == "in_progress"
    assert_deadline(case, due)
    assert case_row(app, number).deadline_seq == seq_assigned + 1
    LadderWalk(app, number).climb(due, "in_progress")


def test_class_given_at_registration_picks_the_handling_deadline(app, actors):
    number = new_enterprise_case(app, **{"class": "complex"})["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
    case = app.cases.advance(number, "accept", actors.power)
    assert_deadline(case, date(2026, 11, 3))


def test_answered_and_follow_up_climb_on_their_own_two_day_clocks(app, actors):
    number = new_enterprise_case(app)["number"]
    case = walk_enterprise_to(app, number, "answered")
    assert_deadline(case, add_wd(date(2026, 9, 30), 2))
    assert case["due_date"] == "2026-10-09"
    LadderWalk(app, number).climb(date(2026, 10, 9), "answered")

    app.clock.set(sh(2026, 12, 17, 9))  # after the climb's last check (listed + 60 days)
    case = app.cases.advance(number, "approve_answer", actors.dispatcher)
    assert case["state"] == "follow_up"
    assert_deadline(case, date(2026, 12, 21))  # Thu 12-17 + 2wd: Fri 18, Mon 21; ladder from normal
    LadderWalk(app, number).climb(date(2026, 12, 21), "follow_up")


def test_answer_starts_a_new_clock_and_resets_the_ladder(app, actors):
    number = new_enterprise_case(app)["number"]
    app.cases.advance(
        number, "assign", actors.dispatcher, {"lead_unit": "power", "class": "simple"}
    )
    app.cases.advance(number, "accept", actors.power)
    walk = LadderWalk(app, number)
    seq = case_row(app, number).deadline_seq
    walk.step(sh(2026, 10, 13), "warn", "warned", "in_progress", date(2026, 10, 13), seq)
    walk.step(sh(2026, 10, 14), "mark_overdue", "overdue", "in_progress", date(2026, 10, 13), seq)

    app.clock.set(sh(2026, 10, 14, 10))
    case = app.cases.advance(number, "answer", actors.power, ANSWER)
    assert case["state"] == "answered"
    assert_deadline(case, date(2026, 10, 16))  # 2wd from 10-14
    row = case_row(app, number)
    assert (row.deadline_seq, row.ladder_level, row.next_check_at) == (
        seq + 1,
        "normal",
        sh(2026, 10, 16),
    )
    assert row.flags["ever_overdue"] is True  # statistics keep it after the reset
    event = app.cases.history(number)[-1]
    assert event["payload"]["deadline"]["ladder_reset_from"] == "overdue"
    assert event["payload"]["deadline"]["due_date"] == "2026-10-16"
    # the old deadline's steps stay recorded; the new one climbs from the start
    assert ladder_rows(app, number) == [(seq, "warned", "system"), (seq, "overdue", "system")]
    LadderWalk(app, number).climb(date(2026, 10, 16), "answered")
    assert [r[:2] for r in ladder_rows(app, number)][2:] == [(seq + 1, lv) for lv, _ in LADDER]


def test_send_back_gives_five_working_days_from_now(app, actors):
    number = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, number, "answered")
    sweep_at(app, sh(2026, 10, 10, 1), number)  # answered due 10-09: warned and overdue
    assert app.cases.show(number)["supervision"] == "overdue"
    seq = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 15, 10))
    case = app.cases.advance(number, "send_back", actors.dispatcher, {"reason": "答复不完整"})
    assert case["state"] == "in_progress"
    assert_deadline(case, date(2026, 10, 22))  # 10-16, 19, 20, 21, 22
    assert case_row(app, number).deadline_seq == seq + 1
    LadderWalk(app, number).climb(date(2026, 10, 22), "in_progress")


def test_reopen_gives_five_working_days_and_the_second_reopen_raises_to_convenors(app, actors):
    number = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, number, "follow_up")
    seq = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 9, 16))
    case = app.cases.advance(
        number, "reopen", actors.dispatcher, {"satisfaction": "不满意", "reason": "仍未通电"}
    )
    assert case["state"] == "in_progress" and case["counters"]["reopen_count"] == 1
    assert case["raised_to_convenors"] is None
    assert_deadline(case, date(2026, 10, 15))  # Sat 10-10 (调休上班), 12, 13, 14, 15
    assert add_wd(date(2026, 10, 9), 5) == date(2026, 10, 15)
    assert case_row(app, number).deadline_seq == seq + 1
    LadderWalk(app, number).climb(date(2026, 10, 15), "in_progress", ("warned", "overdue"))
    app.clock.set(sh(2026, 10, 21, 9))
    app.cases.advance(number, "answer", actors.power, ANSWER)
    app.cases.advance(number, "approve_answer", actors.dispatcher)
    seq = case_row(app, number).deadline_seq
    case = app.cases.advance(
        number,
        "reopen",
        actors.dispatcher,
        {"satisfaction": "非常不满意", "reason": "企业再次反映"},
    )
    assert case["counters"]["reopen_count"] == 2
    assert case["raised_to_convenors"] == sh(2026, 10, 21, 9).isoformat()  # shown in Asia/Shanghai
    assert_deadline(case, date(2026, 10, 28))  # Wed 10-21 + 5wd
    assert case_row(app, number).deadline_seq == seq + 1


# --- extensions ----------------------------------------------------------------------------------------------


def _in_progress_simple(app, actors) -> str:
    number = new_enterprise_case(app)["number"]
    app.cases.advance(
        number, "assign", actors.dispatcher, {"lead_unit": "power", "class": "simple"}
    )
    app.cases.advance(number, "accept", actors.power)
    return number  # due 2026-10-13


@pytest.mark.parametrize(
    "requested, granted, due",
    [(3, 3, date(2026, 10, 16)), (5, 2, date(2026, 10, 15)), (15, 15, date(2026, 11, 3))],
)
def test_approved_extension_moves_the_handling_deadline_by_the_granted_days(
    app, actors, requested, granted, due
):
    number = _in_progress_simple(app, actors)
    seq = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 12, 10))
    case = app.cases.advance(
        number, "request_extension", actors.power, {"reason": "需上级审批", "days": requested}
    )
    assert case["state"] == "extension_requested"
    assert_deadline(case, date(2026, 10, 13))  # the handling deadline keeps running
    assert case_row(app, number).deadline_seq == seq
    app.clock.set(sh(2026, 10, 12, 11))
    case = app.cases.advance(number, "approve_extension", actors.dispatcher, {"days": granted})
    assert case["state"] == "in_progress"
    assert case["counters"]["extension_days"] == granted
    assert_deadline(case, due)
    assert due == add_wd(date(2026, 10, 13), granted)
    assert case_row(app, number).deadline_seq == seq + 1
    LadderWalk(app, number).climb(due, "in_progress")


def test_rejected_extension_keeps_the_deadline_and_the_ladder(app, actors):
    number = _in_progress_simple(app, actors)
    walk = LadderWalk(app, number)
    seq = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 12, 10))
    app.cases.advance(
        number, "request_extension", actors.power, {"reason": "需上级审批", "days": 3}
    )
    steps = sweep_at(app, sh(2026, 10, 13), number, obligations=True)
    # the handling deadline's warning, and the office's own: its ruling (延期审批, 1wd) is due today
    assert [(s.action, s.level, s.obligation) for s in steps] == [
        ("warn", "warned", None), ("warn", "warned", "rule_extension@sti")
    ]
    history = app.cases.history(number)
    assert history[-2]["payload"]["due_date"] == "2026-10-13" and "obligation" not in history[-2]["payload"]
    assert (history[-1]["payload"]["obligation"], history[-1]["payload"]["obligation_unit"]) == ("rule_extension", "sti")
    app.clock.set(sh(2026, 10, 13, 9))
    case = app.cases.advance(
        number, "reject_extension", actors.dispatcher, {"reason": "理由不充分"}
    )
    assert case["state"] == "in_progress"
    assert_deadline(case, date(2026, 10, 13), level="warned")
    row = case_row(app, number)
    assert (row.deadline_seq, row.next_check_at) == (seq, sh(2026, 10, 14))
    walk.history = app.cases.history(number)
    walk.climb(date(2026, 10, 13), "in_progress", ("overdue", "supervised", "listed"))
    assert [lv for s, lv, _ in ladder_rows(app, number) if s == seq] == [
        "warned",
        "overdue",
        "supervised",
        "listed",
    ]


def test_pending_extension_request_does_not_stop_the_ladder(app, actors):
    number = _in_progress_simple(app, actors)
    seq = case_row(app, number).deadline_seq
    app.clock.set(sh(2026, 10, 12, 10))
    app.cases.advance(
        number, "request_extension", actors.power, {"reason": "需上级审批", "days": 5}
    )
    walk = LadderWalk(app, number)
    walk.step(sh(2026, 10, 13), "warn", "warned", "extension_requested", date(2026, 10, 13), seq)
    walk.step(
        sh(2026, 10, 14), "mark_overdue", "overdue", "extension_requested", date(2026, 10, 13), seq
    )
    # the office approves after due_at: the new deadline counts from the old last day
    app.clock.set(sh(2026, 10, 14, 10))
    case = app.cases.advance(number, "approve_extension", actors.dispatcher, {"days": 5})
    assert_deadline(case, date(2026, 10, 20))
    assert app.cases.history(number)[-1]["payload"]["deadline"]["ladder_reset_from"] == "overdue"
    assert case_row(app, number).deadline_seq == seq + 1


def test_extension_cannot_be_requested_after_due_at(app, actors):
    number = _in_progress_simple(app, actors)
    app.clock.set(sh(2026, 10, 14))  # due_at of 10-13
    version = app.cases.show(number)["version"]
    with pytest.raises(GuardFailed) as refused:
        app.cases.advance(
            number, "request_extension", actors.power, {"reason": "来不及", "days": 3}
        )
    assert refused.value.guard == "before_due"
    assert app.cases.show(number)["version"] == version
    app.clock.set(sh(2026, 10, 13, 23, 59, 59))
    assert (
        app.cases.advance(
            number, "request_extension", actors.power, {"reason": "来得及", "days": 3}
        )["state"]
        == "extension_requested"
    )


# --- manual raises ------------------------------------------------------------------------------------------


def test_dispatcher_supervises_by_hand_and_the_sweep_continues_above_it(app, actors):
    number = _in_progress_simple(app, actors)
    seq = case_row(app, number).deadline_seq
    assert {"supervise", "list"} <= set(
        app.cases.show(number, actors.dispatcher)["allowed_triggers"]
    )
    assert "supervise" not in app.cases.show(number, actors.power)["allowed_triggers"]
    app.clock.set(sh(2026, 10, 9, 15))
    before = app.cases.show(number)
    case = app.cases.advance(
        number, "supervise", actors.dispatcher, {"reason": "企业多次反映，提前督办"}
    )
    assert case["supervision"] == "supervised" and case["state"] == "in_progress"
    assert case["version"] == before["version"] + 1
    assert case["due_date"] == before["due_date"]
    event = app.cases.history(number)[-1]
    assert (event["trigger"], event["actor"], event["at"]) == (
        "supervise",
        "dispatcher",
        "2026-10-09T15:00:00+08:00",
    )
    assert event["payload"]["fields"] == {"reason": "企业多次反映，提前督办"}
    assert (event["payload"]["level"], event["payload"]["from_level"]) == ("supervised", "normal")
    assert ladder_rows(app, number) == [(seq, "supervised", "dispatcher")]
    at = moments(date(2026, 10, 13))
    assert case_row(app, number).next_check_at == at["overdue"]  # the overdue moment is still to be recorded
    assert app.cases.show(number, actors.dispatcher)["allowed_triggers"][-1:] == ["list"]
    walk = LadderWalk(app, number)
    walk.quiet(at["warned"])  # below the raised level: never fired
    # due_at passes: no 催办 (the level stays), but the case went overdue and that is recorded
    walk.quiet(at["overdue"] - timedelta(seconds=1))
    walk.step(at["overdue"], "record_overdue", "supervised", "in_progress", date(2026, 10, 13), seq)
    assert case_row(app, number).flags["ever_overdue"] is True
    assert case_row(app, number).next_check_at == at["listed"]
    walk.quiet(at["overdue"])
    walk.quiet(at["supervised"])  # at the raised level: never fired
    walk.climb(date(2026, 10, 13), "in_progress", ("listed",))
    assert ladder_rows(app, number) == [
        (seq, "supervised", "dispatcher"),
        (seq, "overdue", "system"),
        (seq, "listed", "system"),
    ]


def test_a_case_raised_by_hand_before_due_still_counts_as_ever_overdue(app, actors):
    number = _in_progress_simple(app, actors)  # due 2026-10-13
    app.clock.set(sh(2026, 10, 12, 9))
    app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "提前督办"})
    sweep_at(app, sh(2026, 10, 15, 9), number)  # well past due_at, before the listed moment
    row = case_row(app, number)
    overdue_events = [e for e in app.cases.history(number) if e["trigger"] == "mark_overdue"]
    assert row.flags.get("ever_overdue") is True or overdue_events
    # recorded once, as what it is: not a 催办 (the level stays 督办), no second escalation
    history = app.cases.history(number)
    assert [e["trigger"] for e in history][-2:] == ["supervise", "record_overdue"]
    assert overdue_events == [] and row.ladder_level == "supervised"
    assert "overdue_unrecorded" not in row.flags
    assert sweep_at(app, sh(2026, 10, 15, 9), number) == []
    assert sweep_at(app, sh(2026, 10, 19, 9), number) == []  # listed falls due at 10-21 00:00


@pytest.mark.parametrize("kind", ["enterprise", "site"])
def test_a_raise_by_hand_after_due_at_before_the_sweep_records_the_missed_overdue(app, actors, kind):
    """The sweep was down over due_at and the dispatcher listed the case by hand first: the next
    sweep records that it went overdue at due_at, and nothing else is due any more."""
    if kind == "enterprise":
        number, due, state = _in_progress_simple(app, actors), date(2026, 10, 13), "in_progress"
    else:
        number, due, state = new_site_case(app)["number"], date(2026, 10, 9), "reported"
    assert app.cases.show(number)["due_date"] == due.isoformat()
    seq = case_row(app, number).deadline_seq
    app.clock.set(end_of(due) + timedelta(hours=10))
    case = app.cases.advance(number, "list", actors.dispatcher, {"reason": "逾期未办，挂牌督办"})
    assert case["supervision"] == "listed"
    assert case_row(app, number).next_check_at == end_of(due)  # the missed overdue moment
    steps = sweep_at(app, end_of(due) + timedelta(hours=11), number)
    assert [(s.action, s.level, s.to_state, s.scheduled_for) for s in steps] == [
        ("record_overdue", "listed", state, end_of(due))
    ]
    row = case_row(app, number)
    assert (row.flags["ever_overdue"], row.next_check_at, row.ladder_level) == (True, None, "listed")
    assert ladder_rows(app, number) == [(seq, "listed", "dispatcher"), (seq, "overdue", "system")]
    assert sweep_at(app, sh(2026, 12, 31), number) == []


def test_a_raise_by_hand_after_the_sweep_marked_it_overdue_records_nothing_more(app, actors):
    number = _in_progress_simple(app, actors)
    seq = case_row(app, number).deadline_seq
    sweep_at(app, sh(2026, 10, 14, 1), number)  # warned, overdue
    app.clock.set(sh(2026, 10, 14, 9))
    app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "逾期督办"})
    assert "overdue_unrecorded" not in case_row(app, number).flags
    assert [s.action for s in sweep_at(app, sh(2026, 12, 31), number)] == ["list"]
    triggers = [e["trigger"] for e in app.cases.history(number)]
    assert triggers.count("mark_overdue") == 1 and "record_overdue" not in triggers
    assert [lv for s, lv, _ in ladder_rows(app, number) if s == seq] == ["warned", "overdue", "supervised", "listed"]


@pytest.mark.parametrize("kind", ["enterprise", "site"])
def test_a_new_deadline_before_due_drops_the_pending_overdue_record(app, actors, kind):
    """Raised by hand, then the case moves on to a new clock before due_at: the old deadline never
    went overdue, the new one climbs from normal and is recorded as usual."""
    if kind == "enterprise":
        number = _in_progress_simple(app, actors)  # due 10-13
        app.clock.set(sh(2026, 10, 12, 9))
        app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "提前督办"})
        assert case_row(app, number).next_check_at == sh(2026, 10, 14)
        case = app.cases.advance(number, "answer", actors.power, ANSWER)
        new_due, state = date(2026, 10, 14), "answered"
    else:
        number = new_site_case(app)["number"]  # reported, due 10-09
        app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "提前督办"})
        case = app.cases.advance(number, "start_verification", actors.dispatcher)
        new_due, state = add_wd(date(2026, 9, 30), 5), "verifying"  # 10-13: over the holiday, 10-10 counts
    assert (case["supervision"], case["due_date"]) == ("normal", new_due.isoformat())
    row = case_row(app, number)
    assert "overdue_unrecorded" not in row.flags and row.flags.get("ever_overdue") is None
    LadderWalk(app, number).climb(new_due, state)
    triggers = [e["trigger"] for e in app.cases.history(number)]
    assert "record_overdue" not in triggers and triggers.count("mark_overdue") == 1
    assert case_row(app, number).flags["ever_overdue"] is True


def test_dispatcher_lists_by_hand_after_a_warning(app, actors):
    number = _in_progress_simple(app, actors)
    seq = case_row(app, number).deadline_seq
    LadderWalk(app, number).step(
        sh(2026, 10, 13), "warn", "warned", "in_progress", date(2026, 10, 13), seq
    )
    app.clock.set(sh(2026, 10, 13, 9))
    case = app.cases.advance(number, "list", actors.dispatcher, {"reason": "挂牌督办"})
    assert case["supervision"] == "listed"
    assert case_row(app, number).next_check_at == sh(2026, 10, 14)  # only the overdue record is left
    assert "supervise" not in app.cases.show(number, actors.dispatcher)["allowed_triggers"]
    walk = LadderWalk(app, number)
    walk.step(sh(2026, 10, 14), "record_overdue", "listed", "in_progress", date(2026, 10, 13), seq)
    assert case_row(app, number).next_check_at is None
    walk.quiet(sh(2026, 12, 31))
    assert ladder_rows(app, number) == [
        (seq, "warned", "system"),
        (seq, "listed", "dispatcher"),
        (seq, "overdue", "system"),
    ]


def _refusals(app, actors, number: str) -> list[tuple[str, Any, dict[str, Any], type]]:
    return [
        ("supervise", actors.dispatcher, {}, InvalidInput),
        ("supervise", actors.dispatcher, {"reason": "   "}, InvalidInput),
        ("list", actors.dispatcher, {"reason": "x", "level": "listed"}, InvalidInput),
        ("supervise", actors.power, {"reason": "经办人不能督办"}, PermissionDenied),
        ("list", actors.power_head, {"reason": "单位负责人不能挂牌"}, PermissionDenied),
        ("supervise", actors.supervisor, {"reason": "督查员只读"}, PermissionDenied),
    ]


def test_manual_raise_refusals_change_nothing(app, actors):
    number = _in_progress_simple(app, actors)
    for trigger, actor, fields, error in _refusals(app, actors, number):
        before = app.cases.show(number)
        with pytest.raises(error):
            app.cases.advance(number, trigger, actor, fields)
        assert app.cases.show(number) == before, (trigger, actor.username, fields)
    assert ladder_rows(app, number) == []
    with pytest.raises(InvalidInput) as refused:
        app.cases.advance(number, "supervise", actors.dispatcher, {})
    assert refused.value.field == "reason"


@pytest.mark.parametrize(
    "level, trigger", [("listed", "supervise"), ("listed", "list"), ("supervised", "supervise")]
)
def test_manual_raise_cannot_lower_or_repeat_the_level(app, actors, level, trigger):
    number = _in_progress_simple(app, actors)
    app.cases.advance(
        number,
        {"listed": "list", "supervised": "supervise"}[level],
        actors.dispatcher,
        {"reason": "督办"},
    )
    before, rows = app.cases.show(number), ladder_rows(app, number)
    with pytest.raises(GuardFailed) as refused:
        app.cases.advance(number, trigger, actors.dispatcher, {"reason": "再次督办"})
    assert refused.value.guard == "ladder_raise"
    assert app.cases.show(number) == before and ladder_rows(app, number) == rows


def test_manual_raise_is_refused_on_closed_cases(app, actors):
    closed = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, closed, "closed")
    declined = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, declined, "not_accepted")
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "closed")
    for number in (closed, declined, site):
        before = app.cases.show(number)
        assert not {"supervise", "list"} & set(
            app.cases.show(number, actors.dispatcher)["allowed_triggers"]
        )
        for trigger in ("supervise", "list"):
            with pytest.raises(GuardFailed) as refused:
                app.cases.advance(number, trigger, actors.dispatcher, {"reason": "已办结仍督办"})
            assert refused.value.guard == "ladder_open"
        assert app.cases.show(number) == before
        assert ladder_rows(app, number) == []


def test_terminal_state_clears_the_deadline(app, actors):
    number = new_enterprise_case(app)["number"]
    sweep_at(app, sh(2026, 10, 9, 8), number)  # warned and overdue
    case = walk_enterprise_to(app, number, "not_accepted")
    assert (case["due_date"], case["due_at"], case["supervision"]) == (None, None, "normal")
    assert case_row(app, number).next_check_at is None
    assert sweep_at(app, sh(2027, 3, 1), number) == []


# --- scattered-polluting sites -----------------------------------------------------------------------------


def test_reported_site_climbs_on_working_days(app, actors):
    number = new_site_case(app)["number"]
    case = app.cases.show(number)
    assert_deadline(case, add_wd(date(2026, 9, 30), 2))
    assert case["due_date"] == "2026-10-09"
    LadderWalk(app, number).climb(date(2026, 10, 9), "reported")


@pytest.mark.parametrize(
    "classified, due",
    [
        (sh(2026, 9, 30, 10), date(2026, 10, 15)),  # an ordinary Thursday
        (sh(2026, 9, 17, 10), date(2026, 10, 8)),  # day 15 is 10-02, a holiday: moves to 10-08
        (sh(2026, 10, 9, 10), date(2026, 10, 26)),  # day 15 is Saturday 10-24: moves to Monday
        (
            sh(2026, 9, 25, 10),
            date(2026, 10, 10),
        ),  # day 15 is Saturday 10-10, an adjusted working day
    ],
    ids=["thursday", "holiday", "weekend", "adjusted-workday"],
)
def test_clearing_runs_fifteen_calendar_days(app, actors, classified, due):
    assert add_days(classified.date(), 15) == due
    app.clock.set(classified)
    number = new_site_case(app)["number"]
    case = walk_site_to(app, number, "clearing")
    assert_deadline(case, due)
    LadderWalk(app, number).climb(due, "clearing")


def test_verifying_site_deadline_is_five_working_days(app, actors):
    number = new_site_case(app)["number"]
    app.clock.set(sh(2026, 10, 9, 10))
    case = walk_site_to(app, number, "verifying")
    assert_deadline(case, date(2026, 10, 15))  # Sat 10-10 (调休上班), 12, 13, 14, 15
    assert add_wd(date(2026, 10, 9), 5) == date(2026, 10, 15)
    LadderWalk(app, number).climb(date(2026, 10, 15), "verifying")


def test_rectifying_deadline_is_the_date_given_at_classification(app, actors):
    number = new_site_case(app)["number"]
    walk_site_to(app, number, "verifying")
    fields = {"items": ["business_license"], "plan": "限期办证", "deadline": "2026-11-20"}
    case = app.cases.advance(number, "classify_rectify", actors.dispatcher, fields)
    assert case["state"] == "rectifying"
    assert_deadline(case, date(2026, 11, 20))
    seq = case_row(app, number).deadline_seq
    LadderWalk(app, number).climb(date(2026, 11, 20), "rectifying", ("warned", "overdue"))
    app.clock.set(sh(2026, 11, 21, 10))
    case = app.cases.advance(
        number,
        "extend_rectification",
        actors.dispatcher,
        {"deadline": "2026-12-18", "reason": "办证需要时间"},
    )
    assert_deadline(case, date(2026, 12, 18))  # a new clock: the ladder starts again
    assert case_row(app, number).deadline_seq == seq + 1
    LadderWalk(app, number).climb(date(2026, 12, 18), "rectifying")


def test_rectifying_default_deadline_is_thirty_days(app, actors):
    number = new_site_case(app)["number"]
    case = walk_site_to(app, number, "rectifying", category="rectify")
    assert_deadline(case, date(2026, 10, 30))
    LadderWalk(app, number).climb(date(2026, 10, 30), "rectifying")


def test_rectifying_default_deadline_follows_the_rest_day_rule(app, actors):
    app.clock.set(sh(2026, 10, 2, 10))  # + 30 days = Sunday 2026-11-01
    number = new_site_case(app)["number"]
    case = walk_site_to(app, number, "rectifying", category="rectify")
    assert add_days(date(2026, 10, 2), 30) == date(2026, 11, 2)
    assert_deadline(case, date(2026, 11, 2))
    assert case["fields"]["deadline"] == "2026-11-02"  # the field shows the deadline the clock gave


def test_rectifying_default_deadline_over_a_holiday_is_kept_after_a_failed_acceptance(app, actors):
    app.clock.set(sh(2026, 9, 1, 10))  # + 30 days = 10-01, National Day: the period ends on 10-08
    number = new_site_case(app)["number"]
    case = walk_site_to(app, number, "rectifying", category="rectify")
    assert add_days(date(2026, 9, 1), 30) == date(2026, 10, 8)
    assert_deadline(case, date(2026, 10, 8))
    assert case["fields"]["deadline"] == "2026-10-08"
    # an extension must move past the deadline the clock gave, not past 10-01
    with pytest.raises(GuardFailed) as refused:
        app.cases.advance(
            number, "extend_rectification", actors.dispatcher, {"deadline": "2026-10-05", "reason": "节后办证"}
        )
    assert refused.value.guard == "deadline_moves_later"
    case = walk_site_to(app, number, "acceptance", category="rectify")
    seq = case_row(app, number).deadline_seq
    case = app.cases.advance(number, "fail_acceptance", actors.dispatcher, {"reason": "治污设施未运行"})
    assert case["state"] == "rectifying"
    assert_deadline(case, date(2026, 10, 8))  # back to the same rectification deadline, not 30 new days
    assert case_row(app, number).deadline_seq == seq + 1


def test_acceptance_runs_five_working_days(app, actors):
    number = new_site_case(app)["number"]
    app.clock.set(sh(2026, 10, 12, 10))
    case = walk_site_to(app, number, "acceptance")
    assert_deadline(case, date(2026, 10, 19))
    LadderWalk(app, number).climb(date(2026, 10, 19), "acceptance")


def test_closed_site_falls_due_for_revisit_thirty_days_later_then_climbs(app, actors):
    number = new_site_case(app)["number"]
    case = walk_site_to(app, number, "closed")
    assert case["state"] == "closed" and case["supervision"] == "normal"
    assert_deadline(case, date(2026, 10, 30))  # 30 days after closing on 2026-09-30
    seq = case_row(app, number).deadline_seq
    walk = LadderWalk(app, number)
    walk.quiet(sh(2026, 10, 30, 23, 59, 59))
    steps = sweep_at(app, sh(2026, 10, 31), number)
    assert [(s.action, s.level, s.to_state) for s in steps] == [("revisit", None, "revisit_due")]
    history = app.cases.history(number)
    assert len(history) == len(walk.history) + 1
    event = history[-1]
    assert (event["trigger"], event["actor"], event["from_state"], event["to_state"]) == (
        "revisit",
        "system",
        "closed",
        "revisit_due",
    )
    assert ladder_rows(app, number) == []  # a revisit is no supervision step
    case = app.cases.show(number)
    assert_deadline(case, date(2026, 11, 6))  # 5wd from Saturday 10-31
    assert case_row(app, number).deadline_seq == seq + 1
    walk = LadderWalk(app, number)
    walk.quiet(sh(2026, 10, 31))
    walk.climb(date(2026, 11, 6), "revisit_due")


def test_revisit_confirmed_before_it_falls_due_is_not_fired(app, actors):
    number = new_site_case(app)["number"]
    walk_site_to(app, number, "closed")
    app.clock.set(sh(2026, 10, 20, 10))
    case = app.cases.advance(
        number, "report_relapse", actors.kongcheng, {"notes": "夜间复产"}, evidence=[photo(3)]
    )
    assert case["state"] == "clearing"
    assert_deadline(case, add_days(date(2026, 10, 20), 15))
    assert sweep_at(app, sh(2026, 10, 31), number) == []  # the revisit clock is gone


# --- missed time -----------------------------------------------------------------------------------------------

DOWNTIME_END = START + timedelta(days=40)  # 2026-11-09 10:00 +08:00


def _due_cases_of_every_kind(app, actors) -> dict[str, tuple[str, date, list[str]]]:
    """number -> (state, due date, the levels due by DOWNTIME_END), all made at START."""
    made: dict[str, tuple[str, date, list[str]]] = {}
    all_levels = [lv for lv, _ in LADDER]
    made[new_enterprise_case(app)["number"]] = ("registered", date(2026, 10, 8), all_levels)
    for klass, due, levels in (
        ("simple", date(2026, 10, 13), all_levels),
        ("complex", date(2026, 11, 3), all_levels[:3]),
    ):
        number = new_enterprise_case(app, **{"class": klass})["number"]
        app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
        app.cases.advance(number, "accept", actors.power)
        made[number] = ("in_progress", due, levels)
    made[new_site_case(app)["number"]] = ("reported", date(2026, 10, 9), all_levels)
    number = new_site_case(app, site_name="露天喷漆点")["number"]
    walk_site_to(app, number, "clearing")
    made[number] = ("clearing", date(2026, 10, 15), all_levels)
    for number, (state, due, _) in made.items():
        case = app.cases.show(number)
        assert (case["state"], case["due_date"]) == (state, due.isoformat()), number
    return made


def test_first_sweep_after_downtime_catches_up_every_step_in_order_once(app, actors):
    made = _due_cases_of_every_kind(app, actors)
    before = {number: app.cases.history(number) for number in made}
    app.clock.set(DOWNTIME_END)
    report = app.sweeper.sweep()
    assert report.cases == len(made) and report.skipped == []
    trigger_of = dict(LADDER)
    for number, (state, due, levels) in made.items():
        steps = [s for s in report.steps if s.case == number and s.obligation is None]  # the case's clock
        assert [(s.action, s.level, s.to_state) for s in steps] == [
            (trigger_of[lv], lv, state) for lv in levels
        ], number
        assert [s.scheduled_for for s in steps] == [moments(due)[lv] for lv in levels]
        history = app.cases.history(number)
        new = [e for e in history[len(before[number]) :] if "obligation" not in e["payload"]]
        assert [(e["trigger"], e["actor"], e["payload"]["level"]) for e in new] == [
            (trigger_of[lv], "system", lv) for lv in levels
        ]
        assert [e["payload"]["from_level"] for e in new] == ["normal", *levels[:-1]]
        assert [datetime.fromisoformat(e["payload"]["scheduled_for"]) for e in new] == [
            moments(due)[lv] for lv in levels
        ]
        assert all(
            datetime.fromisoformat(e["at"]) == DOWNTIME_END and e["at"].endswith("+08:00")
            for e in new
        )
        seq = case_row(app, number).deadline_seq
        assert ladder_rows(app, number) == [(seq, lv, "system") for lv in levels]
        row = case_row(app, number)
        assert row.ladder_level == levels[-1]
        assert row.next_check_at == (moments(due)["listed"] if levels[-1] != "listed" else None)
    # the same instant again: nothing is due any more
    again = app.sweeper.sweep()
    assert (again.steps, again.cases, again.skipped) == ([], 0, [])
    clock_events = {n: [e for e in app.cases.history(n) if "obligation" not in e["payload"]] for n in made}
    assert {number: len(events) for number, events in clock_events.items()} == {
        number: len(before[number]) + len(levels) for number, (_, _, levels) in made.items()
    }


def test_revisit_missed_during_downtime_fires_once_and_its_clock_starts_when_it_fell_due(app, actors):
    number = new_site_case(app)["number"]
    walk_site_to(app, number, "closed")
    steps = sweep_at(app, DOWNTIME_END, number)
    # the revisit fell due at 2026-10-31 00:00; revisit_due's 5wd run from then: 11-06, so its
    # warning (11-06 00:00) and overdue (11-07 00:00) fell due during the downtime too
    due = add_wd(date(2026, 10, 31), 5)
    assert due == date(2026, 11, 6)
    assert [(s.action, s.level, s.to_state) for s in steps] == [
        ("revisit", None, "revisit_due"), ("warn", "warned", "revisit_due"), ("mark_overdue", "overdue", "revisit_due"),
    ]  # fmt: skip
    assert [s.scheduled_for for s in steps] == [sh(2026, 10, 31), sh(2026, 11, 6), sh(2026, 11, 7)]
    case = app.cases.show(number)
    assert (case["state"], case["due_date"], case["supervision"]) == ("revisit_due", due.isoformat(), "overdue")
    assert sweep_at(app, DOWNTIME_END, number) == []
    triggers = [e["trigger"] for e in app.cases.history(number)]
    assert triggers[-3:] == ["revisit", "warn", "mark_overdue"]
    assert triggers.count("revisit") == 1
    assert case_row(app, number).next_check_at == moments(due)["supervised"]
