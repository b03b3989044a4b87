"""Provisional deadlines (DOMAIN.md §2, PITFALLS #25): a deadline that counts a day of a year
without calendar data (2027 in the package) is computed on weekends only and marked provisional;
never an exception. When an admin enters that year's data, the open deadlines are recomputed and
each recomputation is an event in the case's history. On SQLite and PostgreSQL.
"""

import logging
from datetime import date, datetime, timedelta

import pytest
from helpers import new_enterprise_case, new_site_case, walk_site_to
from sqlalchemy import select

from cases.models import Case
from workflow.clock import SHANGHAI

ANSWER = {"result": "resolved", "reply": "已解决", "signed_by": "王局长"}
NEW_YEAR_2027 = [("2027-01-01", "元旦"), ("2027-01-02", "元旦"), ("2027-01-03", "元旦")]


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def case_row(app, number: str):
    with app.db.read() as conn:
        return conn.execute(select(Case.__table__).where(Case.__table__.c.number == number)).one()


def handling_case_across_new_year(app, actors, klass: str = "general") -> str:
    """Assigned on Monday 2026-12-28, accepted at once: 10wd run into January 2027."""
    app.clock.set(sh(2026, 12, 28, 10))
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power", "class": klass})
    app.cases.advance(number, "accept", actors.power)
    return number


def enter_new_year_holiday(app, actors) -> list[bool]:
    """An admin enters 元旦 2027 (Friday 01-01 to Sunday 01-03); the year becomes known."""
    admin = app.users.actor("admin") if app.users.exists("admin") else None
    if admin is None:
        app.users.add("admin", "sti", ["admin"])
        admin = app.users.actor("admin")
    return [app.calendar.add(day, "holiday", name, admin).year_made_known for day, name in NEW_YEAR_2027]


def test_deadline_crossing_into_2027_is_provisional_on_weekends_only(app, actors):
    number = handling_case_across_new_year(app, actors)
    case = app.cases.show(number)
    # 12-29, 30, 31, Fri 01-01 (no data: a working day), 01-04 … 01-08, 01-11
    assert case["due_date"] == "2027-01-11"
    assert case["due_at"] == "2027-01-12T00:00:00+08:00"
    assert case["due_provisional"] is True
    assert app.cases.history(number)[-1]["payload"]["deadline"] == {
        "due_date": "2027-01-11", "due_at": "2027-01-12T00:00:00+08:00", "provisional": True,
    }  # fmt: skip
    assert case_row(app, number).next_check_at == sh(2027, 1, 11)
    # the ladder runs on the provisional deadline meanwhile, without any error
    app.clock.set(sh(2027, 1, 11))
    assert [s.action for s in app.sweeper.sweep().steps] == ["warn"]


def test_only_deadlines_that_count_an_unknown_day_are_provisional(app, actors):
    number = handling_case_across_new_year(app, actors, klass="simple")  # 12-29, 30, 31, 01-01, 01-04
    case = app.cases.show(number)
    assert case["due_date"] == "2027-01-04" and case["due_provisional"] is True
    app.clock.set(sh(2026, 12, 21, 10))
    other = new_enterprise_case(app)["number"]
    app.cases.advance(other, "assign", actors.dispatcher, {"lead_unit": "power", "class": "simple"})
    case = app.cases.advance(other, "accept", actors.power)
    assert (case["due_date"], case["due_provisional"]) == ("2026-12-28", False)


def test_entering_2027_data_recomputes_the_deadline_with_an_event(app, actors):
    number = handling_case_across_new_year(app, actors)
    app.clock.set(sh(2027, 1, 5, 9))
    before = case_row(app, number)
    version, history = before.version, app.cases.history(number)
    assert enter_new_year_holiday(app, actors) == [True, False, False]
    changed = app.sweeper.recompute_deadlines()
    assert changed == [{
        "case": number,
        "old": {"due_date": "2027-01-11", "provisional": True},
        "new": {"due_date": "2027-01-12", "provisional": False},
    }]  # fmt: skip
    case = app.cases.show(number)
    assert (case["due_date"], case["due_at"], case["due_provisional"]) == ("2027-01-12", "2027-01-13T00:00:00+08:00", False)
    assert case["version"] == version + 1 and case["state"] == "in_progress"
    new_history = app.cases.history(number)
    assert new_history[:-1] == history
    event = new_history[-1]
    assert (event["trigger"], event["actor"], event["from_state"], event["to_state"]) == (
        "recompute_deadline", "system", "in_progress", "in_progress",
    )  # fmt: skip
    assert event["at"] == "2027-01-05T09:00:00+08:00"
    assert event["payload"]["old"] == {"due_date": "2027-01-11", "provisional": True}
    assert event["payload"]["new"] == {"due_date": "2027-01-12", "provisional": False}
    after = case_row(app, number)
    assert (after.deadline_seq, after.ladder_level) == (before.deadline_seq, "normal")
    assert after.next_check_at == sh(2027, 1, 12)
    # recomputing again changes nothing
    assert app.sweeper.recompute_deadlines() == []
    assert len(app.cases.history(number)) == len(new_history)
    # the ladder follows the recomputed deadline
    app.clock.set(sh(2027, 1, 11))
    assert app.sweeper.sweep().steps == []
    app.clock.set(sh(2027, 1, 12))
    assert [(s.case, s.action) for s in app.sweeper.sweep().steps] == [(number, "warn")]
    app.clock.set(sh(2027, 1, 13))
    assert [s.action for s in app.sweeper.sweep().steps] == ["mark_overdue"]
    row = case_row(app, number)  # supervised: 01-12 + 3wd = 01-15, listed + 5wd = 01-19
    assert row.next_check_at == sh(2027, 1, 16)


def test_the_admin_path_recomputes_at_once(app, actors):
    number = handling_case_across_new_year(app, actors)
    app.users.add("admin", "sti", ["admin"])
    admin = app.users.actor("admin")
    app.clock.set(sh(2027, 1, 4, 9))
    change, recomputed = app.add_calendar_day("2027-01-01", "holiday", "元旦", admin)
    assert change.year_made_known is True
    assert [r["case"] for r in recomputed] == [number]
    case = app.cases.show(number)
    assert (case["due_date"], case["due_provisional"]) == ("2027-01-12", False)
    assert [e["trigger"] for e in app.cases.history(number)][-1] == "recompute_deadline"
    # a day that moves no deadline recomputes nothing
    change, recomputed = app.add_calendar_day("2027-01-02", "holiday", "元旦", admin)
    assert change.year_made_known is False and recomputed == []


def test_a_deadline_that_still_counts_an_unknown_year_stays_provisional(app, actors):
    app.clock.set(sh(2027, 12, 27, 10))  # a Monday in 2027: the clearing's 15 days end in 2028
    site = new_site_case(app)["number"]
    case = walk_site_to(app, site, "clearing")
    assert (case["due_date"], case["due_provisional"]) == ("2028-01-11", True)
    versions = app.cases.show(site)["version"]
    enter_new_year_holiday(app, actors)
    assert all(r["case"] != site for r in app.sweeper.recompute_deadlines())
    case = app.cases.show(site)
    assert (case["due_date"], case["due_provisional"], case["version"]) == ("2028-01-11", True, versions)


def test_dates_in_2027_and_later_never_raise(app, actors):
    for start in (sh(2027, 3, 1, 10), sh(2031, 2, 3, 10), sh(2099, 12, 30, 10)):
        app.clock.set(start)
        number = new_enterprise_case(app)["number"]
        case = app.cases.show(number)
        assert case["due_provisional"] is True
        due = date.fromisoformat(case["due_date"])
        assert due > start.date()
        case = app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power", "class": "complex"})
        case = app.cases.advance(number, "accept", actors.power)
        assert case["due_provisional"] is True
        due = date.fromisoformat(case["due_date"])
        app.clock.set(datetime.combine(due + timedelta(days=30), datetime.min.time(), SHANGHAI))
        steps = [s.action for s in app.sweeper.sweep().steps if s.case == number]
        assert steps == ["warn", "mark_overdue", "supervise", "list"]
        assert app.cases.show(number)["supervision"] == "listed"


def test_a_revisit_falling_due_in_2100_never_raises(app, actors):
    app.clock.set(sh(2099, 12, 1, 10))
    site = new_site_case(app)["number"]
    case = walk_site_to(app, site, "closed")
    assert case["due_date"] == "2099-12-31"  # 30 days; the Civil Code rule needs no data
    app.clock.set(sh(2100, 1, 1))
    assert [s.action for s in app.sweeper.sweep().steps] == ["revisit"]
    assert app.cases.show(site)["due_provisional"] is True
    assert app.sweeper.recompute_deadlines() == []


def test_extension_of_a_provisional_deadline_is_recomputed_from_the_recomputed_deadline(app, actors):
    number = handling_case_across_new_year(app, actors)
    app.clock.set(sh(2027, 1, 5, 9))
    app.cases.advance(number, "request_extension", actors.power, {"reason": "跨年协调", "days": 3})
    case = app.cases.advance(number, "approve_extension", actors.dispatcher, {"days": 3})
    assert (case["due_date"], case["due_provisional"]) == ("2027-01-14", True)  # 01-11 + 3
    enter_new_year_holiday(app, actors)
    app.sweeper.recompute_deadlines()
    case = app.cases.show(number)
    # with 元旦: the handling deadline is 01-12, and 3 granted working days end on 01-15
    assert (case["due_date"], case["due_provisional"]) == ("2027-01-15", False)


def test_ladder_moments_in_an_unknown_year_follow_the_entered_data(app, actors):
    app.clock.set(sh(2026, 12, 30, 10))
    number = new_enterprise_case(app)["number"]  # due Thursday 2026-12-31: a known day
    assert app.cases.show(number)["due_provisional"] is False
    app.clock.set(sh(2027, 1, 1, 1))
    assert [s.action for s in app.sweeper.sweep().steps] == ["warn", "mark_overdue"]
    # fallback: supervised after 01-01, 01-04, 01-05; a Saturday workday 01-02 makes it 01-04
    app.users.add("admin", "sti", ["admin"])
    admin = app.users.actor("admin")
    app.add_calendar_day("2027-01-02", "workday", "示例调休", admin)
    app.clock.set(sh(2027, 1, 5))
    assert [s.action for s in app.sweeper.sweep().steps] == ["supervise"]


def test_a_default_rectification_deadline_in_an_unknown_year_is_recomputed(app, actors):
    app.clock.set(sh(2026, 12, 10, 10))  # + 30 days = Saturday 2027-01-09
    site = new_site_case(app)["number"]
    case = walk_site_to(app, site, "rectifying", category="rectify")
    assert (case["due_date"], case["due_provisional"], case["fields"]["deadline"]) == ("2027-01-11", True, "2027-01-11")
    app.users.add("admin", "sti", ["admin"])
    _, recomputed = app.add_calendar_day("2027-01-09", "workday", "示例调休", app.users.actor("admin"))
    assert recomputed == [{
        "case": site,
        "old": {"due_date": "2027-01-11", "provisional": True},
        "new": {"due_date": "2027-01-09", "provisional": False},
    }]  # fmt: skip
    case = app.cases.show(site)
    assert (case["due_date"], case["due_provisional"], case["fields"]["deadline"]) == ("2027-01-09", False, "2027-01-09")


@pytest.mark.parametrize("kind", ["enterprise", "site"])
def test_ladder_moments_moved_by_entered_data_move_only_the_next_check(app, actors, kind):
    """Both directions, both workflows: a holiday moves ``supervised`` later, an adjusted working
    day moves ``listed`` earlier; the deadline itself (a known day) stays, so no event is written."""
    if kind == "enterprise":
        app.clock.set(sh(2026, 12, 30, 10))
        number = new_enterprise_case(app)["number"]  # 1wd: Thursday 2026-12-31
    else:
        app.clock.set(sh(2026, 12, 29, 10))
        number = new_site_case(app)["number"]  # 2wd: Thursday 2026-12-31
    assert (app.cases.show(number)["due_date"], app.cases.show(number)["due_provisional"]) == ("2026-12-31", False)
    app.clock.set(sh(2027, 1, 1, 1))
    assert [s.action for s in app.sweeper.sweep().steps] == ["warn", "mark_overdue"]
    assert case_row(app, number).next_check_at == sh(2027, 1, 6)  # fallback: 01-01, 01-04, 01-05
    history, version = app.cases.history(number), app.cases.show(number)["version"]
    app.users.add("admin", "sti", ["admin"])
    admin = app.users.actor("admin")
    assert app.add_calendar_day("2027-01-04", "holiday", "示例假日", admin)[1] == []
    assert case_row(app, number).next_check_at == sh(2027, 1, 7)  # 01-01, 01-05, 01-06
    assert (app.cases.history(number), app.cases.show(number)["version"]) == (history, version)
    app.clock.set(sh(2027, 1, 6))
    assert app.sweeper.sweep().steps == []
    app.clock.set(sh(2027, 1, 7))
    assert [s.action for s in app.sweeper.sweep().steps] == ["supervise"]
    assert case_row(app, number).next_check_at == sh(2027, 1, 9)  # listed: 01-01, 05, 06, 07, 08
    assert app.add_calendar_day("2027-01-02", "workday", "示例调休", admin)[1] == []
    assert case_row(app, number).next_check_at == sh(2027, 1, 8)  # 01-01, 02, 05, 06, 07
    app.clock.set(sh(2027, 1, 8))
    assert [s.action for s in app.sweeper.sweep().steps] == ["list"]
    assert app.cases.show(number)["due_provisional"] is False


def test_a_provisional_deadline_logs_a_warning(app, actors, caplog):
    with caplog.at_level(logging.WARNING):
        handling_case_across_new_year(app, actors)
    assert any(r.levelno >= logging.WARNING and "2027" in r.getMessage() for r in caplog.records)


def test_the_warning_names_the_case_and_only_provisional_deadlines_log_it(app, actors, caplog):
    with caplog.at_level(logging.WARNING, logger="caseflow.deadlines"):
        app.clock.set(sh(2026, 12, 21, 10))
        known = new_enterprise_case(app)["number"]  # due 2026-12-22: a known year
        app.cases.advance(known, "assign", actors.dispatcher, {"lead_unit": "power", "class": "simple"})
        app.cases.advance(known, "accept", actors.power)  # 2026-12-28
    assert [r for r in caplog.records if r.name == "caseflow.deadlines"] == []
    with caplog.at_level(logging.WARNING, logger="caseflow.deadlines"):
        number = handling_case_across_new_year(app, actors)
    messages = [r.getMessage() for r in caplog.records if r.name == "caseflow.deadlines"]
    assert len(messages) == 1, messages  # registered, assigned on 2026-12-28: known; accepted: into 2027
    assert number in messages[0] and "2027-01-11" in messages[0] and "no calendar data for 2027" in messages[0]
    # another provisional deadline warns with its own year; recomputing settles 2027 without a warning
    # (the site's deadline still counts 2028, but it does not move, so it is not rewritten)
    caplog.clear()
    app.clock.set(sh(2027, 12, 27, 10))  # the clearing's 15 days end in 2028
    site = new_site_case(app)["number"]
    with caplog.at_level(logging.WARNING, logger="caseflow.deadlines"):
        walk_site_to(app, site, "clearing")
    assert any(site in m and "2028" in m for m in (r.getMessage() for r in caplog.records))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="caseflow.deadlines"):
        enter_new_year_holiday(app, actors)
        assert [r["case"] for r in app.sweeper.recompute_deadlines()] == [number]
    assert [r for r in caplog.records if r.name == "caseflow.deadlines"] == []
