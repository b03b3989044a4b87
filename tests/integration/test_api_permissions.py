"""The permission matrix over HTTP: every role × every trigger and item of both workflows (each at
a state where it is possible, with valid input) × a user of a unit the case concerns / of an
unrelated unit, against the documented answer:

- 200 when DOMAIN.md's "who" column allows the caller (and the case moves as documented);
- 403 ``permission_denied`` with the reason when the caller may see the case but not do this;
- 404 ``not_found`` when the caller may not see the case (a handler of another unit must not
  learn that it exists) — for the action, the detail and the history alike.

The expectations come from the hand-written tables below (DOMAIN.md §1, §3, §4, §5 and the
visibility rule of the brief), never from the workflow YAML. Cases are prepared through the
service (fast); every request under test goes over the socket. Refused requests must leave the
case exactly as it was.
"""

from dataclasses import dataclass, field
from typing import Any

import api_support
import pytest
from api_support import ApiClient, ApiEnv, error_of, snapshot
from helpers import enterprise_fields, site_fields, standard_actors, tiny_png

from cases.service import Upload
from workflow.org import Actor

api_env = api_support.api_env
"""The module-scoped served app, once per database (``api_support``)."""
E, S = "enterprise_issue", "scattered_polluting"
ROLES = ("collector", "dispatcher", "handler", "unit_head", "supervisor", "convenor", "admin")
SEES_ALL = {"dispatcher", "supervisor", "convenor", "admin"}
"""DOMAIN.md §1 and the brief: the office, supervisors, convenors and admins see every case."""
OTHER = "finance"
"""A unit that none of the matrix's cases concerns."""

# --- DOMAIN.md's "who" column, by hand ------------------------------------------------------------
# "dispatcher" / "system": the role; "handler:REL": a handler of the unit in that relation to the
# case (lead, co, town, review); "handler@DEPT": a handler of that fixed department.
WHO: dict[tuple[str, str], set[str]] = {
    (E, "assign"): {"dispatcher"},
    (E, "decline"): {"dispatcher"},
    (E, "accept"): {"handler:lead"},
    (E, "return"): {"handler:lead"},
    (E, "reassign"): {"dispatcher"},
    (E, "request_extension"): {"handler:lead"},
    (E, "approve_extension"): {"dispatcher"},
    (E, "reject_extension"): {"dispatcher"},
    (E, "answer"): {"handler:lead"},
    (E, "send_back"): {"dispatcher"},
    (E, "approve_answer"): {"dispatcher"},
    (E, "close"): {"dispatcher"},
    (E, "reopen"): {"dispatcher"},
    (E, "co_accept"): {"handler:co"},
    (E, "co_feedback"): {"handler:co"},
    (E, "supervise"): {"dispatcher"},  # §5: raised by hand by a dispatcher
    (E, "list"): {"dispatcher"},
    (S, "start_verification"): {"dispatcher", "handler:town"},
    (S, "submit_findings"): {"handler:town"},
    (S, "submit_ecology_view"): {"handler@ecology"},  # §9: 认定 with the 生态环境分局's view
    (S, "dismiss"): {"dispatcher"},
    (S, "classify_ban"): {"dispatcher"},
    (S, "classify_rectify"): {"dispatcher"},
    (S, "submit_clearance"): {"handler:town"},
    (S, "submit_rectification"): {"handler:town"},
    (S, "extend_rectification"): {"dispatcher"},
    (S, "convert_to_ban"): {"dispatcher"},
    (S, "pass_acceptance"): {"dispatcher"},
    (S, "fail_acceptance"): {"dispatcher", "handler:town", "handler:review"},  # dispatcher or signer
    (S, "revisit"): {"system"},
    (S, "confirm_revisit"): {"handler:town"},
    (S, "report_relapse"): {"handler:town", "dispatcher"},
    (S, "supervise"): {"dispatcher"},
    (S, "list"): {"dispatcher"},
    # §4 items: 两断三清, rectification items, acceptance sign-offs
    (S, "cut_water"): {"handler@water"},
    (S, "cut_power"): {"handler@power"},
    (S, "cut_gas"): {"handler@gas"},
    (S, "clear_materials"): {"handler:town"},
    (S, "clear_products"): {"handler:town"},
    (S, "clear_equipment"): {"handler:town"},
    (S, "business_license"): {"handler:town"},
    (S, "pollution_control"): {"handler:town"},
    (S, "town_check"): {"handler:town"},
    (S, "department_review"): {"handler:review"},
    (S, "office_verification"): {"dispatcher"},
}

# How the matrix's cases relate to units. Enterprise problems: enterprise in 孔城镇, lead unit
# 市供电公司 and co-unit 市发改委 once assigned. Sites: in 孔城镇, violations 环境违法 (→ review by
# 市生态环境分局) and 无证无照; the 两断三清 executors (water, power, gas) once classified as a ban.
RELATIONS = {
    E: {"power": {"lead"}, "drc": {"co"}, "kongcheng": {"town"}},
    S: {"kongcheng": {"town"}, "ecology": {"review"}},
}
VISIBLE_TO_UNITS = {
    (E, "registered"): {"kongcheng"},
    (E, "assigned"): {"kongcheng", "power", "drc"},
    (S, "verifying"): {"kongcheng", "ecology"},
    (S, "rectifying"): {"kongcheng", "ecology"},
    (S, "cleared"): {"kongcheng", "ecology", "water", "power", "gas"},
}
"""The units whose handlers see a case: its town, lead and co-units, review department and item
executors (the brief's visibility rule), per stage of the matrix's cases."""


def expected(workflow: str, action: str, stage: str, role: str, dept: str) -> int:
    who = WHO[(workflow, action)]
    visible = role in SEES_ALL or dept in VISIBLE_TO_UNITS[(workflow, stage)]
    if not visible:
        return 404
    if role in who:
        return 200
    if role == "handler":
        relations = RELATIONS[workflow].get(dept, set())
        if f"handler@{dept}" in who or any(f"handler:{r}" in who for r in relations):
            return 200
    return 403


# --- the rows: each action at a state where it can fire, with valid input --------------------


@dataclass(frozen=True)
class Row:
    workflow: str
    action: str
    setup: str
    """Key of ``SETUPS``: how to bring a fresh case to the state."""
    stage: str
    """Key of ``VISIBLE_TO_UNITS`` for the case as prepared."""
    to: str
    fields: dict[str, Any] = field(default_factory=dict)
    own: tuple[str, ...] = ()
    """Units the case concerns whose users are tried (besides ``OTHER``)."""
    item: bool = False
    evidence: bool = False

    @property
    def id(self) -> str:
        return f"{'E' if self.workflow == E else 'S'}-{self.action}"


REASON = {"reason": "矩阵测试"}
ROWS = [
    Row(
        E, "assign", "e_registered", "registered", "assigned", {"lead_unit": "power", "co_units": "drc"}, ("kongcheng",)
    ),
    Row(E, "decline", "e_registered", "registered", "not_accepted", REASON, ("kongcheng",)),
    Row(E, "accept", "e_assigned", "assigned", "in_progress", {}, ("power", "drc")),
    Row(E, "return", "e_assigned", "assigned", "registered", REASON, ("power", "drc")),
    Row(
        E, "reassign", "e_assigned", "assigned", "assigned", {"lead_unit": "water", "reason": "改派"}, ("power", "drc")
    ),
    Row(
        E,
        "request_extension",
        "e_in_progress",
        "assigned",
        "extension_requested",
        {"reason": "需协调", "days": 5},
        ("power", "drc"),
    ),
    Row(E, "approve_extension", "e_extension_requested", "assigned", "in_progress", {"days": 5}, ("power",)),
    Row(E, "reject_extension", "e_extension_requested", "assigned", "in_progress", REASON, ("power",)),
    Row(
        E,
        "answer",
        "e_fed_back",
        "assigned",
        "answered",
        {"result": "resolved", "reply": "已办结", "signed_by": "负责人"},
        ("power", "drc"),
    ),
    Row(E, "send_back", "e_answered", "assigned", "in_progress", REASON, ("power",)),
    Row(E, "approve_answer", "e_answered", "assigned", "follow_up", {}, ("power",)),
    Row(E, "close", "e_follow_up", "assigned", "closed", {"satisfaction": "满意"}, ("power",)),
    Row(
        E,
        "reopen",
        "e_follow_up",
        "assigned",
        "in_progress",
        {"satisfaction": "不满意", "reason": "未解决"},
        ("power",),
    ),
    Row(E, "co_accept", "e_assigned", "assigned", "assigned", {}, ("drc", "power")),
    Row(E, "co_feedback", "e_co_accepted", "assigned", "in_progress", {"reply": "无意见"}, ("drc", "power")),
    Row(E, "supervise", "e_in_progress", "assigned", "in_progress", REASON, ("power",)),
    Row(E, "list", "e_in_progress", "assigned", "in_progress", REASON, ("power",)),
    Row(S, "start_verification", "s_reported", "verifying", "verifying", {}, ("kongcheng", "ecology")),
    Row(S, "submit_findings", "s_verifying", "verifying", "verifying", {"notes": "现场核实：无证生产"}, ("kongcheng",)),
    Row(S, "submit_ecology_view", "s_verifying", "verifying", "verifying", {"notes": "建议取缔"}, ("ecology",)),
    Row(S, "dismiss", "s_verifying", "verifying", "dismissed", REASON, ("kongcheng",)),
    Row(S, "classify_ban", "s_verifying", "verifying", "clearing", {"plan": "取缔", "cut_gas": "yes"}, ("kongcheng",)),
    Row(
        S,
        "classify_rectify",
        "s_verifying",
        "verifying",
        "rectifying",
        {"items": ["business_license"], "plan": "整改"},
        ("kongcheng",),
    ),
    Row(
        S,
        "extend_rectification",
        "s_rectifying",
        "rectifying",
        "rectifying",
        {"deadline": "2026-11-30"},
        ("kongcheng",),
    ),
    Row(S, "convert_to_ban", "s_rectifying", "rectifying", "clearing", REASON, ("kongcheng",)),
    Row(S, "submit_clearance", "s_clearing_done", "cleared", "acceptance", {}, ("kongcheng", "water")),
    Row(S, "submit_rectification", "s_rectifying_done", "rectifying", "acceptance", {}, ("kongcheng", "ecology")),
    Row(S, "pass_acceptance", "s_signed", "cleared", "closed", {}, ("kongcheng",)),
    Row(S, "fail_acceptance", "s_acceptance", "cleared", "clearing", REASON, ("kongcheng", "ecology", "power")),
    Row(S, "revisit", "s_closed", "cleared", "revisit_due", {}, ("kongcheng",)),
    Row(
        S,
        "confirm_revisit",
        "s_revisit_due",
        "cleared",
        "archived",
        {"notes": "未见反弹"},
        ("kongcheng",),
        evidence=True,
    ),
    Row(S, "report_relapse", "s_closed", "cleared", "clearing", {"notes": "夜间复产"}, ("kongcheng",), evidence=True),
    Row(S, "supervise", "s_clearing", "cleared", "clearing", REASON, ("kongcheng",)),
    Row(S, "list", "s_clearing", "cleared", "clearing", REASON, ("kongcheng",)),
    Row(S, "cut_water", "s_clearing", "cleared", "clearing", {}, ("water", "kongcheng"), item=True, evidence=True),
    Row(
        S,
        "cut_power",
        "s_clearing",
        "cleared",
        "clearing",
        {"meter_reading": "123.4"},
        ("power", "kongcheng"),
        item=True,
        evidence=True,
    ),
    Row(S, "cut_gas", "s_clearing", "cleared", "clearing", {}, ("gas", "water"), item=True, evidence=True),
    Row(
        S, "clear_materials", "s_clearing", "cleared", "clearing", {}, ("kongcheng", "power"), item=True, evidence=True
    ),
    Row(
        S, "clear_products", "s_clearing", "cleared", "clearing", {}, ("kongcheng", "ecology"), item=True, evidence=True
    ),
    Row(S, "clear_equipment", "s_clearing", "cleared", "clearing", {}, ("kongcheng", "gas"), item=True, evidence=True),
    Row(
        S,
        "business_license",
        "s_rectifying2",
        "rectifying",
        "rectifying",
        {},
        ("kongcheng", "ecology"),
        item=True,
        evidence=True,
    ),
    Row(
        S,
        "pollution_control",
        "s_rectifying2",
        "rectifying",
        "rectifying",
        {},
        ("kongcheng", "ecology"),
        item=True,
        evidence=True,
    ),
    Row(S, "town_check", "s_acceptance", "cleared", "acceptance", {}, ("kongcheng", "ecology"), item=True),
    Row(S, "department_review", "s_town_checked", "cleared", "acceptance", {}, ("ecology", "kongcheng"), item=True),
    Row(S, "office_verification", "s_reviewed", "cleared", "acceptance", {}, ("kongcheng", "ecology"), item=True),
]
BUG_EVIDENCE = (
    "BUG: POST /api/cases/{n}/actions/{trigger} takes JSON only and cannot carry evidence files, so the "
    "triggers that require evidence (confirm_revisit, report_relapse) can never be fired over HTTP "
    "(web/api/cases_routes.py act())"
)


def test_the_rows_cover_every_trigger_and_item_of_both_workflows(api_env: ApiEnv) -> None:
    """The matrix leaves nothing out (the check reads the definitions only to count)."""
    covered = {(r.workflow, r.action) for r in ROWS}
    assert covered == set(WHO)
    for workflow in (E, S):
        spec = api_env.app.definitions.current(workflow).spec
        triggers = set(spec.triggers) | {"supervise", "list"}
        items = {k for c in spec.checklists.values() for k in c.items}
        # rectification items are alike; two of them stand for the rest, and 'other' needs text
        items -= {"eia_approval", "discharge_permit", "safety_conditions", "land_planning", "other"}
        assert {a for w, a in covered if w == workflow} == triggers | items


# --- preparing cases through the service ------------------------------------------------------


def _prepare(app: Any, setup: str) -> str:
    a = standard_actors(app)
    advance = app.cases.advance

    def item(number: str, key: str, actor: Actor, fields: dict[str, Any] | None = None, seed: int = 1) -> None:
        app.cases.complete_item(number, key, actor, fields or {}, evidence=[Upload("p.png", tiny_png(seed))])

    if setup.startswith("e_"):
        n = app.cases.create(E, a.dispatcher, enterprise_fields())["number"]
        steps: list[tuple[str, Actor, dict[str, Any]]] = []
        chain = {
            "e_registered": [],
            "e_assigned": [("assign", a.dispatcher, {"lead_unit": "power", "co_units": "drc"})],
            "e_in_progress": ["e_assigned", ("accept", a.power, {})],
            "e_co_accepted": ["e_in_progress", ("co_accept", a.drc, {})],
            "e_fed_back": ["e_co_accepted", ("co_feedback", a.drc, {"reply": "无意见"})],
            "e_extension_requested": ["e_in_progress", ("request_extension", a.power, {"reason": "需协调", "days": 5})],
            "e_answered": [
                "e_fed_back",
                ("answer", a.power, {"result": "resolved", "reply": "已办", "signed_by": "负责人"}),
            ],
            "e_follow_up": ["e_answered", ("approve_answer", a.dispatcher, {})],
        }

        def expand(key: str) -> None:
            for step in chain[key]:
                if isinstance(step, str):
                    expand(step)
                else:
                    steps.append(step)

        expand(setup)
        for trigger, actor, fields in steps:
            advance(n, trigger, actor, fields)
        return str(n)

    n = app.cases.create(S, a.dispatcher, site_fields(violations=["环境违法", "无证无照"]))["number"]
    if setup == "s_reported":
        return str(n)
    advance(n, "start_verification", a.dispatcher)
    if setup == "s_verifying":
        return str(n)
    if setup.startswith("s_rectifying"):
        items = ["business_license", "pollution_control"]
        advance(n, "classify_rectify", a.dispatcher, {"items": items, "plan": "整改"})
        if setup == "s_rectifying_done":
            for i, key in enumerate(items):
                item(n, key, a.kongcheng, seed=i)
                if key == "business_license":  # a permit counts once 市市场监管局 confirms it (§9)
                    app.cases.decide_item(n, key, "confirm", a.market_regulation)
        return str(n)
    advance(n, "classify_ban", a.dispatcher, {"plan": "取缔", "cut_gas": "yes"})
    if setup == "s_clearing":
        return str(n)
    for i, (key, actor) in enumerate((("cut_water", a.water), ("cut_power", a.power), ("cut_gas", a.gas),
                                      ("clear_materials", a.kongcheng), ("clear_products", a.kongcheng),
                                      ("clear_equipment", a.kongcheng))):  # fmt: skip
        item(n, key, actor, {"meter_reading": "1"} if key == "cut_power" else {}, seed=i)
    if setup == "s_clearing_done":
        return str(n)
    advance(n, "submit_clearance", a.kongcheng)
    if setup == "s_acceptance":
        return str(n)
    app.cases.complete_item(n, "town_check", a.kongcheng, {})
    if setup == "s_town_checked":
        return str(n)
    app.cases.complete_item(n, "department_review", a.ecology, {})
    if setup == "s_reviewed":
        return str(n)
    app.cases.complete_item(n, "office_verification", a.dispatcher, {})
    if setup == "s_signed":
        return str(n)
    advance(n, "pass_acceptance", a.dispatcher)
    if setup == "s_closed":
        return str(n)
    advance(n, "revisit", a.system)
    assert setup == "s_revisit_due", setup
    return str(n)


@pytest.fixture(scope="module")
def refusal_cases(api_env: ApiEnv) -> dict[str, str]:
    """One case per row for the refused requests (they must not change it), made on demand."""
    return {}


# --- firing over HTTP -------------------------------------------------------------------------

EVIDENCE = tiny_png(4242)


def fire(client: ApiClient, row: Row, number: str, *, with_evidence: bool) -> Any:
    if row.item:
        files = [("证明.png", EVIDENCE, "image/png")] if row.evidence else []
        return client.item(number, row.action, row.fields, files=files)
    if with_evidence:
        # an action that requires evidence: multipart, as the items endpoint takes it
        import json

        return client.post(
            f"/api/cases/{number}/actions/{row.action}",
            data={"fields": json.dumps(row.fields, ensure_ascii=False)},
            files=[("evidence", ("证明.png", EVIDENCE, "image/png"))],
        )
    return client.act(number, row.action, row.fields)


def user(api_env: ApiEnv, role: str, dept: str) -> ApiClient:
    return api_env.client(f"m_{role}_{dept}", dept, (role,))


def _params() -> list[Any]:
    params = []
    for row in ROWS:
        for role in ROLES:
            marks = []
            needs_evidence_action = row.evidence and not row.item
            if needs_evidence_action and any(
                expected(row.workflow, row.action, row.stage, role, dept) == 200 for dept in (*row.own, OTHER)
            ):
                pass  # BUG_EVIDENCE is fixed: actions take multipart evidence
            params.append(pytest.param(row, role, id=f"{row.id}-{role}", marks=marks))
    return params


@pytest.mark.parametrize(("row", "role"), _params())
def test_permission_matrix(api_env: ApiEnv, refusal_cases: dict[str, str], row: Row, role: str) -> None:
    app = api_env.app
    mismatches: list[str] = []
    for dept in (*row.own, OTHER):
        want = expected(row.workflow, row.action, row.stage, role, dept)
        client = user(api_env, role, dept)
        if want == 200:
            number = _prepare(app, row.setup)
            before = app.cases.show(number)
            response = fire(client, row, number, with_evidence=row.evidence)
            if response.status_code != 200:
                mismatches.append(f"{role}@{dept}: expected 200, got {response.status_code} {response.text[:300]}")
                continue
            case = response.json()
            after = app.cases.show(number)
            if case["state"] != row.to or after["state"] != row.to or after["version"] != before["version"] + 1:
                mismatches.append(
                    f"{role}@{dept}: 200 but state {case['state']} (want {row.to}), version {after['version']}"
                )
            done = next(i for i in after["items"] if i["key"] == row.action) if row.item else None
            if done is not None and done["status"] not in ("done", "awaiting_confirmation"):  # a permit awaits its department
                mismatches.append(f"{role}@{dept}: 200 but item {row.action} not done")
            continue
        if row.id not in refusal_cases:
            refusal_cases[row.id] = _prepare(app, row.setup)
        number = refusal_cases[row.id]
        before = snapshot(app, number)
        response = fire(client, row, number, with_evidence=False)
        detail = client.get(f"/api/cases/{number}")
        history = client.get(f"/api/cases/{number}/history")
        if snapshot(app, number) != before:
            mismatches.append(f"{role}@{dept}: a refused request changed the case")
        if response.status_code != want:
            mismatches.append(f"{role}@{dept}: expected {want}, got {response.status_code} {response.text[:300]}")
            continue
        if want == 404:
            error_of(response, 404, "not_found")
            if detail.status_code != 404 or history.status_code != 404:
                mismatches.append(
                    f"{role}@{dept}: action 404 but detail {detail.status_code}, history {history.status_code}"
                )
            elif detail.json() != response.json() or history.json() != response.json():
                mismatches.append(f"{role}@{dept}: the 404s differ (a leak): {detail.text} / {history.text}")
        else:
            body = error_of(response, 403, "permission_denied")
            if not body["message"].startswith("无权操作：") or len(body["message"]) <= len("无权操作：") + 2:
                mismatches.append(f"{role}@{dept}: 403 without a reason: {body['message']}")
            if detail.status_code != 200 or history.status_code != 200:
                mismatches.append(
                    f"{role}@{dept}: 403 on a visible case but detail {detail.status_code}, history {history.status_code}"
                )
            elif row.action in detail.json()["allowed_triggers"] + detail.json()["allowed_items"]:
                mismatches.append(f"{role}@{dept}: refused {row.action} is listed as allowed")
    assert not mismatches, "\n".join(mismatches)


# --- visibility of what is not an action ------------------------------------------------------


def test_evidence_is_visible_exactly_to_those_who_see_its_case(api_env: ApiEnv) -> None:
    """GET /api/evidence/{sha}: 200 with the bytes for every role that sees the case, 404 for
    users of units the case does not concern (the same 404 as for a file that does not exist)."""
    app = api_env.app
    number = _prepare(app, "s_clearing")
    secret = tiny_png(777)
    a = standard_actors(app)
    app.cases.complete_item(number, "cut_power", a.power, {"meter_reading": "9"}, evidence=[Upload("电表.png", secret)])
    from api_support import sha256

    digest = sha256(secret)
    missing = user(api_env, "dispatcher", "power").get(f"/api/evidence/{'f' * 64}")
    error_of(missing, 404, "not_found")
    for role in ROLES:
        for dept in ("power", "kongcheng", "ecology", "water", OTHER):
            want = 200 if role in SEES_ALL or dept in VISIBLE_TO_UNITS[(S, "cleared")] else 404
            response = user(api_env, role, dept).get(f"/api/evidence/{digest}")
            assert response.status_code == want, f"{role}@{dept}: {response.status_code}"
            if want == 200:
                assert response.content == secret and response.headers["content-type"] == "image/png"
            else:
                assert response.json()["details"]["what"] == missing.json()["details"]["what"]


def test_collector_sees_what_it_registered_and_acts_on_nothing(api_env: ApiEnv) -> None:
    collector = user(api_env, "collector", OTHER)
    response = collector.post("/api/cases", json={"type": E, "fields": enterprise_fields(title="收集员登记")})
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    assert collector.case(number)["allowed_triggers"] == []
    assert collector.get(f"/api/cases/{number}/history").status_code == 200
    error_of(collector.act(number, "assign", {"lead_unit": "power"}), 403, "permission_denied")
    # another collector of the same (unrelated) unit did not register it: not found
    other = api_env.client("m_collector2_finance", OTHER, ("collector",))
    error_of(other.get(f"/api/cases/{number}"), 404, "not_found")
    listed = [c["number"] for c in collector.get("/api/cases").json()["items"]]
    assert number in listed


def test_supervisors_and_convenors_read_everything_and_change_nothing(api_env: ApiEnv) -> None:
    app = api_env.app
    number = _prepare(app, "e_in_progress")
    for role in ("supervisor", "convenor"):
        client = user(api_env, role, OTHER)
        case = client.case(number)
        assert case["allowed_triggers"] == [] and case["allowed_items"] == []
        assert client.get(f"/api/cases/{number}/history").status_code == 200
        created = client.post("/api/cases", json={"type": E, "fields": enterprise_fields()})
        error_of(created, 403, "permission_denied")
    supervisor = user(api_env, "supervisor", OTHER)
    assert supervisor.get("/api/audit/verify").status_code == 200
    error_of(user(api_env, "handler", "power").get("/api/audit/verify"), 403, "permission_denied")
    error_of(user(api_env, "handler", "power").get("/api/users"), 403, "permission_denied")
    assert user(api_env, "admin", OTHER).get("/api/users").status_code == 200


CREATE_WHO = {E: {"collector", "dispatcher"}, S: {"collector", "dispatcher", "handler:town"}}
"""DOMAIN.md §1 (collector: registers problems; the office collects) and §4 (the town's handler
registers sites it finds), by hand."""


@pytest.mark.parametrize("workflow", [E, S])
def test_who_may_register_a_case(api_env: ApiEnv, workflow: str) -> None:
    """Every role × a unit of the case (its town) / another unit: 201 or 403 with the reason;
    nothing is stored when refused."""
    from api_support import count

    from cases.models import Case

    fields = enterprise_fields(title="登记矩阵") if workflow == E else site_fields(site_name="登记矩阵点")
    mismatches = []
    for role in ROLES:
        for dept in ("kongcheng", OTHER):
            allowed = role in CREATE_WHO[workflow] or (
                role == "handler" and dept == "kongcheng" and "handler:town" in CREATE_WHO[workflow]
            )
            before = count(api_env.app, Case)
            response = user(api_env, role, dept).post("/api/cases", json={"type": workflow, "fields": fields})
            want = 201 if allowed else 403
            if response.status_code != want:
                mismatches.append(f"{role}@{dept}: expected {want}, got {response.status_code} {response.text[:200]}")
            elif want == 403:
                error_of(response, 403, "permission_denied")
                if count(api_env.app, Case) != before:
                    mismatches.append(f"{role}@{dept}: a refused registration stored a case")
            elif response.json()["created_by"] != f"m_{role}_{dept}":
                mismatches.append(f"{role}@{dept}: created_by {response.json()['created_by']}")
    assert not mismatches, "\n".join(mismatches)
