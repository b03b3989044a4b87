"""The case page with a 不适用 declaration and a permit awaiting confirmation (issue 11): each item
shows its state, only the unit that may decide sees the buttons, a decision without a reason is
refused in place, and the decisions land on the page and in the history. Screenshots at the
laptop and the phone size go to ``test-artifacts/screenshots/``.
"""

import re

from e2e_support import LAPTOP, PHONE

WAIVER_SITE = "SLW-2026-00006"
"""Demo: 自备井洗砂点, the water company has declared 断水 不适用."""
LICENCE_SITE = "SLW-2026-00004"
"""Demo: 小型家具加工厂, the town has reported its 营业执照."""


def _item(page, key: str):
    return page.locator(f"#item-{key}")


def test_the_office_rules_on_a_declaration_and_the_market_bureau_confirms_a_licence(person, site) -> None:
    water = person("water_handler")
    water.goto(f"/cases/{WAIVER_SITE}")
    cut = _item(water.page, "cut_water")
    assert "不适用申请待审批" in cut.inner_text() and "待联席办审批" in cut.inner_text()
    assert "自备井" in cut.inner_text()
    assert cut.locator("summary").count() == 0  # nothing left for the water company to do
    water.screenshot("item-waiver-pending-water-laptop")

    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        office = person("office", viewport)
        office.goto(f"/cases/{WAIVER_SITE}")
        assert office.page.locator("#item-cut_water summary", has_text="批准不适用").count() == 1
        office.screenshot(f"item-waiver-pending-office-{name}")

    page = office.page
    page.locator("#item-cut_water summary", has_text="驳回申请").click()
    reason = page.locator("#form-decision-cut_water\\:reject_waiver textarea[name=reason]")
    assert reason.get_attribute("required") is not None  # the browser asks for the reason first
    refused = page.request.post(
        site.url(f"/cases/{WAIVER_SITE}/items/cut_water/reject-waiver"),
        form={"csrf_token": office.csrf(), "reason": "  "},
        headers={"HX-Request": "true"},
    )  # the server refuses it too, answering the form with the reason in place
    assert refused.status == 422 and "驳回不适用申请须填写理由" in refused.text()
    assert site.app.cases.show(WAIVER_SITE)["items"][0]["status"] == "waiver_pending"  # nothing changed

    page.goto(site.url(f"/cases/{WAIVER_SITE}"))
    page.locator("#item-cut_water summary", has_text="批准不适用").click()
    page.locator("#form-decision-cut_water\\:approve_waiver button[type=submit]").click()
    page.wait_for_url(re.compile(r".*\?done=decision:cut_water:approve_waiver"))
    text = _item(page, "cut_water").inner_text()
    assert "不适用（已批准）" in text and "批准人" in text
    assert "批准不适用申请：断水" in page.locator("body").inner_text()

    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        market = person("market_handler", viewport)
        market.goto(f"/cases/{LICENCE_SITE}")
        assert "待确认（市市场监管局）" in _item(market.page, "business_license").inner_text()
        market.screenshot(f"item-confirmation-pending-market-{name}")
    town = person("kongcheng_handler")
    town.goto(f"/cases/{LICENCE_SITE}")
    assert town.page.locator("#item-business_license summary").count() == 0
    page = market.page
    page.locator("#item-business_license summary", has_text="确认办结").click()
    page.locator("#form-decision-business_license\\:confirm button[type=submit]").click()
    page.wait_for_url(re.compile(r".*\?done=decision:business_license:confirm"))
    assert "市市场监管局已确认" in _item(page, "business_license").inner_text()
    assert next(i for i in site.app.cases.show(LICENCE_SITE)["items"] if i["key"] == "business_license")["done"]
