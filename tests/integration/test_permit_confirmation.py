"""Permit rectification items are confirmed by their issuing department (DOMAIN.md §9: "town
reports; the permit's department confirms; confirmation 5 wd"); on SQLite and PostgreSQL.
"""

import pytest
from helpers import new_site_case, photo, walk_site_to

from cases import audit
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied


def open_obligations(app, number):
    return sorted((o["key"], o["unit"], o["due_date"]) for o in app.cases.show(number)["obligations"] if o["open"])


def item(view, key):
    return next(i for i in view["items"] if i["key"] == key)


@pytest.fixture
def rectifying(app, actors):
    number = new_site_case(app, actors.kongcheng)["number"]
    walk_site_to(app, number, "verifying")
    fields = {"items": ["business_license", "eia_approval", "pollution_control"], "plan": "限期办证"}
    app.cases.advance(number, "classify_rectify", actors.dispatcher, fields)
    return number


def test_the_town_reports_the_licence_and_market_regulation_confirms_it(app, actors, rectifying):
    a, number = actors, rectifying
    view = app.cases.complete_item(
        number, "business_license", a.kongcheng, {"notes": "已领取执照"}, evidence=[photo(2)]
    )
    licence = item(view, "business_license")
    assert (licence["status"], licence["done"], licence["confirmer"]) == (
        "awaiting_confirmation", False, "market_regulation",
    )  # fmt: skip
    assert licence["status_label"] == "待确认（市市场监管局）"
    assert licence["confirmation"]["reported_by"] == "kongcheng" and len(licence["evidence"]) == 1
    # the town's obligation is discharged; market regulation owes 确认营业执照 within 5wd
    assert ("confirm:business_license", "market_regulation", "2026-10-13") in open_obligations(app, number)
    assert not [o for o in open_obligations(app, number) if o[0] == "business_license"]
    entry = next(e for e in app.cases.todo(a.market_regulation)["items"] if e["number"] == number)
    assert (entry["key"], entry["label"]) == ("confirm:business_license", "确认营业执照")
    # the department now sees the case, and may decide on the item
    shown = app.cases.show(number, a.market_regulation)
    assert {"item": "business_license", "decision": "confirm"} in shown["item_decisions"]
    app.cases.complete_item(number, "pollution_control", a.kongcheng, {}, evidence=[photo(3)])
    app.cases.complete_item(number, "eia_approval", a.kongcheng, {}, evidence=[photo(4)])
    app.cases.decide_item(number, "eia_approval", "confirm", a.ecology)
    with pytest.raises(GuardFailed, match="整改事项尚未全部完成：营业执照"):  # reported is not done
        app.cases.advance(number, "submit_rectification", a.kongcheng)

    view = app.cases.decide_item(number, "business_license", "confirm", a.market_regulation)
    licence = item(view, "business_license")
    assert (licence["status"], licence["done"], licence["done_by"]) == ("done", True, "kongcheng")
    assert licence["confirmation"]["decided_by"] == "market_regulation"
    assert item(view, "business_license")["data"]["notes"] == "已领取执照"
    closed = {o["key"]: o for o in app.cases.show(number)["obligations"] if not o["open"]}
    assert closed["confirm:business_license"]["outcome"] == "done"
    assert app.cases.advance(number, "submit_rectification", a.kongcheng)["state"] == "acceptance"
    history = app.cases.history(number)
    confirm = next(e for e in history if e["trigger"] == "confirm_item" and e["payload"]["item"] == "business_license")
    assert confirm["payload"]["item"] == "business_license" and confirm["payload"]["unit"] == "market_regulation"
    reported = [e for e in history if e["trigger"] == "complete_item" and e["payload"]["item"] == "business_license"]
    assert reported[0]["payload"]["confirm_by"] == "market_regulation"
    with app.db.read() as conn:
        assert audit.verify(conn).ok


def test_a_rejected_report_goes_back_to_the_town(app, actors, rectifying):
    a, number = actors, rectifying
    app.cases.complete_item(number, "eia_approval", a.kongcheng, {}, evidence=[photo(5)])
    with pytest.raises(InvalidInput, match="退回须填写理由"):
        app.cases.decide_item(number, "eia_approval", "reject", a.ecology, "")
    view = app.cases.decide_item(number, "eia_approval", "reject", a.ecology, "批复文号与项目不符")
    eia = item(view, "eia_approval")
    assert (eia["status"], eia["done"], eia["evidence"]) == ("open", False, [])
    assert eia["confirmation"]["status"] == "rejected"
    assert eia["confirmation"]["decision_reason"] == "批复文号与项目不符"
    owed = open_obligations(app, number)
    assert any(o[:2] == ("eia_approval", "kongcheng") for o in owed)
    assert not any(o[0] == "confirm:eia_approval" for o in owed)
    view = app.cases.complete_item(number, "eia_approval", a.kongcheng, {}, evidence=[photo(6)])
    assert item(view, "eia_approval")["status"] == "awaiting_confirmation"


@pytest.mark.parametrize(
    ("who", "decision", "reason", "error", "words"),
    [
        ("market_regulation", "confirm", None, PermissionDenied, "只能由市生态环境分局的经办人/联络员确认"),
        ("kongcheng", "confirm", None, PermissionDenied, "只能由市生态环境分局的经办人/联络员确认"),
        ("dispatcher", "reject", "不符合", PermissionDenied, "确认"),
        ("ecology", "approve_waiver", None, GuardFailed, "不能申请不适用"),
    ],
)
def test_only_the_issuing_department_confirms(app, actors, rectifying, who, decision, reason, error, words):
    app.cases.complete_item(rectifying, "eia_approval", actors.kongcheng, {}, evidence=[photo(5)])
    before = app.cases.show(rectifying)
    with pytest.raises(error, match=words):
        app.cases.decide_item(rectifying, "eia_approval", decision, getattr(actors, who), reason)
    assert app.cases.show(rectifying)["version"] == before["version"]


def test_nothing_to_confirm_before_the_town_reports(app, actors, rectifying):
    with pytest.raises(GuardFailed, match="没有待确认的办结上报"):
        app.cases.decide_item(rectifying, "eia_approval", "confirm", actors.ecology)
    with pytest.raises(GuardFailed, match="“污染治理设施”不需要确认"):
        app.cases.decide_item(rectifying, "pollution_control", "confirm", actors.ecology)
    app.cases.complete_item(rectifying, "eia_approval", actors.kongcheng, {}, evidence=[photo(5)])
    with pytest.raises(GuardFailed, match="已上报办结，正待市生态环境分局确认"):
        app.cases.complete_item(rectifying, "eia_approval", actors.kongcheng, {}, evidence=[photo(8)])
