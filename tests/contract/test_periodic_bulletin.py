"""The weekly bulletin (通报, DOMAIN.md §6): per-unit figures for an ISO week, ranked, with the list
of overdue cases — as data, as an HTML page and an .xlsx workbook, and as a notification to the
office, the convenors and every member unit (its handlers and unit heads), once per week. On
SQLite and PostgreSQL.

The week is 2026-W42 (Monday 10-12 … Sunday 10-18); the scheduler's tick is played by a sweep at
every midnight. What happens (Asia/Shanghai):

- D  ecology, simple: assigned and accepted Thu 10-08 (before the week) → due 10-14; warned
     10-14 00:00, overdue 10-15 00:00; still open and overdue when the bulletin is made.
- E  market_regulation, simple: assigned and accepted Thu 10-08 → due 10-14; warned, overdue,
     answered late on Fri 10-16 (7 working days after assignment: 10-10 is a workday).
- A  power, simple: assigned Mon 09:00, accepted 10:00 (on time), answered Wed 10-14 (2wd, on time),
     approved, closed Thu with 满意.
- B  power, general: assigned Mon 09:00, not accepted by 10-13: warned 10-13 00:00, overdue 10-14
     00:00, accepted Wed 10:00 (late); extension of 5wd requested and approved Thu; answered Fri
     (4wd, on time), sent back Fri (驳回重办).
- C  water: assigned Mon 09:00, returned Mon 10:00 (退回); assigned to drc Mon 11:00, accepted 14:00
     (on time), answered Tue (1wd), approved, reopened Wed as 不满意 (重办), answered Thu again
     (3wd after assignment, on time), approved, closed Fri with 基本满意.
- S  a site in 孔城镇: verified and classified for ban Mon, cleared Wed, accepted (验收通过) Fri.

Columns, by hand, over the obligations each unit owed (cases.figures): a late obligation is its
own unit's. 交办数 counts the 签收 obligations opened in the week, 按期签收率 those signed for on
time (B's was late), 退回数 those discharged by returning the case; 办结数 counts the 办结
obligations discharged (each answer, the site's submission for acceptance), so a case answered
again after a reopen counts twice; 按期办结率 is over every obligation the unit discharged in the
week and those still open past their deadline at its end (power: A's and B's 签收, both answers and
断电 — B's late 签收 makes 4 of 5; ecology: one discharged on time, D's answer overdue — 1 of 2); 平均用时 is in
working days from the 办结 obligation's opening (signing for) to the answer; 满意率 is over the
week's close/reopen ratings of the unit's cases; 重办 counts 办结 obligations opened again by a
send-back or a reopening; 当前超期 the obligations open and overdue at the end of the week, 累计超期
those that went overdue this year; the levels count obligations standing at each level. The
office (sti) owes its own reviews and calls, all on time. Ranked by the week's assessment score
(config/assessment.yaml): equal scores share a rank.
"""

from datetime import date, datetime, time, timedelta

import pytest
from helpers import complete_open_items, new_enterprise_case, new_site_case
from openpyxl import load_workbook
from sqlalchemy import select

from caseflow.app import build
from cases.models import Notification
from config.settings import Settings
from notifications.channels.memory import MemoryChannel
from notifications.documents import COLUMNS, bulletin_html, bulletin_xlsx
from scheduling.runner import Ticker
from workflow.clock import SHANGHAI

N = Notification.__table__
WEEK = "2026-W42"
ANSWER = {"result": "resolved", "reply": "已办结", "signed_by": "李主任"}

# unit: assigned, 按期签收率, returned, completed, 按期办结率, current overdue, total overdue, avg days,
#       extensions, 满意率, reworks, warned, overdue, supervised, listed
EXPECTED = {
    "kongcheng": (0, "—", 0, 1, "100.0%", 0, 0, 0.0, 0, "—", 0, 1, 0, 0, 0),
    "sti": (0, "—", 0, 0, "100.0%", 0, 0, "—", 0, "—", 0, 0, 0, 0, 0),
    "ecology": (0, "—", 0, 0, "50.0%", 1, 1, "—", 0, "—", 0, 0, 1, 0, 0),
    "drc": (1, "100.0%", 0, 2, "100.0%", 0, 0, 1.0, 0, "50.0%", 1, 0, 0, 0, 0),
    "power": (2, "50.0%", 0, 2, "80.0%", 0, 1, 2.0, 1, "100.0%", 1, 0, 1, 0, 0),
    "water": (1, "—", 1, 0, "100.0%", 0, 0, "—", 0, "—", 0, 0, 0, 0, 0),
    "market_regulation": (0, "—", 0, 1, "0.0%", 0, 1, 7.0, 0, "—", 0, 0, 1, 0, 0),
}
RANKED = ["kongcheng", "sti", "drc", "power", "water", "ecology", "market_regulation"]
"""By score: 100, 100 (both first), 80, 78, 77.8, 48, 30; ties by the unit's name. ecology discharged
one obligation on time and has not answered D past its deadline: 按期办结率 1 of 2, 35×50% / 35 = 50, −2 = 48.
power: (15×50% + 35×80% + 25×100% + 10×(1−0) + 15×(1−½)) / 100 = 78."""
FIELDS = ("assigned", "on_time_accept_rate", "returned", "completed", "on_time_rate", "current_overdue",
          "total_overdue", "avg_days", "extensions", "satisfaction_rate", "reworks", "warned", "overdue",
          "supervised", "listed")  # fmt: skip
SCORES = {"kongcheng": 100.0, "sti": 100.0, "ecology": 48.0, "drc": 80.0, "power": 78.0, "water": 77.8,
          "market_regulation": 30.0}  # fmt: skip


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


class Week:
    """Plays the days: before each action, the tick's sweep at every midnight that has passed."""

    def __init__(self, app, start: datetime) -> None:
        self.app = app
        self.swept = start

    def until(self, when: datetime) -> None:
        while self.swept + timedelta(days=1) <= when:
            self.swept += timedelta(days=1)
            self.app.clock.set(self.swept)
            self.app.sweeper.sweep()
        self.app.clock.set(when)

    def do(self, when: datetime, number: str, trigger: str, actor, fields=None) -> None:
        self.until(when)
        self.app.cases.advance(number, trigger, actor, fields or {})


@pytest.fixture
def week(app, actors, clock):
    a = actors
    clock.set(at("2026-10-08", 10))
    cases = {}
    for key, unit, handler in (("D", "ecology", a.ecology), ("E", "market_regulation", a.market_regulation)):
        cases[key] = new_enterprise_case(app, title=f"问题{key}")["number"]
        app.cases.advance(cases[key], "assign", a.dispatcher, {"lead_unit": unit, "class": "simple"})
        app.cases.advance(cases[key], "accept", handler)
    w = Week(app, at("2026-10-08"))
    w.until(at("2026-10-12", 9))
    for key, unit, klass in (("A", "power", "simple"), ("B", "power", "general"), ("C", "water", "general")):
        cases[key] = new_enterprise_case(app, title=f"问题{key}")["number"]
        app.cases.advance(cases[key], "assign", a.dispatcher, {"lead_unit": unit, "class": klass})
    cases["S"] = new_site_case(app)["number"]
    A, B, C, E, S = (cases[k] for k in "ABCES")
    w.do(at("2026-10-12", 10), A, "accept", a.power)
    w.do(at("2026-10-12", 10), C, "return", a.water, {"reason": "不属于本单位职责"})
    w.do(at("2026-10-12", 11), C, "assign", a.dispatcher, {"lead_unit": "drc"})
    w.do(at("2026-10-12", 14), C, "accept", a.drc)
    w.do(at("2026-10-12", 15), S, "start_verification", a.kongcheng)
    w.do(at("2026-10-12", 16), S, "classify_ban", a.dispatcher, {"plan": "依法取缔"})
    w.do(at("2026-10-13", 10), C, "answer", a.drc, ANSWER)
    w.do(at("2026-10-13", 11), C, "approve_answer", a.dispatcher)
    w.do(at("2026-10-14", 10), A, "answer", a.power, ANSWER)
    w.do(at("2026-10-14", 10), B, "accept", a.power)
    w.do(at("2026-10-14", 10), C, "reopen", a.dispatcher, {"satisfaction": "不满意", "reason": "企业不认可"})
    w.do(at("2026-10-14", 11), A, "approve_answer", a.dispatcher)
    w.until(at("2026-10-14", 15))
    complete_open_items(app, S, "clearing")
    w.do(at("2026-10-14", 16), S, "submit_clearance", a.kongcheng)
    w.do(at("2026-10-15", 10), A, "close", a.dispatcher, {"satisfaction": "满意"})
    w.do(at("2026-10-15", 10), B, "request_extension", a.power, {"reason": "需协调上级", "days": 5})
    w.do(at("2026-10-15", 10), C, "answer", a.drc, ANSWER)
    w.do(at("2026-10-15", 11), B, "approve_extension", a.dispatcher, {"days": 5})
    w.do(at("2026-10-15", 11), C, "approve_answer", a.dispatcher)
    w.until(at("2026-10-16", 9))
    complete_open_items(app, S, "signoffs")
    w.do(at("2026-10-16", 10), S, "pass_acceptance", a.dispatcher)
    w.do(at("2026-10-16", 10), B, "answer", a.power, ANSWER)
    w.do(at("2026-10-16", 10), E, "answer", a.market_regulation, ANSWER)
    w.do(at("2026-10-16", 11), B, "send_back", a.dispatcher, {"reason": "答复不完整"})
    w.do(at("2026-10-16", 11), C, "close", a.dispatcher, {"satisfaction": "基本满意"})
    w.until(at("2026-10-19", 9))  # Monday morning after the week
    app.sweeper.sweep()
    return cases


def test_bulletin_figures_per_unit_ranked(app, week):
    data = app.periodic.bulletin_data(WEEK)
    assert data["week"] == WEEK and data["period"] == "2026-10-12 至 2026-10-18"
    rows = {r["unit"]: r for r in data["rows"]}
    assert set(rows) == set(EXPECTED)
    for unit, figures in EXPECTED.items():
        assert {f: rows[unit][f] for f in FIELDS} == dict(zip(FIELDS, figures, strict=True)), unit
        assert rows[unit]["unit_name"] == app.org.name(unit)
    assert [r["unit"] for r in data["rows"]] == RANKED
    assert {r["unit"]: r["score"] for r in data["rows"]} == SCORES
    assert [r["rank_label"] for r in data["rows"]] == ["1", "1", "3", "4", "5", "6", "7"]
    assert data["red"] == ["孔城镇", "市科经局", "市发改委"]
    assert data["black"] == ["市市场监管局", "市生态环境分局", "市供水集团公司"]
    # the overdue list: what is still overdue now (E was answered, B accepted), naming who owes it
    assert [c["number"] for c in data["overdue_cases"]] == [week["D"]]
    [d] = data["overdue_cases"]
    assert (d["due_date"], d["obligation_label"], d["unit_name"], d["supervision"]) == (
        "2026-10-14", "办理并答复", "市生态环境分局", "overdue"
    )


def test_other_weeks_count_only_their_own_events(app, week):
    before = {r["unit"]: r for r in app.periodic.bulletin_data("2026-W41")["rows"]}
    # W41 (10-05..11): D and E were assigned and accepted on 10-08, by ecology and market_regulation
    assert {u: (r["assigned"], r["on_time_accept_rate"], r["completed"]) for u, r in before.items()
            if r["assigned"]} == {"ecology": (1, "100.0%", 0), "market_regulation": (1, "100.0%", 0)}  # fmt: skip
    after = app.periodic.bulletin_data("2026-W43")["rows"]
    assert all(r["assigned"] == r["completed"] == r["reworks"] == 0 for r in after)
    # the cumulative and current columns are there every week
    assert {r["unit"]: r["current_overdue"] for r in after if r["current_overdue"]} == {"ecology": 1}


def test_bulletin_documents(app, week, tmp_path):
    data = app.periodic.bulletin_data(WEEK)
    workbook = load_workbook(filename=_write(tmp_path / "b.xlsx", bulletin_xlsx(data)))
    sheet = workbook["通报"]
    assert WEEK in sheet.cell(1, 1).value and "2026-10-12 至 2026-10-18" in sheet.cell(1, 1).value
    header = [c.value for c in sheet[2]]
    assert header == [label for _, label, _ in COLUMNS]
    assert header[:4] == ["排名", "单位", "交办数", "按期签收率"] and "满意率" in header and "挂牌督办" in header
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert len(body) == len(RANKED)
    labels = ["1", "1", "3", "4", "5", "6", "7"]
    assert [(r[0], r[1]) for r in body] == [(label, app.org.name(u)) for label, u in zip(labels, RANKED, strict=True)]
    power = dict(zip(header, body[RANKED.index("power")], strict=True))
    assert (power["交办数"], power["按期签收率"], power["延期数"], power["重办数"], power["平均用时(工作日)"]) == (
        2, "50.0%", 1, 1, 2
    )  # fmt: skip
    overdue = workbook["超期案件"]
    assert [c.value for c in overdue[1]][:2] == ["编号", "标题"]
    assert [[c.value for c in row][0] for row in overdue.iter_rows(min_row=2)] == [week["D"]]

    html = bulletin_html(app.templates, data, app.notification_config.office)
    assert html.startswith("<!doctype html>") and '<meta charset="utf-8">' in html
    for unit in RANKED:
        assert app.org.name(unit) in html
    assert week["D"] in html and "50.0%" in html and WEEK in html


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def test_bulletin_is_sent_to_the_office_and_the_convenors_once_a_week(app, actors, week, clock):
    app.users.add("office_mail", "sti", ["dispatcher"], email="office@example.cn")
    app.users.add("mayor", "gov_office", ["convenor"], email="mayor@example.cn")
    app.users.add("vice_mayor", "gov_office", ["convenor", "supervisor"])
    clock.set(at("2026-10-19", 9))  # Monday 09:00: the scheduled run, for last week
    ticker = Ticker(app, holder="tick")
    ticker.bulletin()

    def sent_rows():
        with app.db.read() as conn:
            return list(conn.execute(select(N).where(N.c.event == "bulletin").order_by(N.c.id)))

    first = sent_rows()
    assert {(r.recipient, r.channel) for r in first} == {
        ("dispatcher", "inapp"), ("office_mail", "inapp"), ("office_mail", "email"),
        ("mayor", "inapp"), ("mayor", "email"), ("vice_mayor", "inapp"),
    } | UNIT_READERS  # fmt: skip
    assert all(r.idempotency_key.startswith(f"bulletin:{WEEK}:") for r in first)
    assert all(WEEK in r.subject and r.case_number is None for r in first)
    mail = next(r for r in first if r.channel == "email")
    assert "市供电公司" in mail.body_html and week["D"] in mail.body_html
    # again the same week (a second scheduler, or `report bulletin --send`): nothing new
    clock.set(at("2026-10-19", 15))
    assert app.periodic.bulletin(WEEK).recipients == 4 + len(UNIT_READERS)
    ticker.bulletin()
    assert [r.id for r in sent_rows()] == [r.id for r in first]
    report = app.dispatcher.dispatch()
    assert {r.id for r in first if r.channel == "email"} <= set(report.sent)
    # the next week's is another one
    clock.set(at("2026-10-26", 9))
    ticker.bulletin()
    assert {r.idempotency_key.split(":")[1] for r in sent_rows()} == {WEEK, "2026-W43"}


UNIT_READERS = {(name, "inapp") for name in ("power", "water", "gas", "kongcheng", "ecology", "drc",
                                              "market_regulation", "power_head")}  # fmt: skip
"""The standard handlers and unit head (helpers.STANDARD_USERS): in-app only, no addresses."""


def bulletin_rows(app) -> list:
    with app.db.read() as conn:
        return list(conn.execute(select(N).where(N.c.event == "bulletin").order_by(N.c.id)))


def test_bulletin_is_sent_to_every_member_unit_once_a_week(app, actors, week, clock):
    """各成员单位: each active handler and unit head of every department, on each of their
    channels, once per person however many roles they hold; the office and convenors still."""
    app.users.add("finance_clerk", "finance", ["handler"], email="finance@example.cn")  # no case this week
    app.users.add("ecology_head", "ecology", ["unit_head"], email="head@example.cn", phone="13800000000",
                  channels=["inapp", "email", "sms"])  # fmt: skip
    app.users.add("town_both", "kongcheng", ["handler", "unit_head"], email="town@example.cn")
    app.users.add("office_handler", "sti", ["dispatcher", "handler"], email="sti@example.cn")
    app.users.add("mayor", "gov_office", ["convenor"])
    app.users.add("gone", "water", ["handler"], email="gone@example.cn")
    app.users.set_active("gone", False)
    app.users.add("water_collector", "water", ["collector"], email="collector@example.cn")
    clock.set(at("2026-10-19", 9))
    result = app.periodic.bulletin(WEEK)

    first = bulletin_rows(app)
    pairs = [(r.recipient, r.channel) for r in first]
    assert len(pairs) == len(set(pairs)), "one message per person and channel"
    assert set(pairs) == {
        ("dispatcher", "inapp"), ("mayor", "inapp"),
        ("office_handler", "inapp"), ("office_handler", "email"),
        ("finance_clerk", "inapp"), ("finance_clerk", "email"),
        ("ecology_head", "inapp"), ("ecology_head", "email"),  # sms: no gateway configured
        ("town_both", "inapp"), ("town_both", "email"),
    } | UNIT_READERS  # fmt: skip
    assert result.recipients == len({name for name, _ in pairs}) == 6 + len(UNIT_READERS)
    assert not {name for name, _ in pairs} & {"gone", "water_collector", "collector", "supervisor"}
    assert {r.idempotency_key for r in first} == {f"bulletin:{WEEK}:bulletin:{n}:{c}" for n, c in pairs}
    mail = next(r for r in first if r.recipient == "finance_clerk" and r.channel == "email")
    assert WEEK in mail.subject and "市供电公司" in mail.body_html and week["D"] in mail.body_html
    inbox = app.inbox.messages(user="power_head", channel="inapp")  # in the unit head's inbox at once
    [note] = [m for m in inbox if m["event"] == "bulletin"]
    assert WEEK in note["subject"] and note["status"] == "sent"

    # again the same week: nothing twice, for the units as for the office
    clock.set(at("2026-10-19", 15))
    again = app.periodic.bulletin(WEEK)
    assert again.recipients == result.recipients
    assert [r.id for r in bulletin_rows(app)] == [r.id for r in first]
    # a handler added later gets that week's bulletin on the next run, and only they do
    app.users.add("drc_new", "drc", ["handler"])
    app.periodic.bulletin(WEEK)
    added = [(r.recipient, r.channel) for r in bulletin_rows(app) if r.id not in {f.id for f in first}]
    assert added == [("drc_new", "inapp")]


def test_an_unassigned_problem_is_not_held_against_its_town(app, actors, clock):
    clock.set(at("2026-10-12", 9))
    number = new_enterprise_case(app, town="longteng")["number"]  # registered: the office assigns within 1wd
    w = Week(app, at("2026-10-12"))
    w.until(at("2026-10-19", 9))
    assert app.cases.show(number)["supervision"] == "supervised"
    rows = {r["unit"]: r for r in app.periodic.bulletin_data(WEEK)["rows"]}
    town = rows.get("longteng", {})
    assert (town.get("warned", 0), town.get("overdue", 0), town.get("current_overdue", 0)) == (0, 0, 0), town


def test_a_case_supervised_by_hand_before_its_deadline_is_not_overdue(app, actors, clock):
    clock.set(at("2026-10-12", 9))
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "drc"})
    app.cases.advance(number, "accept", actors.drc)
    app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "市领导关注"})
    clock.set(at("2026-10-16", 9))  # due 10-26
    rows = {r["unit"]: r for r in app.periodic.bulletin_data(WEEK)["rows"]}
    assert rows["drc"]["supervised"] == 1
    assert (rows["drc"]["current_overdue"], rows["drc"]["total_overdue"]) == (0, 0)


def test_a_case_supervised_by_hand_that_then_passes_its_deadline_counts_as_overdue_once(app, actors, clock):
    """累计超期数 keeps it (the sweep records the overdue moment it may not climb to), but no
    逾期催办 is counted or sent after the 督办: the level never went back down to 逾期."""
    clock.set(at("2026-10-12", 9))
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "drc", "class": "simple"})
    app.cases.advance(number, "accept", actors.drc)  # due Monday 10-19
    app.cases.advance(number, "supervise", actors.dispatcher, {"reason": "市领导关注"})
    with app.db.read() as conn:
        sent_before = conn.execute(select(N.c.id)).all()
    Week(app, at("2026-10-12")).until(at("2026-10-21", 9))  # overdue 10-20 00:00; listed only at 10-27
    with app.db.read() as conn:
        assert conn.execute(select(N.c.id)).all() == sent_before, "the overdue record notifies nobody"
    assert [e["trigger"] for e in app.cases.history(number)][-2:] == ["supervise", "record_overdue"]
    rows = {r["unit"]: r for r in app.periodic.bulletin_data("2026-W43")["rows"]}
    assert (rows["drc"]["current_overdue"], rows["drc"]["total_overdue"]) == (1, 1)
    # its obligation stands at 督办 (raised by hand), never at 逾期催办
    assert (rows["drc"]["overdue"], rows["drc"]["supervised"], rows["drc"]["listed"]) == (0, 1, 0)
    Week(app, at("2026-10-21")).until(at("2026-10-28", 9))  # listed: still one overdue case
    rows = {r["unit"]: r for r in app.periodic.bulletin_data("2026-W44")["rows"]}
    assert (rows["drc"]["total_overdue"], rows["drc"]["listed"]) == (1, 1)


def test_registering_a_problem_adds_no_bulletin_row(app, actors, clock):
    clock.set(at("2026-10-12", 9))
    new_enterprise_case(app, town="longteng")
    clock.set(at("2026-10-12", 10))
    # the office owes the 交办 (it is counted when done); nobody else owes anything yet
    [row] = app.periodic.bulletin_data(WEEK)["rows"]
    assert (row["unit"], row["score"], row["rank_label"], row["assigned"], row["completed"]) == ("sti", "—", "—", 0, 0)

