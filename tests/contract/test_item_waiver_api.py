"""The HTTP contract of the item decisions (issue 11), on SQLite and PostgreSQL:
``POST /api/cases/{number}/items/{item}/waive|approve-waiver|reject-waiver|confirm|reject`` with a
JSON body ``{"reason", "comment", "expected_version"}`` or multipart (``evidence`` files); the
case view's ``items[].status``, ``item_decisions`` and ``opinions``; refusals in the error shape
of INTERFACES.md, changing nothing.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import api_support  # noqa: E402
from api_support import ApiEnv, error_of, snapshot  # noqa: E402
from helpers import new_site_case, tiny_png, walk_site_to  # noqa: E402

api_env = api_support.api_env
"""The module's app on SQLite and PostgreSQL, served, with signed-in clients (a fixture)."""

PNG = ("well.png", tiny_png(4), "image/png")


def clients(env: ApiEnv):
    return (
        env.client("api_office", "sti", ("dispatcher",)),
        env.client("api_water", "water", ("handler",)),
        env.client("api_town", "kongcheng", ("handler",)),
        env.client("api_market", "market_regulation", ("handler",)),
        env.client("api_ecology", "ecology", ("handler",)),
    )


def item(view, key):
    return next(i for i in view["items"] if i["key"] == key)


def test_waiver_through_the_api(api_env: ApiEnv) -> None:
    office, water, town, _, _ = clients(api_env)
    number = new_site_case(api_env.app)["number"]
    walk_site_to(api_env.app, number, "clearing")
    assert {"item": "cut_water", "decision": "waive"} in water.case(number)["item_decisions"]

    before = snapshot(api_env.app, number)
    error_of(water.post(f"/api/cases/{number}/items/cut_water/waive", json={}), 422, "invalid_input")
    error_of(
        town.post(f"/api/cases/{number}/items/cut_water/waive", json={"reason": "自备井"}), 403, "permission_denied"
    )
    error_of(office.post(f"/api/cases/{number}/items/cut_water/approve-waiver", json={}), 409, "guard_failed")
    assert water.post(f"/api/cases/{number}/items/cut_water/bless", json={}).status_code == 422
    assert snapshot(api_env.app, number) == before

    response = water.post(
        f"/api/cases/{number}/items/cut_water/waive",
        data={"reason": "自备井取水，无市政供水"},
        files=[("evidence", PNG)],
    )
    assert response.status_code == 200, response.text
    cut = item(response.json(), "cut_water")
    assert (cut["status"], cut["done"], len(cut["evidence"])) == ("waiver_pending", False, 1)
    assert cut["waiver"]["reason"] == "自备井取水，无市政供水" and cut["waiver"]["unit_name"] == "市供水集团公司"
    assert {"item": "cut_water", "decision": "reject_waiver"} in office.case(number)["item_decisions"]

    version = response.json()["version"]
    stale = office.post(f"/api/cases/{number}/items/cut_water/approve-waiver", json={"expected_version": version - 1})
    error_of(stale, 409, "version_conflict")
    response = office.post(f"/api/cases/{number}/items/cut_water/approve-waiver", json={"expected_version": version})
    assert response.status_code == 200, response.text
    assert item(response.json(), "cut_water")["status"] == "waived"
    history = office.get(f"/api/cases/{number}/history").json()
    assert [e["trigger"] for e in history[-2:]] == ["waive_item", "approve_waiver"]


def test_permit_confirmation_and_views_through_the_api(api_env: ApiEnv) -> None:
    office, _, town, market, ecology = clients(api_env)
    number = new_site_case(api_env.app)["number"]
    walk_site_to(api_env.app, number, "verifying")
    assert town.act(number, "submit_findings", {"notes": "无证加工"}).status_code == 200
    response = ecology.act(number, "submit_ecology_view", {"notes": "建议整顿"})
    assert response.status_code == 200, response.text
    assert [(o["label"], o["text"]) for o in response.json()["opinions"]] == [
        ("属地核查意见", "无证加工"), ("生态环境分局意见", "建议整顿"),
    ]  # fmt: skip
    assert office.act(number, "classify_rectify", {"items": ["business_license"]}).status_code == 200
    assert town.item(number, "business_license", {}, files=[PNG]).status_code == 200
    licence = item(market.case(number), "business_license")
    assert (licence["status"], licence["confirmer"]) == ("awaiting_confirmation", "market_regulation")
    error_of(ecology.post(f"/api/cases/{number}/items/business_license/confirm", json={}), 403, "permission_denied")
    error_of(market.post(f"/api/cases/{number}/items/business_license/reject", json={}), 422, "invalid_input")
    response = market.post(f"/api/cases/{number}/items/business_license/reject", json={"reason": "执照经营范围不符"})
    assert item(response.json(), "business_license")["status"] == "open"
    assert town.item(number, "business_license", {}, files=[PNG]).status_code == 200
    response = market.post(f"/api/cases/{number}/items/business_license/confirm", json={"comment": "已核验"})
    assert response.status_code == 200, response.text
    assert item(response.json(), "business_license")["status"] == "done"
    assert town.act(number, "submit_rectification").json()["state"] == "acceptance"
