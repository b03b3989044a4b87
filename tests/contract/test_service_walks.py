"""Whole walks of both workflows through ``CaseService``, on SQLite and PostgreSQL.

Every step goes through ``Tracker``, which checks the state, the version (+1), every counter,
that the returned case is what ``show`` reads back, and the history (seq 1..n, trigger, actor,
from/to, hash links). The walks together reach every state of both definitions.
"""

import hashlib

import pytest
from helpers import Tracker, new_enterprise_case, new_site_case, photo, tiny_png

from cases import audit
from workflow.errors import GuardFailed, NotFound, PermissionDenied

ENTERPRISE_STATES = {
    "registered", "assigned", "in_progress", "extension_requested",
    "answered", "follow_up", "closed", "not_accepted",
}  # fmt: skip
SITE_STATES = {
    "reported", "verifying", "clearing", "rectifying", "acceptance",
    "closed", "revisit_due", "archived", "dismissed",
}  # fmt: skip
ANSWER = {"result": "resolved", "reply": "已协调供电公司完成增容", "signed_by": "王局长"}
CLEARING = ["cut_water", "cut_power", "clear_materials", "clear_products", "clear_equipment"]
SIGNOFFS = ["town_check", "department_review", "office_verification"]


def item_keys(case, checklist):
    return [i["key"] for i in case["items"] if i["checklist"] == checklist]


def test_enterprise_full_walk_with_co_units_extensions_send_back_and_two_reopens(app, actors):
    a = actors
    created = new_enterprise_case(app, a.collector, title="企业反映用地指标紧张")
    assert created["number"] == "QY-2026-00001"
    assert created["state"] == "registered" and created["version"] == 1 and created["open"] is True
    assert created["created_by"] == "collector" and created["counters"] == {}
    t = Tracker(app, created)
    seen = {t.state}

    case = t.advance(
        "assign", a.dispatcher,
        {"lead_unit": "市供电公司", "co_units": "water,市海特燃气公司",
         "class": "simple", "instructions": "5个工作日内办结"},
        to="assigned", comment="请供电公司牵头",
    )  # fmt: skip
    assert case["lead_unit"] == "power" and case["lead_unit_name"] == "市供电公司"
    assert case["fields"]["class"] == "simple" and case["fields"]["co_units"] == ["water", "gas"]
    assert set(case["co_units"]) == {"water", "gas"}
    assert all(c == {"accepted_at": None, "feedback_at": None, "feedback": None} for c in case["co_units"].values())
    assert app.cases.show(t.number, a.power)["allowed_triggers"] == ["accept", "return"]
    assert app.cases.show(t.number, a.water)["allowed_triggers"] == ["co_accept"]
    seen.add(t.state)

    case = t.advance("co_accept", a.water, to="assigned")
    assert case["co_units"]["water"]["accepted_at"] == "2026-09-30T10:00:00+08:00"
    assert case["co_units"]["gas"]["accepted_at"] is None
    t.advance("accept", a.power, to="in_progress")
    seen.add(t.state)
    t.advance("co_accept", a.gas, to="in_progress")

    with pytest.raises(GuardFailed) as refused:  # the lead unit waits for every co-unit
        app.cases.advance(t.number, "answer", a.power, ANSWER)
    assert refused.value.guard == "all_co_units_fed_back"
    assert app.cases.show(t.number)["version"] == t.version

    case = t.advance("co_feedback", a.water, {"reply": "供水已具备条件"}, to="in_progress")
    assert case["co_units"]["water"]["feedback"] == "供水已具备条件"
    assert case["co_units"]["water"]["feedback_at"] is not None
    case = t.advance("co_feedback", a.gas, {"reply": "燃气无意见"}, to="in_progress")
    assert all(c["feedback_at"] for c in case["co_units"].values())

    t.advance(
        "request_extension",
        a.power,
        {"reason": "需上级电网公司审批", "days": 5},
        to="extension_requested",
    )
    seen.add(t.state)
    case = t.advance(
        "approve_extension", a.dispatcher, {"days": 3},
        to="in_progress", bump=("extension_count",), counters={"extension_days": 3},
    )  # fmt: skip
    assert case["counters"] == {"extension_count": 1, "extension_days": 3}
    t.advance("request_extension", a.power, {"reason": "仍需时间", "days": 10}, to="extension_requested")
    t.advance("reject_extension", a.dispatcher, {"reason": "不符合延期条件"}, to="in_progress")

    case = t.advance("answer", a.power, ANSWER, to="answered")
    assert case["fields"]["result"] == "resolved" and case["fields"]["signed_by"] == "王局长"
    seen.add(t.state)
    t.advance(
        "send_back",
        a.dispatcher,
        {"reason": "答复不完整"},
        to="in_progress",
        bump=("send_back_count",),
    )
    t.advance("answer", a.power, ANSWER, to="answered")
    t.advance("approve_answer", a.dispatcher, to="follow_up")
    seen.add(t.state)

    case = t.advance(
        "reopen", a.dispatcher, {"satisfaction": "不满意", "reason": "企业反映仍未通电"},
        to="in_progress", bump=("reopen_count",),
    )  # fmt: skip
    assert case["raised_to_convenors"] is None
    t.advance("answer", a.power, ANSWER, to="answered")
    t.advance("approve_answer", a.dispatcher, to="follow_up")
    case = t.advance(
        "reopen", a.dispatcher, {"satisfaction": "非常不满意", "reason": "第二次不满意"},
        to="in_progress", bump=("reopen_count",),
    )  # fmt: skip
    assert case["counters"]["reopen_count"] == 2
    assert case["raised_to_convenors"] == "2026-09-30T10:00:00+08:00"  # 提级 at the second reopen
    assert case["open"] is True and case["closed_at"] is None

    t.advance("answer", a.power, ANSWER, to="answered")
    t.advance("approve_answer", a.dispatcher, to="follow_up")
    case = t.advance("close", a.dispatcher, {"satisfaction": "满意"}, to="closed")
    seen.add(t.state)
    assert case["open"] is False and case["closed_at"] == "2026-09-30T10:00:00+08:00"
    assert case["fields"]["satisfaction"] == "满意"
    assert case["allowed_triggers"] == []
    assert case["counters"] == {
        "extension_count": 1,
        "extension_days": 3,
        "send_back_count": 1,
        "reopen_count": 2,
    }
    assert case["version"] == 22 and len(app.cases.history(t.number)) == 22

    declined = Tracker(app, new_enterprise_case(app, a.dispatcher))
    assert declined.number == "QY-2026-00002"
    case = declined.advance("decline", a.dispatcher, {"reason": "涉法涉诉，不予受理"}, to="not_accepted")
    assert case["open"] is False and case["closed_at"] is not None and case["allowed_triggers"] == []
    seen.add(declined.state)

    assert seen == ENTERPRISE_STATES == set(app.definitions.current("enterprise_issue").spec.states)
    with app.db.read() as conn:
        result = audit.verify(conn)
    assert result.ok and result.cases == 2 and result.events == 22 + 2


def test_enterprise_return_and_reassign(app, actors):
    a = actors
    t = Tracker(app, new_enterprise_case(app))
    t.advance("assign", a.dispatcher, {"lead_unit": "power", "co_units": ["water"]}, to="assigned")
    case = t.advance("return", a.power, {"reason": "不属于本单位职责"}, to="registered", bump=("return_count",))
    assert case["lead_unit"] == "power"  # kept for the record until reassigned
    t.advance("assign", a.dispatcher, {"lead_unit": "drc"}, to="assigned")
    with pytest.raises((PermissionDenied, NotFound)):  # the former lead unit may not accept
        app.cases.advance(t.number, "accept", a.power)
    t.advance("accept", a.drc, to="in_progress")
    case = t.advance(
        "reassign", a.dispatcher,
        {"lead_unit": "market_regulation", "reason": "职责调整", "co_units": ["gas"]},
        to="assigned", bump=("reassign_count",),
    )  # fmt: skip
    assert case["lead_unit"] == "market_regulation"
    assert list(case["co_units"]) == ["gas"]
    t.advance("accept", a.market_regulation, to="in_progress")
    assert t.counters == {"return_count": 1, "reassign_count": 1}


def test_site_dismissed(app, actors):
    a = actors
    t = Tracker(app, new_site_case(app, a.kongcheng))  # the town's handler may register
    assert t.number == "SLW-2026-00001" and t.state == "reported"
    t.advance("start_verification", a.kongcheng, to="verifying")
    case = t.advance("dismiss", a.dispatcher, {"reason": "持证经营，不属于散乱污"}, to="dismissed")
    assert case["open"] is False and case["allowed_triggers"] == [] and case["items"] == []


def test_site_ban_with_gas_cut_through_acceptance_revisit_and_archive(app, actors, data_dir):
    a = actors
    t = Tracker(app, new_site_case(app, a.collector, violations=["不符合产业政策", "环境违法"]))
    seen = {t.state}
    t.advance("start_verification", a.dispatcher, to="verifying")
    seen.add(t.state)
    case = t.advance(
        "classify_ban",
        a.dispatcher,
        {"plan": "一企一策：依法取缔", "cut_gas": "yes"},
        to="clearing",
    )
    seen.add(t.state)
    assert case["category"] == "ban" and case["fields"]["cut_gas"] == "yes"
    assert item_keys(case, "clearing") == [*CLEARING, "cut_gas"]
    executors = {i["key"]: i["executor"] for i in case["items"]}
    assert executors == {
        "cut_water": "water", "cut_power": "power", "clear_materials": "kongcheng",
        "clear_products": "kongcheng", "clear_equipment": "kongcheng", "cut_gas": "gas",
    }  # fmt: skip
    assert not any(i["done"] for i in case["items"])

    with pytest.raises(GuardFailed):  # 两断三清 not done yet
        app.cases.advance(t.number, "submit_clearance", a.kongcheng)

    case = t.item("cut_power", a.power, {"meter_reading": "10234.5"}, evidence=[photo(1)])
    cut_power = next(i for i in case["items"] if i["key"] == "cut_power")
    assert cut_power["data"] == {"meter_reading": "10234.5"}
    assert cut_power["done_at"] == "2026-09-30T10:00:00+08:00"
    assert len(cut_power["evidence"]) == 1
    t.item("cut_water", a.water, evidence=[photo(2)])
    t.item("cut_gas", a.gas, evidence=[photo(3)])
    for key in ("clear_materials", "clear_products", "clear_equipment"):
        t.item(key, a.kongcheng, evidence=[photo(4)])
    case = t.advance("submit_clearance", a.kongcheng, to="acceptance")
    seen.add(t.state)
    assert item_keys(case, "signoffs") == SIGNOFFS
    review = next(i for i in case["items"] if i["key"] == "department_review")
    assert review["executor"] == "drc"  # the first violation type's lead department

    with pytest.raises(GuardFailed):  # the sign-offs are ordered
        app.cases.complete_item(t.number, "department_review", a.drc)
    t.item("town_check", a.kongcheng)
    t.item("department_review", a.drc, {"notes": "复核属实"})
    t.item("office_verification", a.dispatcher)
    case = t.advance("pass_acceptance", a.dispatcher, to="closed")
    seen.add(t.state)
    assert case["closed_at"] == "2026-09-30T10:00:00+08:00"
    assert "revisit" not in app.cases.show(t.number)["allowed_triggers"]  # the scheduler's, not people's

    with pytest.raises(PermissionDenied):
        app.cases.advance(t.number, "revisit", a.dispatcher)
    t.advance("revisit", a.system, to="revisit_due")
    seen.add(t.state)
    case = t.advance(
        "confirm_revisit",
        a.kongcheng,
        {"notes": "回头看：场地已清空"},
        to="archived",
        evidence=[photo(5)],
    )
    seen.add(t.state)
    assert case["open"] is False and case["allowed_triggers"] == []
    assert app.cases.history(t.number)[-1]["payload"]["evidence"] == [hashlib.sha256(tiny_png(5)).hexdigest()]
    assert seen == SITE_STATES - {"rectifying", "dismissed"}  # those two: the tests below
    assert set(app.definitions.current("scattered_polluting").spec.states) == SITE_STATES


def test_site_rectify_extend_fail_twice_to_clearing_pass_revisit_and_relapse(app, actors, clock):
    a = actors
    t = Tracker(app, new_site_case(app))
    t.advance("start_verification", a.dispatcher, to="verifying")
    case = t.advance(
        "classify_rectify", a.dispatcher,
        {"items": "business_license,pollution_control", "deadline": "2026-10-30",
         "plan": "限期办证"},
        to="rectifying",
    )  # fmt: skip
    assert case["category"] == "rectify" and case["fields"]["deadline"] == "2026-10-30"
    assert item_keys(case, "rectification") == ["business_license", "pollution_control"]

    case = t.advance(
        "extend_rectification", a.dispatcher, {"deadline": "2026-12-15", "reason": "办证周期长"},
        to="rectifying", bump=("rectify_extension_count",),
    )  # fmt: skip
    assert case["fields"]["deadline"] == "2026-12-15"
    with pytest.raises(GuardFailed) as refused:  # once only
        app.cases.advance(t.number, "extend_rectification", a.dispatcher, {"deadline": "2026-12-20"})
    assert refused.value.guard == "rectify_extension_unused"

    t.item("business_license", a.kongcheng, evidence=[photo(10)])
    t.confirm("business_license", a.market_regulation)  # 营业执照: 市市场监管局 confirms (DOMAIN.md §9)
    t.item("pollution_control", a.kongcheng, evidence=[photo(11)])
    case = t.advance("submit_rectification", a.kongcheng, to="acceptance")
    assert item_keys(case, "signoffs") == SIGNOFFS
    assert next(i for i in case["items"] if i["key"] == "department_review")["executor"] == "ecology"
    t.item("town_check", a.kongcheng)

    case = t.advance(
        "fail_acceptance", a.ecology,
        {"reason": "治污设施未运行", "redo_items": "pollution_control"},
        to="rectifying", bump=("acceptance_fail_count", "rectify_fail_count"),
    )  # fmt: skip
    assert case["category"] == "rectify"
    assert item_keys(case, "signoffs") == []
    done = {i["key"]: i["done"] for i in case["items"]}
    assert done == {
        "business_license": True,
        "pollution_control": False,
    }  # only the redo item reopens

    t.item("pollution_control", a.kongcheng, evidence=[photo(12)])
    t.advance("submit_rectification", a.kongcheng, to="acceptance")
    case = t.advance(
        "fail_acceptance", a.dispatcher, {"reason": "第二次验收仍不合格"},
        to="clearing", bump=("acceptance_fail_count",),
    )  # fmt: skip
    assert case["category"] == "ban"  # a rectify case failing twice is banned
    assert item_keys(case, "clearing") == CLEARING  # no gas cut on this case
    assert item_keys(case, "signoffs") == []

    for key, actor, fields in [
        ("cut_water", a.water, {}), ("cut_power", a.power, {"meter_reading": 88}),
        ("clear_materials", a.kongcheng, {}), ("clear_products", a.kongcheng, {}),
        ("clear_equipment", a.kongcheng, {}),
    ]:  # fmt: skip
        t.item(key, actor, fields, evidence=[photo(20)])
    t.advance("submit_clearance", a.kongcheng, to="acceptance")
    t.item("town_check", a.kongcheng)
    t.item("department_review", a.ecology)
    t.item("office_verification", a.dispatcher)
    t.advance("pass_acceptance", a.dispatcher, to="closed")
    t.advance("revisit", a.system, to="revisit_due")

    case = t.advance(
        "report_relapse", a.kongcheng, {"notes": "夜间复产"}, to="clearing",
        bump=("relapse_count",), evidence=[photo(21)],
    )  # fmt: skip
    assert case["category"] == "ban"
    clearing = [i for i in case["items"] if i["checklist"] == "clearing"]
    assert [i["key"] for i in clearing] == CLEARING  # reset: done again from scratch
    assert all(not i["done"] and i["evidence"] == [] and i["done_by"] is None for i in clearing)
    assert item_keys(case, "signoffs") == []
    assert t.counters == {
        "rectify_extension_count": 1, "acceptance_fail_count": 2,
        "rectify_fail_count": 1, "relapse_count": 1,
    }  # fmt: skip
    with app.db.read() as conn:
        assert audit.verify(conn).ok


def test_site_convert_to_ban_and_relapse_straight_from_closed(app, actors):
    a = actors
    t = Tracker(app, new_site_case(app))
    t.advance("start_verification", a.kongcheng, to="verifying")
    t.advance("classify_rectify", a.dispatcher, {"items": ["eia_approval"]}, to="rectifying")
    assert t.case["fields"]["deadline"] == "2026-10-30"  # 30 days by default
    case = t.advance("convert_to_ban", a.dispatcher, {"reason": "整改不到位"}, to="clearing")
    assert case["category"] == "ban"
    assert item_keys(case, "clearing") == CLEARING
    assert item_keys(case, "rectification") == ["eia_approval"]
    for key, actor in [("cut_water", a.water), ("cut_power", a.power)]:
        t.item(key, actor, {"meter_reading": "1"} if key == "cut_power" else {}, evidence=[photo(30)])
    for key in CLEARING[2:]:
        t.item(key, a.kongcheng, evidence=[photo(31)])
    t.advance("submit_clearance", a.kongcheng, to="acceptance")
    for key, actor in zip(SIGNOFFS, [a.kongcheng, a.ecology, a.dispatcher], strict=True):
        t.item(key, actor)
    t.advance("pass_acceptance", a.dispatcher, to="closed")
    case = t.advance(
        "report_relapse", a.dispatcher, {"notes": "群众举报复产"}, to="clearing",
        bump=("relapse_count",), evidence=[photo(32)],
    )  # fmt: skip
    assert not any(i["done"] for i in case["items"] if i["checklist"] == "clearing")
