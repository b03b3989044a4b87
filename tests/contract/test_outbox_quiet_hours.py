"""Quiet hours (issue 4, DOMAIN.md §6): non-urgent messages created outside working hours wait for
the next working morning (08:30 Asia/Shanghai); in-app messages are delivered at once; urgent
ladder steps (逾期催办 and up, 提级) go at once, day or night — a frozen-clock walk through the
scheduler's tick (sweep, then dispatch), on SQLite and PostgreSQL.

2026-04-03 is a Friday before the 清明 holiday (04-04..06, Saturday to Monday): an assignment at
22:00 that evening waits until Tuesday 2026-04-07 08:30.
"""

from datetime import date, datetime, time, timedelta

import pytest
from helpers import ENTERPRISE, enterprise_fields
from sqlalchemy import select

from caseflow.app import build
from cases.models import Notification
from config.settings import Settings
from notifications.channels.memory import MemoryChannel
from notifications.outbox import next_working_morning
from scheduling.runner import Ticker
from workflow.clock import SHANGHAI

N = Notification.__table__
FRIDAY_NIGHT = datetime(2026, 4, 3, 22, 0, tzinfo=SHANGHAI)
TUESDAY_MORNING = datetime(2026, 4, 7, 8, 30, tzinfo=SHANGHAI)


def at(day: str, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm, ss), SHANGHAI)


@pytest.fixture
def app(database_url, data_dir, clock):
    settings = Settings(
        database_url=database_url, data_dir=data_dir, config_dir=None, fake_now=None,
        smtp_url="smtp://127.0.0.1:2525", mail_from="noreply@example.cn", sms_url="http://127.0.0.1:9/sms",
    )  # fmt: skip
    application = build(settings, clock=clock)
    try:
        application.migrate()
        yield application
    finally:
        application.close()


@pytest.fixture
def channels(app):
    memory = {name: MemoryChannel(name) for name in ("inapp", "email", "sms", "webhook")}
    app.dispatcher.channels = memory
    return memory


@pytest.fixture
def people(app, actors):
    app.users.add("power_mail", "power", ["handler"], email="power@example.cn", phone="13800000001",
                  channels=["inapp", "email", "sms"])  # fmt: skip
    app.users.add("power_chief", "power", ["unit_head"], email="chief@example.cn")
    app.users.add("office_mail", "sti", ["dispatcher"], email="office@example.cn")
    app.users.add("mayor", "gov_office", ["convenor"], email="mayor@example.cn")
    return actors


def rows(app, **where):
    with app.db.read() as conn:
        stmt = select(N).order_by(N.c.id)
        for key, value in where.items():
            stmt = stmt.where(N.c[key] == value)
        return list(conn.execute(stmt))


def sent(channels) -> list[tuple[str, str]]:
    """(event part of the key, recipient) of every accepted e-mail and SMS, in order."""
    found = []
    for name in ("email", "sms"):
        for m in channels[name].sent:
            _, _, event, recipient, channel = m.idempotency_key.split(":")
            assert channel == name
            found.append((event, recipient, channel))
    return found


def test_assignment_on_a_friday_night_before_a_holiday(app, people, channels, clock):
    clock.set(FRIDAY_NIGHT - timedelta(minutes=5))
    number = app.cases.create(ENTERPRISE, people.dispatcher, enterprise_fields())["number"]
    clock.set(FRIDAY_NIGHT)
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    ticker = Ticker(app, holder="tick")

    assigned = rows(app, event="assigned")
    inapp = [r for r in assigned if r.channel == "inapp"]
    later = [r for r in assigned if r.channel != "inapp"]
    assert {r.recipient for r in inapp} == {"power", "power_mail"}
    assert all(r.status == "sent" and r.sent_at == FRIDAY_NIGHT for r in inapp), "in-app: at once"
    assert {(r.recipient, r.channel) for r in later} == {("power_mail", "email"), ("power_mail", "sms")}
    assert all(r.status == "pending" and r.next_attempt_at == TUESDAY_MORNING for r in later)
    assert not any(r.urgent for r in assigned)

    # nothing leaves at night, over the weekend, on the holiday Monday, nor a second before 08:30
    for instant in (FRIDAY_NIGHT, at("2026-04-04", 8, 30), at("2026-04-05", 12), at("2026-04-06", 8, 30),
                    at("2026-04-07", 0, 0), at("2026-04-07", 8, 29, 59)):  # fmt: skip
        clock.set(instant)
        ticker.tick()
        assert sent(channels) == [], instant
    # the warning of the due day (04-07 00:00) was queued at night too: it waits with them
    warned = rows(app, event="warned")
    assert {(r.recipient, r.channel, r.status) for r in warned} == {
        ("power", "inapp", "sent"), ("power_mail", "inapp", "sent"),
        ("power_mail", "email", "pending"), ("power_mail", "sms", "pending"),
    }  # fmt: skip
    assert {r.next_attempt_at for r in warned if r.channel != "inapp"} == {TUESDAY_MORNING}

    clock.set(TUESDAY_MORNING)
    result = ticker.tick()
    assert result.leader and result.extra["dispatch_all"]["sent"] == 4
    assert sorted(sent(channels)) == sorted(
        (event, "power_mail", channel) for event in ("assigned", "warned") for channel in ("email", "sms")
    )
    assert {r.status for r in rows(app)} == {"sent"}


def test_urgent_ladder_steps_at_night_go_at_once(app, people, channels, clock):
    clock.set(FRIDAY_NIGHT)
    number = app.cases.create(ENTERPRISE, people.dispatcher, enterprise_fields())["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    ticker = Ticker(app, holder="tick")
    # accept by 04-07: overdue at 04-08 00:00, supervised at 04-11 00:00 (04-07 + 3wd = 04-10, a
    # Friday: the night between Friday and Saturday), listed at 04-15 00:00 (04-07 + 5wd = 04-14)
    steps = {
        "overdue": (at("2026-04-08"), {("power_mail", "email"), ("power_mail", "sms"), ("power_chief", "email")}),
        "supervised": (at("2026-04-11"), {("power_chief", "email"), ("office_mail", "email")}),
        "listed": (at("2026-04-15"), {("mayor", "email")}),  # DOMAIN §5: the convenors
    }
    clock.set(TUESDAY_MORNING)
    ticker.tick()
    channels["email"].clear()
    channels["sms"].clear()
    for level, (instant, expected) in steps.items():
        clock.set(instant - timedelta(seconds=1))
        ticker.tick()
        assert sent(channels) == []
        clock.set(instant)
        result = ticker.tick()
        assert [s.level for s in result.sweep.steps] == [level]
        queued = [r for r in rows(app, event=level) if r.channel != "inapp"]
        assert queued and all(r.urgent and r.next_attempt_at == instant for r in queued)
        assert all(r.status == "sent" and r.sent_at == instant for r in queued), "sent by the same tick"
        assert {(r, c) for e, r, c in sent(channels)} == expected
        assert {e for e, _, _ in sent(channels)} == {level}
        assert all(m.urgent for m in channels["email"].sent)
        channels["email"].clear()
        channels["sms"].clear()


def test_raised_at_night_goes_at_once_and_the_send_back_waits(app, people, channels, clock):
    a = people
    number = app.cases.create(ENTERPRISE, a.dispatcher, enterprise_fields())["number"]
    app.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power"})
    app.cases.advance(number, "accept", a.power)
    answer = {"result": "resolved", "reply": "已完成", "signed_by": "张主任"}
    reopen = {"satisfaction": "非常不满意", "reason": "仍未解决"}
    app.cases.advance(number, "answer", a.power, answer)
    app.cases.advance(number, "approve_answer", a.dispatcher)
    app.cases.advance(number, "reopen", a.dispatcher, reopen)
    app.cases.advance(number, "answer", a.power, answer)
    app.cases.advance(number, "approve_answer", a.dispatcher)
    app.dispatcher.dispatch()  # what the day's steps queued
    channels["email"].clear()
    channels["sms"].clear()
    night = at("2026-09-30", 23, 0)  # a Wednesday night before the National Day holiday
    clock.set(night)
    app.cases.advance(number, "reopen", a.dispatcher, reopen)
    raised = [r for r in rows(app, event="raised") if r.channel != "inapp"]
    back = [r for r in rows(app, event="sent_back") if r.channel != "inapp" and r.created_at == night]
    assert {(r.recipient, r.next_attempt_at) for r in raised} == {("mayor", night), ("power_chief", night)}
    assert {(r.recipient, r.channel, r.next_attempt_at) for r in back} == {
        ("power_mail", "email", at("2026-10-08", 8, 30)), ("power_mail", "sms", at("2026-10-08", 8, 30))
    }  # fmt: skip
    app.dispatcher.dispatch()
    assert sorted(sent(channels)) == [("raised", "mayor", "email"), ("raised", "power_chief", "email")]


MORNINGS = [
    (at("2026-04-03", 22), at("2026-04-07", 8, 30)),  # Friday night before 清明
    (at("2026-04-03", 17, 30), at("2026-04-07", 8, 30)),  # the end of the working day is outside
    (at("2026-04-03", 17, 29, 59), at("2026-04-03", 17, 29, 59)),  # within: at once
    (at("2026-04-03", 8, 30), at("2026-04-03", 8, 30)),
    (at("2026-04-03", 6, 0), at("2026-04-03", 8, 30)),  # early on a working day: that morning
    (at("2026-04-05", 10), at("2026-04-07", 8, 30)),  # a holiday Sunday
    (at("2026-09-30", 22), at("2026-10-08", 8, 30)),  # before 国庆 (10-01..07)
    (at("2026-10-09", 20), at("2026-10-10", 8, 30)),  # Saturday 10-10 is an adjusted workday
    (at("2026-10-10", 12), at("2026-10-10", 12)),
    (at("2026-10-11", 9), at("2026-10-12", 8, 30)),  # an ordinary Sunday
]
"""(created at, deliverable from) for non-urgent messages."""


def test_next_working_morning(app):
    with app.db.read() as conn:
        calendar = app.calendar.calendar(conn)
    for now, expected in MORNINGS:
        got = next_working_morning(now, calendar, app.notification_config)
        assert got == expected, now
