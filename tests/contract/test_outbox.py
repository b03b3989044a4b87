"""The outbox (DOMAIN.md §5–§6): every notification event, produced by walking real cases through
the service and the sweep, reaches exactly its recipients on the channels they have, rendered in
Chinese with the case number, in the same transaction as the case change — on SQLite and
PostgreSQL.

The app here is built like the shared ``app`` fixture, but with an SMTP server and an SMS gateway
configured (so that the installation can deliver e-mail and SMS at all); nothing is sent: the
outbox only writes rows, and these tests read them back.
"""

import re
from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from helpers import (
    ENTERPRISE,
    complete_open_items,
    enterprise_fields,
    new_enterprise_case,
    new_site_case,
    photo,
    walk_site_to,
)
from sqlalchemy import func, select

from caseflow.app import build
from cases.models import Case, Notification
from config.settings import Settings
from notifications.channels.memory import MemoryChannel
from notifications.events import EVENTS
from workflow.clock import SHANGHAI
from workflow.errors import GuardFailed, PermissionDenied

N = Notification.__table__
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def app(database_url, data_dir, clock):
    """The shared fixture's app, on an installation that has e-mail and SMS configured."""
    settings = Settings(
        database_url=database_url, data_dir=data_dir, config_dir=None, fake_now=None,
        smtp_url="smtp://127.0.0.1:2525", mail_from="督办系统 <noreply@example.cn>",
        sms_url="http://127.0.0.1:9/sms",
    )  # fmt: skip
    application = build(settings, clock=clock)
    application.dispatcher.channels = {name: MemoryChannel(name) for name in ("inapp", "email", "sms", "webhook")}
    try:
        application.migrate()
        yield application
    finally:
        application.close()


# user → (department, roles, e-mail, phone, channels); together with the standard users
# (helpers.STANDARD_USERS, none of whom has an address, so they get in-app messages only)
PEOPLE = {
    "power_mail": ("power", ["handler"], "power@example.cn", "13800000001", ["inapp", "email", "sms"]),
    "power_chief": ("power", ["unit_head"], "chief@example.cn", "13800000002", None),
    "drc_mail": ("drc", ["handler"], "drc@example.cn", None, None),
    "drc_head": ("drc", ["unit_head"], None, None, None),
    "water_mail": ("water", ["handler"], "water@example.cn", None, None),
    "kc_mail": ("kongcheng", ["handler"], "kc@example.cn", None, None),
    "kc_head": ("kongcheng", ["unit_head"], "kchead@example.cn", None, None),
    "eco_head": ("ecology", ["unit_head"], "ecohead@example.cn", None, None),
    "office_mail": ("sti", ["dispatcher"], "office@example.cn", "13800000003", None),
    "mayor": ("gov_office", ["convenor"], "mayor@example.cn", None, None),
    "vice_mayor": ("gov_office", ["convenor"], None, None, None),
    "finance": ("finance", ["handler"], "finance@example.cn", None, None),
    "no_mail": ("power", ["handler"], "quiet@example.cn", None, ["inapp"]),
}
"""``no_mail`` has an address but chose in-app only; ``power_mail`` chose SMS too (and has a phone);
``power_chief`` has a phone but the default channels (in-app, e-mail): no SMS."""


@pytest.fixture
def people(app, actors):
    for name, (dept, roles, email, phone, channels) in PEOPLE.items():
        app.users.add(name, dept, roles, email=email, phone=phone, channels=channels)
    return actors


def channels_of(name: str) -> set[str]:
    if name not in PEOPLE:
        return {"inapp"}
    _, _, email, phone, channels = PEOPLE[name]
    wanted = set(channels or ["inapp", "email"])
    usable = {"inapp"} | ({"email"} if email else set()) | ({"sms"} if phone else set())
    return wanted & usable


def expected(*names: str) -> set[tuple[str, str]]:
    return {(name, channel) for name in names for channel in channels_of(name)}


# Who is who, by DOMAIN.md §5–§6
POWER_HANDLERS = ("power", "power_mail", "no_mail")
POWER_HEADS = ("power_head", "power_chief")
DRC_HANDLERS = ("drc", "drc_mail")
TOWN_HANDLERS = ("kongcheng", "kc_mail")
DISPATCHERS = ("dispatcher", "office_mail")
CONVENORS = ("mayor", "vice_mayor")


class Outbox:
    """Reads the rows the outbox wrote since the last look."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen = 0

    def new(self) -> list:
        with self.app.db.read() as conn:
            rows = list(conn.execute(select(N).where(N.c.id > self.seen).order_by(N.c.id)))
        if rows:
            self.seen = rows[-1].id
        return rows

    def after(self, action) -> list:
        """The rows written by ``action()``."""
        self.new()
        action()
        return self.new()


def by_event(rows) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        found.setdefault(r.event, set()).add((r.recipient, r.channel))
    return found


def check_rendering(rows, number: str, now: datetime) -> None:
    """Chinese subject and body naming the case; in-app delivered at once, others queued."""
    for r in rows:
        assert r.case_number == number
        assert number in r.subject and number in r.body_text, (r.event, r.subject)
        assert HAN.search(r.subject) and HAN.search(r.body_text), r.subject
        assert r.urgent is EVENTS[r.event].urgent
        assert r.created_at == now
        if r.channel == "inapp":
            assert (r.status, r.sent_at, r.attempts) == ("sent", now, 0)
        else:
            assert (r.status, r.sent_at, r.attempts) == ("pending", None, 0)
    keys = [r.idempotency_key for r in rows]
    assert len(set(keys)) == len(keys)
    triples = Counter((r.event, r.recipient, r.channel) for r in rows)
    assert all(n == 1 for n in triples.values()), triples


def count_rows(app) -> int:
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(N)).scalar_one())


# --- the enterprise workflow -------------------------------------------------------------------------


def test_every_enterprise_event_reaches_its_recipients(app, people):
    a = people
    box = Outbox(app)
    now = app.clock.now()
    number = app.cases.create(ENTERPRISE, a.collector, enterprise_fields())["number"]
    assert box.new() == [], "registering a problem tells nobody"

    def step(trigger, actor, fields=None):
        rows = box.after(lambda: app.cases.advance(number, trigger, actor, fields or {}))
        check_rendering(rows, number, now)
        return by_event(rows)

    # 交办: the lead unit's and the co-unit's handlers — not their unit heads, nor other units
    got = step("assign", a.dispatcher, {"lead_unit": "power", "co_units": ["drc"], "instructions": "三日内对接企业"})
    assert got == {"assigned": expected(*POWER_HANDLERS, *DRC_HANDLERS)}
    # 退回 → the office's dispatchers
    assert step("return", a.power, {"reason": "不属于本单位职责"}) == {"returned": expected(*DISPATCHERS)}
    # 交办 again after the return (the co-units given before stay) and 改派 → the new lead unit
    # and the co-units
    got = step("assign", a.dispatcher, {"lead_unit": "water"})
    assert got == {"assigned": expected("water", "water_mail", *DRC_HANDLERS)}
    assert step("reassign", a.dispatcher, {"lead_unit": "power", "co_units": ["drc"], "reason": "职责调整"}) == {
        "assigned": expected(*POWER_HANDLERS, *DRC_HANDLERS)
    }
    # 签收, 协办签收, 申请延期: nobody is told
    assert step("accept", a.power) == {}
    assert step("co_accept", a.drc) == {}
    assert step("request_extension", a.power, {"reason": "需协调上级部门", "days": 5}) == {}
    # 延期审批结果 (approval and refusal) → the lead unit's handlers
    got = step("approve_extension", a.dispatcher, {"days": 5})
    assert got == {"extension_decided": expected(*POWER_HANDLERS)}
    assert step("request_extension", a.power, {"reason": "仍需协调", "days": 3}) == {}
    assert step("reject_extension", a.dispatcher, {"reason": "无正当理由"}) == {
        "extension_decided": expected(*POWER_HANDLERS)
    }
    assert step("co_feedback", a.drc, {"reply": "已配合完成"}) == {}
    answer = {"result": "resolved", "reply": "已完成增容", "signed_by": "张主任"}
    # 答复待审 → dispatchers; 驳回重办 → the lead unit's handlers
    assert step("answer", a.power, answer) == {"answered": expected(*DISPATCHERS)}
    assert step("send_back", a.dispatcher, {"reason": "答复不完整"}) == {"sent_back": expected(*POWER_HANDLERS)}
    assert step("answer", a.power, answer) == {"answered": expected(*DISPATCHERS)}
    # 回访提醒 → dispatchers (the office calls the enterprise back)
    assert step("approve_answer", a.dispatcher) == {"follow_up_due": expected(*DISPATCHERS)}
    # an unsatisfied call back reopens the case: 驳回重办 again
    reopen = {"satisfaction": "不满意", "reason": "问题未解决"}
    assert step("reopen", a.dispatcher, reopen) == {"sent_back": expected(*POWER_HANDLERS)}
    step("answer", a.power, answer)
    step("approve_answer", a.dispatcher)
    # the second reopen raises the case (提级) to the convenors. DOMAIN.md names only the
    # convenors; the lead unit's head is told too (the 一把手 responsibility rule).
    got = step("reopen", a.dispatcher, reopen)
    assert got == {"sent_back": expected(*POWER_HANDLERS), "raised": expected(*CONVENORS, *POWER_HEADS)}
    step("answer", a.power, answer)
    step("approve_answer", a.dispatcher)
    # 销号 → the lead and co-units, the enterprise's town, and whoever registered the problem
    got = step("close", a.dispatcher, {"satisfaction": "满意"})
    assert got == {"closed": expected(*POWER_HANDLERS, *DRC_HANDLERS, *TOWN_HANDLERS, "collector")}

    with app.db.read() as conn:
        rows = list(conn.execute(select(N)))
    # nobody outside the case's business is ever told anything
    assert not {r.recipient for r in rows} & {"supervisor", "finance", "gas", "ecology", "eco_head", "drc_head"}


def test_assignment_notice_is_the_jiaoban_dan(app, people):
    """The 交办单 carries what DOMAIN.md §6 lists."""
    number = new_enterprise_case(app)["number"]
    box = Outbox(app)
    rows = box.after(
        lambda: app.cases.advance(
            number, "assign", people.dispatcher,
            {"lead_unit": "power", "co_units": ["drc"], "class": "simple", "instructions": "三日内对接企业"},
        )
    )  # fmt: skip
    mail = next(r for r in rows if (r.recipient, r.channel) == ("power_mail", "email"))
    text, html = mail.body_text, mail.body_html
    assert mail.subject == f"【交办单】{number} 园区企业用电增容审批慢"
    assert "市供电公司" in text and "主办" in text and "2026-10-08（1个工作日）" in text
    assert "简单件5个工作日" in text
    for needle in (number, "园区企业用电增容审批慢", "桐城市示例包装有限公司", enterprise_fields()["uscc"],
                   "企业新上生产线", "市供电公司", "市发改委", "三日内对接企业", "2026-10-08（1个工作日）",
                   "正常", "联席办", f"/cases/{number}"):  # fmt: skip
        assert needle in html, needle
    co = next(r for r in rows if (r.recipient, r.channel) == ("drc_mail", "email"))
    assert "协办" in co.body_text


def test_ladder_steps_reach_the_responsible_unit_and_up(app, people, clock):
    """warned → the responsible unit's handlers; overdue → + its unit head; supervised → unit
    head + office; listed → convenors (DOMAIN.md §5). (A co-unit's feedback climbs a ladder of
    its own: tests/contract/test_obligations.py.)"""
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    box = Outbox(app)
    box.new()
    # accept within 1wd: due 2026-10-08 (10-01..07 holiday), due_at 10-09 00:00
    moments = {
        "warned": datetime(2026, 10, 8, 0, 0, tzinfo=SHANGHAI),
        "overdue": datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI),
        "supervised": datetime(2026, 10, 13, 0, 0, tzinfo=SHANGHAI),  # 10-08 + 3wd (10-10 is a workday)
        "listed": datetime(2026, 10, 15, 0, 0, tzinfo=SHANGHAI),
    }
    got = {}
    for level, at in moments.items():
        clock.set(at - timedelta(seconds=1))
        assert app.sweeper.sweep().steps == [] and box.new() == []
        clock.set(at)
        assert [s.level for s in app.sweeper.sweep().steps] == [level]
        rows = box.new()
        check_rendering(rows, number, at)
        got.update(by_event(rows))
    assert got["warned"] == expected(*POWER_HANDLERS)
    assert got["overdue"] == expected(*POWER_HANDLERS, *POWER_HEADS)
    assert got["supervised"] == expected(*POWER_HEADS, *DISPATCHERS)
    assert CONVENORS and expected(*CONVENORS) <= got["listed"]
    assert not {r for r, _ in got["listed"]} & {*POWER_HANDLERS, *DISPATCHERS, *DRC_HANDLERS}


def test_listed_reaches_the_convenors_only(app, people, clock):
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    clock.set(datetime(2026, 10, 15, 0, 0, tzinfo=SHANGHAI))
    box = Outbox(app)
    box.new()
    app.sweeper.sweep()
    rows = [r for r in box.new() if r.event == "listed"]
    assert {(r.recipient, r.channel) for r in rows} == expected(*CONVENORS)


def test_a_registered_case_left_unassigned_warns_the_office(app, people, clock):
    """The clock of ``registered`` is the office's: its dispatchers are the responsible unit."""
    number = new_enterprise_case(app, town="longteng")["number"]
    box = Outbox(app)
    clock.set(datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI))  # due 10-08: warned and overdue
    assert [s.level for s in app.sweeper.sweep().steps] == ["warned", "overdue"]
    rows = box.new()
    check_rendering(rows, number, clock.now())
    got = by_event(rows)
    assert got["warned"] == expected(*DISPATCHERS)
    assert expected(*DISPATCHERS) <= got["overdue"]


def test_manual_supervision_notifies_like_the_ladder(app, people):
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "drc"})
    app.cases.advance(number, "accept", people.drc)
    box = Outbox(app)
    box.new()
    app.cases.advance(number, "supervise", people.dispatcher, {"reason": "企业多次反映"})
    rows = box.new()
    check_rendering(rows, number, app.clock.now())
    assert by_event(rows) == {"supervised": expected("drc_head", *DISPATCHERS)}
    app.cases.advance(number, "list", people.dispatcher, {"reason": "市领导批示"})
    assert expected(*CONVENORS) <= by_event(box.new())["listed"]


# --- the site workflow ----------------------------------------------------------------------------


@pytest.mark.parametrize("cut_gas", ["yes", "no"])
def test_item_requests_go_to_each_executor_with_its_own_items(app, people, cut_gas):
    number = new_site_case(app)["number"]
    app.cases.advance(number, "start_verification", people.kongcheng)
    box = Outbox(app)
    box.new()
    rows = box.after(
        lambda: app.cases.advance(number, "classify_ban", people.dispatcher, {"plan": "依法取缔", "cut_gas": cut_gas})
    )
    check_rendering(rows, number, app.clock.now())
    units = {"water": ("water", "water_mail"), "power": POWER_HANDLERS, "kongcheng": TOWN_HANDLERS}
    if cut_gas == "yes":
        units["gas"] = ("gas",)
    assert by_event(rows) == {"item_request": expected(*[u for users in units.values() for u in users])}
    own = {
        "water": ["断水"], "power": ["断电"], "gas": ["断气"], "kongcheng": ["清除原料", "清除产品", "清除设备"],
    }  # fmt: skip
    everything = {label for labels in own.values() for label in labels}
    for r in rows:
        unit = next(u for u, users in units.items() if r.recipient in users)
        assert r.subject == f"【两断三清任务】{number} 孔城镇某塑料颗粒加工点"
        listed = {label for label in everything if label in r.body_text}
        assert listed == set(own[unit]), (r.recipient, r.body_text)
        if r.body_html:
            cells = set(re.findall(r'<td style="[^"]*">([^<（]+)(?:（[^<]*)?</td>', r.body_html))
            assert cells & everything == set(own[unit]), (r.recipient, cells)


def test_site_walk_acceptance_closure_and_revisit(app, people, clock):
    a = people
    number = app.cases.create("scattered_polluting", a.kongcheng, {
        "site_name": "孔城镇某塑料颗粒加工点", "address": "孔城镇桐梓村三组", "town": "kongcheng",
        "violations": ["环境违法", "无证无照"],
    })["number"]  # fmt: skip
    box = Outbox(app)
    assert box.new() == []
    app.cases.advance(number, "start_verification", a.kongcheng)
    app.cases.advance(number, "classify_rectify", a.dispatcher, {"items": ["business_license"], "plan": "限期办证"})
    got = by_event(box.new())
    assert got == {"item_request": expected(*TOWN_HANDLERS)}, "rectification items are the town's"
    complete_open_items(app, number, "rectification")
    # the licence, reported by the town, is for 市市场监管局 to confirm; its confirmation goes back
    assert by_event(box.new()) == {
        "item_decision_requested": expected("market_regulation"), "item_decided": expected(*TOWN_HANDLERS)
    }
    # 验收通知 → the town, the review department (first violation: 环境违法 → ecology), the office
    rows = box.after(lambda: app.cases.advance(number, "submit_rectification", a.kongcheng))
    check_rendering(rows, number, clock.now())
    assert by_event(rows) == {"acceptance": expected(*TOWN_HANDLERS, "ecology", *DISPATCHERS)}
    # a failed acceptance of a rectify case (first time) goes back to rectifying: nothing new to do
    app.cases.advance(number, "fail_acceptance", a.dispatcher, {"reason": "证照未办齐"})
    assert by_event(box.new()) == {}
    # the site is then banned: clearing items for every executor
    app.cases.advance(number, "convert_to_ban", a.dispatcher, {"reason": "整改不到位", "plan": "依法取缔"})
    assert by_event(box.new()) == {"item_request": expected("water", "water_mail", *POWER_HANDLERS, *TOWN_HANDLERS)}
    complete_open_items(app, number, "clearing")
    app.cases.advance(number, "submit_clearance", a.kongcheng)
    assert by_event(box.new()) == {"acceptance": expected(*TOWN_HANDLERS, "ecology", *DISPATCHERS)}
    complete_open_items(app, number, "signoffs")
    # 销号 of a site → the town's handlers and whoever reported it (the town's handler here)
    rows = box.after(lambda: app.cases.advance(number, "pass_acceptance", a.dispatcher))
    check_rendering(rows, number, clock.now())
    assert by_event(rows) == {"closed": expected(*TOWN_HANDLERS)}
    # 回头看 falls due 30 days after closing (the sweep) → the town's handlers
    # (30 calendar days: the 30th day after the closing day ends at 24:00)
    closed_on = clock.now().astimezone(SHANGHAI).date()
    due = datetime.combine(closed_on + timedelta(days=31), time(0), SHANGHAI)
    clock.set(due - timedelta(seconds=1))
    app.sweeper.sweep()
    assert by_event(box.new()) == {}
    clock.set(due)
    assert [s.action for s in app.sweeper.sweep().steps] == ["revisit"]
    rows = box.new()
    check_rendering(rows, number, clock.now())
    assert by_event(rows) == {"revisit_due": expected(*TOWN_HANDLERS)}
    # a relapse reported at the revisit: the clearing items again, to every executor
    app.cases.advance(number, "report_relapse", a.kongcheng, {"notes": "原址复产"}, evidence=[photo(3)])
    assert set(by_event(box.new())) == {"item_request"}


def test_site_ladder_in_clearing_reaches_the_town(app, people, clock):
    number = new_site_case(app)["number"]
    app.cases.advance(number, "start_verification", people.dispatcher)
    app.cases.advance(number, "classify_ban", people.dispatcher, {"plan": "依法取缔"})
    # the utilities cut in time (their own 3wd deadlines): what is left is the town's
    app.cases.complete_item(number, "cut_water", people.water, evidence=[photo(1)])
    app.cases.complete_item(number, "cut_power", people.power, {"meter_reading": "8"}, evidence=[photo(2)])
    box = Outbox(app)
    box.new()
    # clearing: 15 calendar days from 2026-09-30 → due 10-15, overdue from 10-16 00:00
    clock.set(datetime(2026, 10, 16, 0, 0, tzinfo=SHANGHAI))
    assert [s.level for s in app.sweeper.sweep().steps] == ["warned", "overdue"]
    got = by_event(box.new())
    assert got["warned"] == expected(*TOWN_HANDLERS)
    assert got["overdue"] == expected(*TOWN_HANDLERS, "kc_head")


# --- what is not written --------------------------------------------------------------------------


def test_a_refused_action_writes_no_notification(app, people):
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power", "co_units": ["drc"]})
    app.cases.advance(number, "accept", people.power)
    before = count_rows(app)
    with pytest.raises(PermissionDenied):
        app.cases.advance(number, "answer", people.drc, {"result": "resolved", "reply": "x", "signed_by": "y"})
    with pytest.raises(GuardFailed):  # the co-unit has not fed back yet
        app.cases.advance(number, "answer", people.power, {"result": "resolved", "reply": "x", "signed_by": "y"})
    with pytest.raises(PermissionDenied):
        app.cases.advance(number, "supervise", people.power, {"reason": "自己督办自己"})
    assert count_rows(app) == before


class Boom(RuntimeError):
    pass


class FailingSink:
    """A sink after the outbox that fails: the whole change, outbox rows included, rolls back."""

    def __init__(self) -> None:
        self.calls = 0

    def on_change(self, conn, change) -> None:
        self.calls += 1
        raise Boom(f"after {change.trigger}")


def test_a_rolled_back_change_writes_no_notification(app, people, clock):
    number = new_enterprise_case(app)["number"]
    sink = FailingSink()
    app.cases.sinks.append(sink)
    with pytest.raises(Boom):
        app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    assert sink.calls == 1 and count_rows(app) == 0
    assert app.cases.show(number)["state"] == "registered"
    # the same for the sweep's ladder steps
    app.cases.sinks.remove(sink)
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"})
    written = count_rows(app)
    assert written > 0
    app.sweeper.sinks.append(sink)
    clock.set(datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI))
    with pytest.raises(Boom):
        app.sweeper.sweep()
    assert count_rows(app) == written
    with app.db.read() as conn:
        assert conn.execute(select(Case.__table__.c.ladder_level)).scalar_one() == "normal"
    app.sweeper.sinks.remove(sink)
    assert [s.level for s in app.sweeper.sweep().steps] == ["warned", "overdue"]
    assert count_rows(app) > written


class Recorder:
    def __init__(self) -> None:
        self.changes = []

    def on_change(self, conn, change) -> None:
        self.changes.append(change)


def test_idempotency_keys_are_unique_and_a_replayed_change_adds_nothing(app, people):
    recorder = Recorder()
    app.cases.sinks.append(recorder)
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power", "co_units": ["drc"]})
    app.cases.advance(number, "return", people.power, {"reason": "不属于本单位职责"})
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power", "co_units": ["drc"]})
    with app.db.read() as conn:
        rows = list(conn.execute(select(N)))
    keys = [r.idempotency_key for r in rows]
    assert len(keys) == len(set(keys))
    # one key per (case event, event, recipient, channel): the two assignments are two messages
    per_triple = Counter((r.event, r.recipient, r.channel) for r in rows)
    assert per_triple[("assigned", "power_mail", "sms")] == 2
    assert {k.split(":")[1] for k in keys if ":assigned:power_mail:" in k} == {"2", "4"}
    for r in rows:
        assert r.idempotency_key.endswith(f":{r.event}:{r.recipient}:{r.channel}")
    # replaying a change (as a retried transaction would) writes no second row
    before = len(rows)
    with app.db.write() as conn:
        for change in recorder.changes:
            app.outbox.on_change(conn, change)
    assert count_rows(app) == before


def test_channel_choice_and_addresses(app, people):
    """In-app always; e-mail only with an address and when chosen; SMS only when chosen and
    with a phone number; a user can change the choice."""
    number = new_enterprise_case(app)["number"]
    rows = Outbox(app).after(lambda: app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power"}))
    got = {(r.recipient, r.channel) for r in rows}
    assert got == {("power", "inapp"), ("power_mail", "inapp"), ("power_mail", "email"), ("power_mail", "sms"),
                   ("no_mail", "inapp")}  # fmt: skip
    app.users.set_channels("power_mail", ["inapp"])
    app.users.set_channels("no_mail", ["email", "sms"])  # no phone: e-mail only
    rows = Outbox(app).after(
        lambda: app.cases.advance(number, "reassign", people.dispatcher, {"lead_unit": "drc", "reason": "x"})
    )
    app.cases.advance(number, "reassign", people.dispatcher, {"lead_unit": "power", "reason": "改回"})
    with app.db.read() as conn:
        last = {(r.recipient, r.channel) for r in conn.execute(select(N).where(N.c.id > rows[-1].id))}
    assert last == {("power", "inapp"), ("power_mail", "inapp"), ("no_mail", "inapp"), ("no_mail", "email")}


def test_without_smtp_configured_only_in_app_rows_are_written(database_url, data_dir, clock):
    """An installation without e-mail does not queue e-mail it could never send."""
    from helpers import build_app, standard_actors

    plain = build_app(database_url, data_dir, clock=clock)
    try:
        plain.migrate()
        a = standard_actors(plain)
        plain.users.add("power_mail", "power", ["handler"], email="power@example.cn")
        number = new_enterprise_case(plain)["number"]
        plain.cases.advance(number, "assign", a.dispatcher, {"lead_unit": "power"})
        with plain.db.read() as conn:
            got = {(r.recipient, r.channel) for r in conn.execute(select(N))}
        assert got == {("power", "inapp"), ("power_mail", "inapp")}
    finally:
        plain.close()


def test_reassigning_without_co_units_tells_only_the_new_lead_unit(app, people):
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "power", "co_units": ["drc"]})
    app.cases.advance(number, "return", people.power, {"reason": "应由发改委主办"})
    rows = Outbox(app).after(
        lambda: app.cases.advance(number, "assign", people.dispatcher, {"lead_unit": "drc", "co_units": []})
    )
    assert by_event(rows) == {"assigned": expected(*DRC_HANDLERS)}


def test_item_decisions_reach_the_unit_that_rules_and_then_the_executor(app, people):
    """A 不适用 declaration goes to the office's dispatchers and its ruling back to the executor; a
    reported licence goes to 市市场监管局, its sending back to the town; each names the item."""
    a = people
    banned = new_site_case(app)["number"]
    walk_site_to(app, banned, "clearing", "ban")
    box = Outbox(app)
    rows = box.after(lambda: app.cases.decide_item(banned, "cut_water", "waive", a.water, "自备井取水，无水可断"))
    check_rendering(rows, banned, app.clock.now())
    assert by_event(rows) == {"item_decision_requested": expected(*DISPATCHERS)}
    [ruling] = [o for o in app.cases.show(banned)["obligations"] if o["key"] == "waiver:cut_water"]
    assert all("断水" in r.subject and "自备井取水" in r.body_text for r in rows)
    assert all(f"请在{ruling['due_date']}前审批" in r.body_text for r in rows)
    rows = box.after(lambda: app.cases.decide_item(banned, "cut_water", "approve_waiver", a.dispatcher))
    assert by_event(rows) == {"item_decided": expected("water", "water_mail")}
    assert all("不适用申请已批准" in r.subject for r in rows)

    rectified = new_site_case(app)["number"]
    walk_site_to(app, rectified, "rectifying", "rectify")
    rows = box.after(lambda: app.cases.complete_item(rectified, "business_license", a.kongcheng, evidence=[photo(3)]))
    check_rendering(rows, rectified, app.clock.now())
    assert by_event(rows) == {"item_decision_requested": expected("market_regulation")}
    [confirm] = [o for o in app.cases.show(rectified)["obligations"] if o["key"] == "confirm:business_license"]
    assert confirm["open"] and confirm["unit"] == "market_regulation"  # due 5 working days after the report
    assert all("营业执照" in r.subject and f"在{confirm['due_date']}前核实确认" in r.body_text for r in rows)
    rows = box.after(
        lambda: app.cases.decide_item(rectified, "business_license", "reject", a.market_regulation, "经营范围不符")
    )
    assert by_event(rows) == {"item_decided": expected(*TOWN_HANDLERS)}
    assert all("退回重办" in r.subject and "经营范围不符" in r.body_text for r in rows)
