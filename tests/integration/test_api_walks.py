"""Whole cases of both workflows over HTTP (uvicorn on a loopback port, httpx clients), on SQLite
and PostgreSQL, as the people of DOMAIN.md would drive them: a collector and a town register,
the office assigns and reviews, the power company and other units handle, a supervisor reads.

Each step checks the HTTP status, the new state and version, ``allowed_triggers`` for the caller,
and at the end the history (seq 1..n, hash-linked, the triggers in order) and ``audit/verify``.
"""

from typing import Any

import api_support
import pytest
from api_support import ApiClient, ApiEnv, error_of, sha256
from helpers import enterprise_fields, make_uscc, site_fields, tiny_png

from cases.service import Upload
from workflow.org import Actor

api_env = api_support.api_env
"""The module-scoped served app, once per database (``api_support``)."""
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GENESIS = "0" * 64


@pytest.fixture(scope="module")
def people(api_env: ApiEnv) -> dict[str, ApiClient]:
    """The signed-in people of the walks (one sign-in each per module and database)."""
    spec = {
        "office": ("sti", ("dispatcher", "collector")),
        "collector": ("enterprise_service", ("collector",)),
        "power": ("power", ("handler",)),
        "power_head": ("power", ("unit_head",)),
        "water": ("water", ("handler",)),
        "gas": ("gas", ("handler",)),
        "drc": ("drc", ("handler",)),
        "ecology": ("ecology", ("handler",)),
        "market": ("market_regulation", ("handler",)),
        "kongcheng": ("kongcheng", ("handler",)),
        "finance": ("finance", ("handler",)),
        "supervisor": ("gov_office", ("supervisor",)),
    }
    return {name: api_env.client(f"walk_{name}", dept, roles) for name, (dept, roles) in spec.items()}


class Walk:
    """One case driven over HTTP; every step checks status, state and version."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.number: str = case["number"]
        self.case = case
        self.triggers = ["create"]

    def act(
        self, who: ApiClient, trigger: str, fields: dict[str, Any] | None = None, *, to: str,
        comment: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        response = who.act(self.number, trigger, fields, comment=comment, expected_version=self.case["version"])
        assert response.status_code == 200, f"{who.username} {trigger}: {response.status_code} {response.text}"
        return self._after(response.json(), trigger, to)

    def item(
        self, who: ApiClient, key: str, fields: dict[str, Any] | None = None, *,
        files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:  # fmt: skip
        response = who.item(self.number, key, fields, files=files, expected_version=self.case["version"])
        assert response.status_code == 200, f"{who.username} item {key}: {response.status_code} {response.text}"
        case = self._after(response.json(), "complete_item", self.case["state"])
        item = next(i for i in case["items"] if i["key"] == key)
        if item["confirmer"]:  # a permit: reported now, done once its department confirms it
            assert (item["status"], item["confirmation"]["reported_by"]) == ("awaiting_confirmation", who.username)
        else:
            assert item["done"] is True and item["done_by"] == who.username
            assert item["done_at"] == "2026-09-30T10:00:00+08:00"
        assert item["evidence"] == [sha256(content) for _, content, _ in files]
        return case

    def confirm(self, who: ApiClient, key: str) -> dict[str, Any]:
        """The issuing department confirms the permit (POST …/items/{key}/confirm)."""
        response = who.post(
            f"/api/cases/{self.number}/items/{key}/confirm", json={"expected_version": self.case["version"]}
        )
        assert response.status_code == 200, f"{who.username} confirm {key}: {response.status_code} {response.text}"
        case = self._after(response.json(), "confirm_item", self.case["state"])
        assert next(i for i in case["items"] if i["key"] == key)["done"] is True
        return case

    def _after(self, case: dict[str, Any], trigger: str, to: str) -> dict[str, Any]:
        assert case["number"] == self.number
        assert case["state"] == to, f"{trigger}: expected {to}, got {case['state']}"
        assert case["version"] == self.case["version"] + 1, trigger
        self.case = case
        self.triggers.append(trigger)
        return case

    def allowed(self, who: ApiClient) -> set[str]:
        return set(who.case(self.number)["allowed_triggers"])


def check_history(walk: Walk, reader: ApiClient) -> list[dict[str, Any]]:
    response = reader.get(f"/api/cases/{walk.number}/history")
    assert response.status_code == 200, response.text
    events = response.json()
    assert [e["trigger"] for e in events] == walk.triggers
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after["prev_hash"] == before["hash"], f"chain broken at seq {after['seq']}"
        assert after["from_state"] == before["to_state"]
    assert len({e["hash"] for e in events}) == len(events)
    assert all(len(e["hash"]) == 64 for e in events)
    assert events[-1]["to_state"] == walk.case["state"]
    assert len(events) == walk.case["version"]
    return events


def check_audit(api_env: ApiEnv, reader: ApiClient) -> None:
    response = reader.get("/api/audit/verify")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True and report["first_break"] is None, report


# --- enterprise problems ----------------------------------------------------------------------


def test_enterprise_problem_from_registration_to_closing(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office, collector, power, drc = people["office"], people["collector"], people["power"], people["drc"]
    supervisor, finance, head = people["supervisor"], people["finance"], people["power_head"]

    response = collector.post(
        "/api/cases",
        json={
            "type": "enterprise_issue",
            "fields": enterprise_fields(uscc=make_uscc("91340881MA2N00101"), source="走访"),
            "comment": "走访收集",
        },  # fmt: skip
    )
    assert response.status_code == 201, response.text
    walk = Walk(response.json())
    assert walk.number.startswith("QY-2026-")
    assert walk.case["state"] == "registered" and walk.case["version"] == 1
    assert walk.case["created_by"] == collector.username
    assert walk.case["due_date"] == "2026-10-08"  # 1wd after 2026-09-30 across the National Day holiday
    # the collector may read what it registered, but acts on nothing
    assert collector.case(walk.number)["allowed_triggers"] == []
    assert walk.allowed(office) == {"assign", "decline", "supervise", "list"}
    assert walk.allowed(supervisor) == set()
    # before assignment the power company has nothing to do with the case: it does not exist for it
    error_of(power.get(f"/api/cases/{walk.number}"), 404, "not_found")

    walk.act(office, "assign", {"lead_unit": "市供电公司", "co_units": ["drc"], "class": "simple", "instructions": "五个工作日内答复"},
             to="assigned")  # fmt: skip
    assert walk.case["lead_unit"] == "power" and walk.case["lead_unit_name"] == "市供电公司"
    assert walk.allowed(power) == {"accept", "return"}
    assert walk.allowed(drc) == {"co_accept"}
    assert walk.allowed(office) == {"reassign", "supervise", "list"}
    assert walk.allowed(head) == set() and walk.allowed(supervisor) == set()
    error_of(finance.get(f"/api/cases/{walk.number}"), 404, "not_found")

    walk.act(power, "accept", to="in_progress")
    assert walk.case["due_date"] == "2026-10-13"  # simple: 5wd from assignment (10-10 is a working Saturday)
    walk.act(drc, "co_accept", to="in_progress")
    answer = {"result": "resolved", "reply": "已完成线路增容改造", "signed_by": "供电公司负责人"}
    # the answer waits for the co-unit's feedback
    refused = power.act(walk.number, "answer", answer)
    body = error_of(refused, 409, "guard_failed")
    assert "市发改委" in body["message"]
    walk.act(drc, "co_feedback", {"reply": "项目备案无障碍"}, to="in_progress")
    assert walk.case["co_units"]["drc"]["feedback"] == "项目备案无障碍"
    walk.act(power, "answer", answer, to="answered", comment="请审核")
    assert walk.allowed(office) == {"send_back", "approve_answer", "supervise", "list"}
    walk.act(office, "send_back", {"reason": "答复未写明完成时间"}, to="in_progress")
    assert walk.case["counters"]["send_back_count"] == 1
    walk.act(power, "answer", {**answer, "reply": "已于9月29日完成线路增容改造"}, to="answered")
    walk.act(office, "approve_answer", to="follow_up")
    walk.act(office, "close", {"satisfaction": "满意"}, to="closed")
    assert walk.case["open"] is False and walk.case["fields"]["satisfaction"] == "满意"
    assert walk.allowed(office) == set() and walk.allowed(power) == set()

    events = check_history(walk, supervisor)
    assert [e["actor"] for e in events] == [
        collector.username, office.username, power.username, drc.username, drc.username, power.username,
        office.username, power.username, office.username, office.username,
    ]  # fmt: skip
    assert events[0]["comment"] == "走访收集" and events[5]["comment"] == "请审核"
    # the power company reads the history of its case; another unit may not learn it exists
    assert power.get(f"/api/cases/{walk.number}/history").json() == events
    error_of(finance.get(f"/api/cases/{walk.number}/history"), 404, "not_found")
    check_audit(api_env, supervisor)


def test_enterprise_problem_with_return_reassignment_extensions_and_reopening(
    api_env: ApiEnv, people: dict[str, ApiClient]
) -> None:
    office, water, ecology, supervisor = people["office"], people["water"], people["ecology"], people["supervisor"]
    response = office.post(
        "/api/cases", json={"type": "enterprise_issue", "fields": enterprise_fields(title="供水管网压力不足")}
    )
    assert response.status_code == 201, response.text
    walk = Walk(response.json())

    walk.act(office, "assign", {"lead_unit": "water"}, to="assigned")
    walk.act(water, "return", {"reason": "不属于本单位职责"}, to="registered")
    assert walk.case["counters"]["return_count"] == 1
    walk.act(office, "assign", {"lead_unit": "water"}, to="assigned")
    walk.act(water, "accept", to="in_progress")
    walk.act(office, "reassign", {"lead_unit": "市生态环境分局", "reason": "涉及排污口整治"}, to="assigned")
    assert walk.case["lead_unit"] == "ecology"
    # the old lead unit no longer sees the case
    error_of(water.get(f"/api/cases/{walk.number}"), 404, "not_found")
    walk.act(ecology, "accept", to="in_progress")
    due = walk.case["due_date"]
    walk.act(ecology, "request_extension", {"reason": "需第三方检测", "days": 5}, to="extension_requested")
    walk.act(office, "approve_extension", {"days": 3}, to="in_progress")
    assert walk.case["counters"]["extension_count"] == 1 and walk.case["counters"]["extension_days"] == 3
    assert walk.case["due_date"] > due, "an approved extension moves the handling deadline"
    due = walk.case["due_date"]
    walk.act(ecology, "request_extension", {"reason": "检测报告未出", "days": 5}, to="extension_requested")
    walk.act(office, "reject_extension", {"reason": "期限已足够"}, to="in_progress")
    assert walk.case["due_date"] == due
    walk.act(
        ecology, "answer", {"result": "explained", "reply": "已说明情况", "signed_by": "分局负责人"}, to="answered"
    )
    walk.act(office, "approve_answer", to="follow_up")
    walk.act(office, "reopen", {"satisfaction": "不满意", "reason": "企业认为未解决"}, to="in_progress")
    assert walk.case["counters"]["reopen_count"] == 1
    walk.act(ecology, "answer", {"result": "resolved", "reply": "已整改到位", "signed_by": "分局负责人"}, to="answered")
    walk.act(office, "approve_answer", to="follow_up")
    walk.act(office, "close", {"satisfaction": "基本满意"}, to="closed")
    check_history(walk, supervisor)
    check_audit(api_env, supervisor)


# --- scattered-polluting sites ----------------------------------------------------------------


def test_site_banned_cleared_accepted_with_evidence_over_http(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office, town, water, power, gas = (
        people["office"],
        people["kongcheng"],
        people["water"],
        people["power"],
        people["gas"],
    )
    ecology, supervisor, finance = people["ecology"], people["supervisor"], people["finance"]

    fields = site_fields(site_name="孔城镇某废塑料加工点", violations=["环境违法"], power_account="340881000123")
    response = town.post("/api/cases", json={"type": "scattered_polluting", "fields": fields})
    assert response.status_code == 201, response.text
    walk = Walk(response.json())
    assert walk.number.startswith("SLW-2026-")
    assert walk.allowed(town) == {"start_verification"}
    walk.act(town, "start_verification", to="verifying")
    # the power company is not concerned yet
    error_of(power.get(f"/api/cases/{walk.number}"), 404, "not_found")
    walk.act(office, "classify_ban", {"plan": "依法取缔，落实两断三清", "cut_gas": "yes"}, to="clearing")
    keys = [i["key"] for i in walk.case["items"]]
    assert keys == ["cut_water", "cut_power", "clear_materials", "clear_products", "clear_equipment", "cut_gas"]
    executors = {i["key"]: i["executor"] for i in walk.case["items"]}
    assert executors == {"cut_water": "water", "cut_power": "power", "clear_materials": "kongcheng",
                         "clear_products": "kongcheng", "clear_equipment": "kongcheng", "cut_gas": "gas"}  # fmt: skip
    # each executor sees its own item among allowed_items, and only that
    assert power.case(walk.number)["allowed_items"] == ["cut_power"]
    assert set(town.case(walk.number)["allowed_items"]) == {"clear_materials", "clear_products", "clear_equipment"}
    assert power.case(walk.number)["allowed_triggers"] == []

    photo_water, photo_power = tiny_png(101), tiny_png(102)
    walk.item(water, "cut_water", files=[("断水照片.png", photo_water, "image/png")])
    walk.item(power, "cut_power", {"meter_reading": "10234.5"},
              files=[("断电.png", photo_power, "image/png"), ("停电通知.pdf", PDF, "application/pdf")])  # fmt: skip
    assert next(i for i in walk.case["items"] if i["key"] == "cut_power")["data"] == {"meter_reading": "10234.5"}
    walk.item(gas, "cut_gas", files=[("断气.jpg", JPEG, "image/jpeg")])
    # submitting before the three clears are done is refused
    error_of(town.act(walk.number, "submit_clearance"), 409, "guard_failed")
    for n, key in enumerate(("clear_materials", "clear_products", "clear_equipment")):
        walk.item(town, key, files=[(f"{key}.png", tiny_png(110 + n), "image/png")])
    walk.act(town, "submit_clearance", to="acceptance")
    assert [i["key"] for i in walk.case["items"] if i["checklist"] == "signoffs"] == [
        "town_check",
        "department_review",
        "office_verification",
    ]
    # sign-offs go in order: the office cannot verify before the town and the department
    error_of(office.item(walk.number, "office_verification", {}), 409, "guard_failed")
    walk.item(town, "town_check", {"notes": "已现场自查"})
    walk.item(ecology, "department_review", files=[("复核.png", tiny_png(120), "image/png")])
    walk.item(office, "office_verification")
    walk.act(office, "pass_acceptance", to="closed")
    assert walk.allowed(town) == {"report_relapse"}

    # evidence downloads: the bytes, the type read from the content, the name only as text
    for content, kind in ((photo_power, "image/png"), (PDF, "application/pdf"), (JPEG, "image/jpeg")):
        digest = sha256(content)
        for reader in (power, supervisor, office, town):
            got = reader.get(f"/api/evidence/{digest}")
            assert got.status_code == 200, got.text
            assert got.content == content
            assert got.headers["content-type"].split(";")[0] == kind
            assert got.headers["x-content-type-options"] == "nosniff"
        error_of(finance.get(f"/api/evidence/{digest}"), 404, "not_found")
    disposition = power.get(f"/api/evidence/{sha256(PDF)}").headers["content-disposition"]
    assert disposition == "inline; filename*=UTF-8''%E5%81%9C%E7%94%B5%E9%80%9A%E7%9F%A5.pdf"
    error_of(power.get(f"/api/evidence/{'0' * 64}"), 404, "not_found")

    events = check_history(walk, supervisor)
    uploads = [e for e in events if e["trigger"] == "complete_item"]
    assert [e["payload"]["item"] for e in uploads] == [
        "cut_water", "cut_power", "cut_gas", "clear_materials", "clear_products", "clear_equipment",
        "town_check", "department_review", "office_verification",
    ]  # fmt: skip
    check_audit(api_env, supervisor)


def test_site_rectified_failed_once_then_accepted(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office, town, ecology, supervisor = people["office"], people["kongcheng"], people["ecology"], people["supervisor"]
    response = office.post("/api/cases", json={"type": "scattered_polluting",
                                               "fields": site_fields(site_name="孔城镇某家具作坊", violations=["环境违法", "无证无照"])})  # fmt: skip
    assert response.status_code == 201, response.text
    walk = Walk(response.json())
    walk.act(office, "start_verification", to="verifying")
    walk.act(office, "classify_rectify", {"items": ["business_license", "other"], "other_item": "补办消防手续",
                                          "deadline": "2026-10-30", "plan": "限期办证"}, to="rectifying")  # fmt: skip
    assert walk.case["due_date"] == "2026-10-30"
    walk.act(office, "extend_rectification", {"deadline": "2026-11-30", "reason": "证照审批周期长"}, to="rectifying")
    assert walk.case["due_date"] == "2026-11-30"
    assert walk.allowed(town) == {"submit_rectification"}
    walk.item(town, "business_license", files=[("执照.png", tiny_png(201), "image/png")])
    walk.confirm(people["market"], "business_license")  # §9: 市市场监管局 confirms the licence
    walk.item(town, "other", files=[("消防.pdf", PDF, "application/pdf")])
    walk.act(town, "submit_rectification", to="acceptance")
    walk.item(town, "town_check")
    # the review department (the first violation's: 市生态环境分局) is a signer and may fail it
    assert "fail_acceptance" in walk.allowed(ecology)
    walk.act(ecology, "fail_acceptance", {"reason": "治污设施未运行", "redo_items": ["other"]}, to="rectifying")
    assert walk.case["counters"]["rectify_fail_count"] == 1
    assert [i["key"] for i in walk.case["items"] if not i["done"]] == ["other"]
    walk.item(town, "other", files=[("消防2.pdf", PDF + b"%2", "application/pdf")])
    walk.act(town, "submit_rectification", to="acceptance")
    walk.item(town, "town_check")
    walk.item(ecology, "department_review")
    walk.item(office, "office_verification")
    walk.act(office, "pass_acceptance", to="closed")
    check_history(walk, supervisor)


# --- the to-do list ---------------------------------------------------------------------------


def test_todo_lists_what_waits_on_the_callers_unit_by_deadline(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    """The power company's to-do: cases whose clock is on it (lead unit) and sites whose 断电
    is open, earliest deadline first; not what waits on the office or on another unit."""
    office, power = people["office"], people["power"]
    dispatcher = api_env.app.users.actor(office.username)

    def enterprise(title: str) -> str:
        response = office.post(
            "/api/cases", json={"type": "enterprise_issue", "fields": enterprise_fields(title=title)}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["number"])

    def advance(number: str, trigger: str, actor: Actor, fields: dict[str, Any] | None = None) -> None:
        api_env.app.cases.advance(number, trigger, actor, fields or {})

    power_actor = api_env.app.users.actor(power.username)
    complex_ = enterprise("待办-复杂")
    advance(complex_, "assign", dispatcher, {"lead_unit": "power", "class": "complex"})
    advance(complex_, "accept", power_actor)
    general = enterprise("待办-一般")
    advance(general, "assign", dispatcher, {"lead_unit": "power"})
    advance(general, "accept", power_actor)
    simple = enterprise("待办-简单")
    advance(simple, "assign", dispatcher, {"lead_unit": "power", "class": "simple"})
    advance(simple, "accept", power_actor)
    assigned = enterprise("待办-待签收")
    advance(assigned, "assign", dispatcher, {"lead_unit": "power"})
    answered = enterprise("待办-已答复")  # waits on the office, not on the power company
    advance(answered, "assign", dispatcher, {"lead_unit": "power"})
    advance(answered, "accept", power_actor)
    advance(answered, "answer", power_actor, {"result": "resolved", "reply": "已办", "signed_by": "负责人"})
    other_unit = enterprise("待办-供水")  # another unit's case
    advance(other_unit, "assign", dispatcher, {"lead_unit": "water"})
    site = api_env.app.cases.create("scattered_polluting", dispatcher, site_fields(site_name="待办-取缔点"))["number"]
    advance(site, "start_verification", dispatcher)
    advance(site, "classify_ban", dispatcher, {"plan": "取缔"})
    cut = api_env.app.cases.create("scattered_polluting", dispatcher, site_fields(site_name="待办-已断电"))["number"]
    advance(cut, "start_verification", dispatcher)
    advance(cut, "classify_ban", dispatcher, {"plan": "取缔"})
    api_env.app.cases.complete_item(
        cut, "cut_power", power_actor, {"meter_reading": "1"}, evidence=[Upload("p.png", tiny_png(301))]
    )

    response = power.get("/api/todo/cases", params={"page_size": 500})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])
    mine = [
        c["number"]
        for c in page["items"]
        if c["number"] in {complex_, general, simple, assigned, answered, other_unit, site, cut}
    ]
    # assigned: 1wd → 10-08; simple: 5wd → 10-13; the site's clearing: 15d → 10-15;
    # general: 10wd → 10-20; complex: 20wd
    assert mine == [assigned, simple, site, general, complex_]
    due = [c["due_at"] for c in page["items"]]
    assert due == sorted(due, key=lambda d: (d is None, d or "")), "the to-do list is sorted by deadline"
    for case in page["items"]:
        assert case["lead_unit"] == "power" or case["type"] == "scattered_polluting", case
    # the office's to-do has the answered case (waiting on its review), not the power company's
    office_todo = [c["number"] for c in office.get("/api/todo/cases", params={"page_size": 500}).json()["items"]]
    assert answered in office_todo and assigned not in office_todo and simple not in office_todo
    # pagination of the same list
    first = power.get("/api/todo/cases", params={"page_size": 2, "page": 1}).json()
    second = power.get("/api/todo/cases", params={"page_size": 2, "page": 2}).json()
    assert [c["number"] for c in first["items"] + second["items"]] == [c["number"] for c in page["items"][:4]]
    assert first["total"] == page["total"]


def test_api_todo_pages_the_obligations_and_counts_them_all(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    """``GET /api/todo`` gives a page of the unit's obligations (``limit``, ``offset``) with the
    true ``total``: the pages put together are the whole list, most urgent first, as the service
    gives it unpaged; a wrong ``limit`` is refused in Chinese."""
    office, drc = people["office"], people["drc"]
    numbers = []
    for n in range(5):
        response = office.post("/api/cases", json={"type": "enterprise_issue", "fields": enterprise_fields(title=f"分页-{n}")})
        numbers.append(response.json()["number"])
        assert office.act(numbers[-1], "assign", {"lead_unit": "drc"}).status_code == 200
    whole = api_env.app.cases.todo(api_env.app.users.actor(drc.username), limit=None)
    assert {e["number"] for e in whole["items"]} >= set(numbers) and whole["total"] == len(whole["items"])
    pages, offset = [], 0
    while True:
        page = drc.get("/api/todo", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == len(whole["items"]) and page["limit"] == 2 and page["offset"] == offset
        if not page["items"]:
            break
        assert len(page["items"]) <= 2
        pages += [(e["number"], e["key"]) for e in page["items"]]
        offset += 2
    assert pages == [(e["number"], e["key"]) for e in whole["items"]]
    default = drc.get("/api/todo").json()
    assert default["limit"] == 50 and default["items"] == drc.get("/api/todo", params={"limit": 50}).json()["items"]
    for wrong in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "多"}):
        error_of(drc.get("/api/todo", params=wrong), 422, "invalid_input")


def test_case_list_is_limited_to_what_the_caller_may_see(api_env: ApiEnv, people: dict[str, ApiClient]) -> None:
    office, power, finance, supervisor = people["office"], people["power"], people["finance"], people["supervisor"]
    response = office.post(
        "/api/cases", json={"type": "enterprise_issue", "fields": enterprise_fields(title="列表-供电")}
    )
    number = response.json()["number"]
    assert office.act(number, "assign", {"lead_unit": "power"}).status_code == 200
    everything = office.get("/api/cases", params={"page_size": 500}).json()
    assert everything["total"] == len(everything["items"]) >= 1
    assert supervisor.get("/api/cases", params={"page_size": 500}).json()["total"] == everything["total"]
    seen_by_power = power.get("/api/cases", params={"page_size": 500}).json()
    assert number in [c["number"] for c in seen_by_power["items"]]
    assert seen_by_power["total"] < everything["total"]
    for case in seen_by_power["items"]:  # every listed case can be opened: no more, no less
        assert power.get(f"/api/cases/{case['number']}").status_code == 200
    assert number not in [c["number"] for c in finance.get("/api/cases").json()["items"]]
    filtered = office.get(
        "/api/cases", params={"type": "enterprise_issue", "state": "assigned", "department": "市供电公司"}
    ).json()
    assert number in [c["number"] for c in filtered["items"]]
    assert all(c["state"] == "assigned" and c["type"] == "enterprise_issue" for c in filtered["items"])
