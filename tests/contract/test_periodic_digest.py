"""The daily digest (issue 4, DOMAIN.md §6): at 08:30 on every working day (adjusted workdays too)
each unit with open cases gets its 待办, 临期 and 逾期 lists with their deadlines; nothing on a day
off; running it twice a day queues nothing new. On SQLite and PostgreSQL.

The scenario (Asia/Shanghai), with 2026-10-10 (Saturday) an adjusted workday:

- D   drc, simple, assigned and accepted Thu 10-08 10:00 → due 10-14 (10-09, 10-10, 10-12, 10-13, 10-14)
- P1  power, general, assigned and accepted Mon 10-12 09:00 → due 10-26
- P2  power, assigned Mon 10-12, not accepted → due 10-13 (accept within 1wd)
- W1  water, simple, assigned and accepted Mon 10-12 → due 10-19
- R   registered Mon 10-12, not assigned (the office's) → due 10-13
- S   a site in 孔城镇 classified for ban Mon 10-12 (no gas): clearing for 15 days → due 10-27;
      its open items wait on water (断水), power (断电) and the town (三清), the town's clock runs
"""

from datetime import date, datetime, time

import pytest
from helpers import new_enterprise_case, new_site_case
from sqlalchemy import select

from caseflow.app import build
from cases.models import Notification
from config.settings import Settings
from notifications.channels.memory import MemoryChannel
from scheduling.runner import Ticker
from workflow.clock import SHANGHAI

N = Notification.__table__


def at(day: str, hh: int = 0, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SHANGHAI)


@pytest.fixture
def app(database_url, data_dir, clock):
    settings = Settings(
        database_url=database_url, data_dir=data_dir, config_dir=None, fake_now=None,
        smtp_url="smtp://127.0.0.1:2525", mail_from="noreply@example.cn",
    )  # fmt: skip
    application = build(settings, clock=clock)
    application.dispatcher.channels = {name: MemoryChannel(name) for name in ("inapp", "email", "webhook")}
    try:
        application.migrate()
        yield application
    finally:
        application.close()


@pytest.fixture
def scenario(app, actors, clock):
    a = actors
    app.users.add("power_mail", "power", ["handler"], email="power@example.cn")
    app.users.add("office_mail", "sti", ["dispatcher"], email="office@example.cn")
    cases = {}
    clock.set(at("2026-10-08", 10))
    cases["D"] = new_enterprise_case(app, title="企业反映电价补贴未兑现")["number"]
    app.cases.advance(cases["D"], "assign", a.dispatcher, {"lead_unit": "drc", "class": "simple"})
    app.cases.advance(cases["D"], "accept", a.drc)
    clock.set(at("2026-10-12", 9))
    for key, lead, accept, klass in (("P1", "power", True, "general"), ("P2", "power", False, "general"),
                                     ("W1", "water", True, "simple")):  # fmt: skip
        cases[key] = new_enterprise_case(app, title=f"问题{key}")["number"]
        app.cases.advance(cases[key], "assign", a.dispatcher, {"lead_unit": lead, "class": klass})
        if accept:
            app.cases.advance(cases[key], "accept", a.handler(lead))
    cases["R"] = new_enterprise_case(app, title="尚未交办的问题")["number"]
    cases["S"] = new_site_case(app)["number"]
    app.cases.advance(cases["S"], "start_verification", a.kongcheng)
    app.cases.advance(cases["S"], "classify_ban", a.dispatcher, {"plan": "依法取缔", "cut_gas": "no"})
    due = {k: app.cases.show(n)["due_date"] for k, n in cases.items()}
    assert due == {"D": "2026-10-14", "P1": "2026-10-26", "P2": "2026-10-13", "W1": "2026-10-19",
                   "R": "2026-10-13", "S": "2026-10-27"}  # fmt: skip
    return cases


def digests(app, day: str | None = None) -> list:
    with app.db.read() as conn:
        stmt = select(N).where(N.c.event == "digest").order_by(N.c.id)
        if day:
            stmt = stmt.where(N.c.idempotency_key.like(f"digest:{day}:%"))
        return list(conn.execute(stmt))


def by_unit(rows) -> dict[str, dict[tuple[str, str], object]]:
    """unit code (from the key ``digest:DAY:UNIT:digest:USER:CHANNEL``) → (user, channel) → row."""
    found: dict[str, dict[tuple[str, str], object]] = {}
    for r in rows:
        _, _, unit, _, user, channel = r.idempotency_key.split(":")
        assert (user, channel) == (r.recipient, r.channel)
        found.setdefault(unit, {})[(user, channel)] = r
    return found


def morning(app, day: str):
    """What the scheduler does on a working morning: the tick's sweep, then the digest at 08:30."""
    app.clock.set(at(day, 8, 30))
    app.sweeper.sweep()
    return app.periodic.digest()


def test_digest_on_a_working_morning(app, actors, scenario):
    c = scenario
    result = morning(app, "2026-10-13")
    assert result.skipped is None and result.period == "2026-10-13"
    units = by_unit(digests(app, "2026-10-13"))
    assert set(units) == {"power", "water", "kongcheng", "sti", "drc"}, "gas, ecology… have nothing open"
    assert result.units == 5
    # each unit's handlers (the office: its dispatchers), in-app and by e-mail where they have an address
    assert set(units["power"]) == {("power", "inapp"), ("power_mail", "inapp"), ("power_mail", "email")}
    assert set(units["sti"]) == {("dispatcher", "inapp"), ("office_mail", "inapp"), ("office_mail", "email")}
    assert set(units["drc"]) == {("drc", "inapp")}
    assert set(units["water"]) == {("water", "inapp")}
    assert set(units["kongcheng"]) == {("kongcheng", "inapp")}

    power = units["power"][("power_mail", "email")]
    assert power.subject == "【每日待办】市供电公司 2026-10-13：待办3件，临期1件，逾期0件"
    assert f"临期：{c['P2']}（期限2026-10-13）" in power.body_text
    assert "逾期：" not in power.body_text
    # the site's 断电 is the power company's with its own deadline: 3wd from the classification
    for key, due in (("P1", "2026-10-26"), ("P2", "2026-10-13"), ("S", "2026-10-15")):
        assert c[key] in power.body_html and due in power.body_html
    for other in ("W1", "R", "D"):
        assert c[other] not in power.body_html
    office = units["sti"][("dispatcher", "inapp")]
    assert office.subject.endswith("待办1件，临期1件，逾期0件")
    assert f"临期：{c['R']}（期限2026-10-13）" in office.body_text
    assert units["drc"][("drc", "inapp")].subject == "【每日待办】市发改委 2026-10-13：待办1件，临期1件，逾期0件"
    water = units["water"][("water", "inapp")]
    assert water.subject.endswith("待办2件，临期0件，逾期0件")
    assert c["W1"] in water.body_html and c["S"] in water.body_html and "2026-10-19" in water.body_html
    # the town's three clears are three obligations of its own (as `caseflow todo` lists them)
    assert units["kongcheng"][("kongcheng", "inapp")].subject.endswith("待办3件，临期0件，逾期0件")

    # the e-mails go at once (08:30 is within working hours); in-app rows are delivered already
    mail = [r for u in units.values() for r in u.values() if r.channel == "email"]
    assert {r.next_attempt_at for r in mail} == {at("2026-10-13", 8, 30)}
    report = app.dispatcher.dispatch()
    assert {r.id for r in mail} <= set(report.sent)
    assert {r.status for r in digests(app)} == {"sent"}


def test_the_next_morning_lists_what_fell_overdue(app, actors, scenario):
    c = scenario
    morning(app, "2026-10-13")
    morning(app, "2026-10-14")
    units = by_unit(digests(app, "2026-10-14"))
    power = units["power"][("power", "inapp")]
    # its 断电 on the site is due tomorrow (10-15): 临期
    assert power.subject == "【每日待办】市供电公司 2026-10-14：待办3件，临期1件，逾期1件"
    assert f"逾期：{c['P2']}（期限2026-10-13）" in power.body_text
    assert f"临期：{c['S']}（期限2026-10-15）" in power.body_text
    assert "逾期催办" in power.body_html
    office = units["sti"][("dispatcher", "inapp")]
    assert office.subject.endswith("待办1件，临期0件，逾期1件") and f"逾期：{c['R']}" in office.body_text
    drc = units["drc"][("drc", "inapp")]
    assert drc.subject.endswith("待办1件，临期1件，逾期0件"), "due today"
    assert f"临期：{c['D']}（期限2026-10-14）" in drc.body_text and "临期预警" in drc.body_html
    # once the office has assigned its case, its lists are empty: no digest for it
    app.users.add("finance", "finance", ["handler"])  # a unit without a handler cannot be assigned
    app.cases.advance(c["R"], "assign", actors.dispatcher, {"lead_unit": "finance"})
    app.users.set_active("finance", False)
    app.clock.set(at("2026-10-15", 8, 30))
    app.periodic.digest()
    later = by_unit(digests(app, "2026-10-15"))
    assert "sti" not in later, "the office has nothing left to do"
    assert "finance" not in later, "finance has no handler to tell (its only one was deactivated)"


def test_no_digest_on_a_sunday_and_one_on_an_adjusted_saturday(app, actors, scenario, clock):
    sunday = at("2026-10-18", 8, 30)
    clock.set(sunday)
    result = app.periodic.digest()
    assert result.skipped and result.units == result.recipients == 0
    assert digests(app) == []
    forced = app.periodic.digest(force=True)  # `caseflow notify digest --force`
    assert forced.skipped is None and set(by_unit(digests(app, "2026-10-18"))) >= {"power", "drc"}


def test_adjusted_workday_gets_a_digest(app, actors, clock):
    clock.set(at("2026-10-08", 10))
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "drc", "class": "simple"})
    app.cases.advance(number, "accept", actors.drc)
    clock.set(at("2026-10-10", 8, 30))  # Saturday, an adjusted workday (调休上班)
    ticker = Ticker(app, holder="tick")
    ticker.digest()
    units = by_unit(digests(app, "2026-10-10"))
    assert set(units) == {"drc"}
    assert units["drc"][("drc", "inapp")].subject == "【每日待办】市发改委 2026-10-10：待办1件，临期0件，逾期0件"
    clock.set(at("2026-10-11", 8, 30))  # Sunday
    ticker.digest()
    assert digests(app, "2026-10-11") == []


def test_running_the_digest_twice_a_day_queues_nothing_new(app, actors, scenario, clock):
    morning(app, "2026-10-13")
    first = [r.idempotency_key for r in digests(app)]
    assert first
    clock.set(at("2026-10-13", 14, 0))
    app.periodic.digest()
    app.periodic.digest(force=True)
    assert [r.idempotency_key for r in digests(app)] == first
    morning(app, "2026-10-14")
    assert len(digests(app)) == 2 * len(first), "the next day is another digest"
