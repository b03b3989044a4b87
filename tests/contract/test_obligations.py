"""The responsibility list (责任清单, DOMAIN.md §9) through the services, on SQLite and PostgreSQL:
what each unit owes is opened and closed by the decisions themselves, each obligation's deadline
is its own, the sweep chases the unit that owes it, and 待办 is exactly what a user can act on.
"""

from datetime import datetime, timedelta

from helpers import new_enterprise_case, new_site_case, photo, walk_site_to
from sqlalchemy import delete

from cases.obligations import OBLIGATIONS
from workflow.clock import SHANGHAI


def owed(app, number, unit=None, *, open_only=True):
    """(key, unit, due_date) of the case's obligations, as ``case show`` lists them."""
    return [
        (o["key"], o["unit"], o["due_date"])
        for o in app.cases.show(number)["obligations"]
        if (o["open"] or not open_only) and (unit is None or o["unit"] == unit)
    ]


def messages(app, user, number):
    return [m for m in app.inbox.messages(user=user) if m["case"] == number]


def todo(app, actor):
    return [(e["number"], e["key"]) for e in app.cases.todo(actor)["items"]]


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=SHANGHAI)


def test_each_decision_opens_and_closes_what_each_unit_owes(app, actors):
    a = actors
    number = new_enterprise_case(app, a.collector)["number"]
    assert owed(app, number) == [("assign", "sti", "2026-10-08")]  # 1wd from 2026-09-30
    assert todo(app, a.dispatcher) == [(number, "assign")]

    app.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power", "co_units": "water", "class": "simple"})
    assert sorted(owed(app, number)) == [("accept", "power", "2026-10-08"), ("co_feedback", "water", "2026-10-10")]
    assert todo(app, a.dispatcher) == []
    assert todo(app, a.power) == [(number, "accept")]
    assert todo(app, a.water) == [(number, "co_feedback")]
    assert todo(app, a.power_head) == []  # the unit head has no handler's action to take

    app.cases.advance(number, "accept", a.power)
    # handling: simple 5wd from assignment → 10-13; the co-unit's feedback 2wd before it (10-10 is
    # an adjusted working day), and at least 3wd after its opening → 10-10
    assert sorted(owed(app, number)) == [("co_feedback", "water", "2026-10-10"), ("handle", "power", "2026-10-13")]
    closed = [o for o in app.cases.show(number)["obligations"] if not o["open"]]
    assert [(o["key"], o["outcome"], o["on_time"], o["closed_by"]) for o in closed] == [
        ("assign", "done", True, "dispatcher"),
        ("accept", "done", True, "power"),
    ]

    app.cases.advance(number, "request_extension", a.power, {"reason": "需上级审批", "days": "3"})
    show = {(o["key"], o["unit"]): o for o in app.cases.show(number)["obligations"] if o["open"]}
    assert show[("handle", "power")]["ready"] is False  # waits on the office's ruling
    assert show[("rule_extension", "sti")]["due_date"] == "2026-10-08"
    assert todo(app, a.power) == []
    assert (number, "handle") in [(e["number"], e["key"]) for e in app.cases.todo(a.power)["waiting_on_others"]]
    assert todo(app, a.dispatcher) == [(number, "rule_extension")]

    app.cases.advance(number, "approve_extension", a.dispatcher, {"days": "3"})
    # the handling deadline moves by 3wd, and the co-unit's with it
    assert sorted(owed(app, number)) == [("co_feedback", "water", "2026-10-14"), ("handle", "power", "2026-10-16")]

    app.cases.advance(number, "co_accept", a.water)
    app.cases.advance(number, "co_feedback", a.water, {"reply": "供水管网无影响"})
    assert owed(app, number) == [("handle", "power", "2026-10-16")]
    app.cases.advance(number, "answer", a.power, {"result": "resolved", "reply": "已办结", "signed_by": "王经理"})
    assert owed(app, number) == [("review", "sti", "2026-10-09")]  # the office's own 2wd


def test_a_late_review_is_charged_to_the_office_not_to_the_lead_unit(app, actors, clock):
    a = actors
    number = new_enterprise_case(app, a.collector)["number"]
    app.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power", "class": "simple"})
    app.cases.advance(number, "accept", a.power)
    app.cases.advance(number, "answer", a.power, {"result": "resolved", "reply": "已办结", "signed_by": "王经理"})
    clock.set(at("2026-10-20"))  # the review was due 10-09
    app.cases.advance(number, "approve_answer", a.dispatcher)
    by_key = {o["key"]: o for o in app.cases.show(number)["obligations"] if not o["open"]}
    assert by_key["handle"]["unit"] == "power" and by_key["handle"]["on_time"] is True
    assert by_key["review"]["unit"] == "sti" and by_key["review"]["on_time"] is False


def test_the_office_owes_its_acceptance_only_after_the_two_earlier_sign_offs(app, actors):
    a = actors
    number = new_site_case(app, a.kongcheng)["number"]
    walk_site_to(app, number, "acceptance")
    assert owed(app, number) == [("town_check", "kongcheng", "2026-10-09")]
    assert [n for n, _ in todo(app, a.dispatcher) if n == number] == []
    app.cases.complete_item(number, "town_check", a.kongcheng)
    assert [k for k, _, _ in owed(app, number)] == ["department_review"]
    app.cases.complete_item(number, "department_review", a.ecology)
    assert owed(app, number) == [("office_verification", "sti", "2026-10-09")]
    assert (number, "office_verification") in todo(app, a.dispatcher)
    app.cases.complete_item(number, "office_verification", a.dispatcher)
    assert owed(app, number) == [("conclude_acceptance", "sti", "2026-10-09")]


def test_a_late_power_cut_chases_the_power_company(app, actors, clock):
    a = actors
    number = new_site_case(app, a.kongcheng)["number"]
    walk_site_to(app, number, "clearing")
    water = dict((k, d) for k, u, d in owed(app, number) if u == "water")
    assert water == {"cut_water": "2026-10-10"}  # 3wd from 2026-09-30 across the holiday (10-10 is worked)
    app.cases.complete_item(number, "cut_water", a.water, evidence=[photo(1)])
    clock.set(at("2026-10-12"))
    report = app.sweeper.sweep()
    steps = [(s.case, s.action) for s in report.steps if s.case == number]
    assert steps == [(number, "warn"), (number, "mark_overdue")]
    assert {m["event"] for m in messages(app, "power", number)} >= {"warned", "overdue"}
    assert "overdue" not in {m["event"] for m in messages(app, "kongcheng", number)}
    levels = {o["key"]: o["level"] for o in app.cases.show(number)["obligations"] if o["open"]}
    assert levels["cut_power"] == "overdue" and levels["clear_materials"] == "normal"
    assert app.sweeper.sweep().steps == []  # each level once
    app.cases.complete_item(number, "cut_power", a.power, {"meter_reading": "1024"}, evidence=[photo(2)])
    closed = {o["key"]: o for o in app.cases.show(number)["obligations"] if o["key"] == "cut_power"}
    assert closed["cut_power"]["on_time"] is False and closed["cut_power"]["open"] is False


def test_a_co_unit_that_has_not_fed_back_is_chased_before_the_leads_deadline(app, actors, clock):
    a = actors
    number = new_enterprise_case(app, a.collector)["number"]
    app.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power", "co_units": "water"})
    app.cases.advance(number, "accept", a.power)
    co = [d for k, u, d in owed(app, number) if k == "co_feedback"]
    handle = [d for k, u, d in owed(app, number) if k == "handle"]
    assert co < handle
    clock.set(datetime.fromisoformat(co[0]).replace(tzinfo=SHANGHAI) + timedelta(days=1, hours=10))
    steps = [(s.case, s.action) for s in app.sweeper.sweep().steps]
    assert (number, "mark_overdue") in steps
    assert "overdue" in {m["event"] for m in messages(app, "water", number)}
    assert "overdue" not in {m["event"] for m in messages(app, "power", number)}


def test_the_town_hands_in_its_findings_and_then_the_office_owes_the_classification(app, actors):
    a = actors
    number = new_site_case(app, a.kongcheng)["number"]
    app.cases.advance(number, "start_verification", a.kongcheng)
    assert owed(app, number) == [("verify", "kongcheng", "2026-10-13"), ("ecology_view", "ecology", "2026-10-13")]
    app.cases.advance(number, "submit_findings", a.kongcheng, {"notes": "无证生产"}, evidence=[photo(3)])
    assert owed(app, number) == [("ecology_view", "ecology", "2026-10-13")]  # 认定 waits for both views
    app.cases.advance(number, "submit_ecology_view", a.ecology, {"notes": "废气直排"})
    assert owed(app, number) == [("classify", "sti", "2026-10-09")]
    assert (number, "classify") in todo(app, a.dispatcher)


def test_existing_cases_get_their_obligations_from_the_backfill(app, actors):
    number = new_enterprise_case(app, actors.collector)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power"})
    with app.db.write() as conn:  # as a database from before obligations existed
        conn.execute(delete(OBLIGATIONS))
    assert app.cases.backfill_obligations() == 1
    assert owed(app, number) == [("accept", "power", "2026-10-08")]
    assert app.cases.backfill_obligations() == 0  # idempotent
    assert todo(app, actors.power) == [(number, "accept")]

