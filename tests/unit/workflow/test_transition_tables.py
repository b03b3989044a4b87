"""Transition tables of both workflows: every (state, trigger, actor kind), as parametrized rows
``(workflow, state, trigger, actor_kind, expected)``.

The rows are generated from the loaded definitions (all states x all triggers x actor kinds), but
the expected outcome comes from the hand-written tables below, copied from DOMAIN.md §3 and §4
(who may do what, from which state, to which state). Guards and inputs have their own rows.
"""

import copy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workflow.errors import (
    CaseflowError,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
)
from workflow.loader import load_workflows
from workflow.org import Actor, load_organisation
from workflow.rulebook import Rulebook

CONFIG = Path(__file__).resolve().parents[3] / "config"
SPECS = load_workflows(CONFIG / "workflows", load_organisation(CONFIG / "departments.yaml"))
E, S = "enterprise_issue", "scattered_polluting"


def _actor(name: str, department: str, *roles: str) -> Actor:
    return Actor(name, department, frozenset(roles))


ACTORS: dict[str, Actor] = {
    "dispatcher": _actor("office-dispatcher", "sti", "dispatcher"),
    "handler_power": _actor("power-handler", "power", "handler"),  # enterprise: the lead unit
    "handler_co": _actor("nr-handler", "natural_resources", "handler"),  # enterprise: a co-unit
    "handler_other_unit": _actor("drc-handler", "drc", "handler"),
    "handler_water": _actor("water-handler", "water", "handler"),
    "handler_gas": _actor("gas-handler", "gas", "handler"),
    "handler_town": _actor("kongcheng-handler", "kongcheng", "handler"),  # the case's town
    "handler_other_town": _actor("lvting-handler", "lvting", "handler"),
    "handler_review": _actor("ecology-handler", "ecology", "handler"),  # site review department
    "handler_office": _actor("office-handler", "sti", "handler"),
    "unit_head_power": _actor("power-head", "power", "unit_head"),
    "unit_head_town": _actor("kongcheng-head", "kongcheng", "unit_head"),
    "supervisor": _actor("office-supervisor", "sti", "supervisor"),
    "collector": _actor("kongcheng-collector", "kongcheng", "collector"),
    "convenor": _actor("mayor", "gov_office", "convenor"),
    "admin": _actor("admin", "sti", "admin"),
    "system": Actor.system(),
}
D = {"dispatcher"}
LEAD = {"handler_power"}
TOWN = {"handler_town"}

# DOMAIN.md §3. trigger: (source states, actor kinds allowed, destination; None = stays).
# Co-units: DOMAIN says each co-unit accepts and feeds back on its own assignment; they may accept
# once the case is assigned and feed back while the lead unit is handling it.
ENTERPRISE_TABLE: dict[str, tuple[set[str], set[str], str | None]] = {
    "assign": ({"registered"}, D, "assigned"),
    "decline": ({"registered"}, D, "not_accepted"),
    "accept": ({"assigned"}, LEAD, "in_progress"),
    "return": ({"assigned"}, LEAD, "registered"),
    "reassign": ({"assigned", "in_progress"}, D, "assigned"),
    "request_extension": ({"in_progress"}, LEAD, "extension_requested"),
    "approve_extension": ({"extension_requested"}, D, "in_progress"),
    "reject_extension": ({"extension_requested"}, D, "in_progress"),
    "answer": ({"in_progress"}, LEAD, "answered"),
    "send_back": ({"answered"}, D, "in_progress"),
    "approve_answer": ({"answered"}, D, "follow_up"),
    "close": ({"follow_up"}, D, "closed"),
    "reopen": ({"follow_up"}, D, "in_progress"),
    "co_accept": ({"assigned", "in_progress", "extension_requested"}, {"handler_co"}, None),
    "co_feedback": ({"in_progress", "extension_requested"}, {"handler_co"}, None),
}
# DOMAIN.md §4. The acceptance fixture is a ban case, so a failed acceptance goes to clearing.
SITE_TABLE: dict[str, tuple[set[str], set[str], str | None]] = {
    "start_verification": ({"reported"}, D | TOWN, "verifying"),
    "submit_findings": ({"verifying"}, TOWN, None),
    "submit_ecology_view": ({"verifying"}, {"handler_review"}, None),  # 市生态环境分局's view (§9)
    "dismiss": ({"verifying"}, D, "dismissed"),
    "classify_ban": ({"verifying"}, D, "clearing"),
    "classify_rectify": ({"verifying"}, D, "rectifying"),
    "submit_clearance": ({"clearing"}, TOWN, "acceptance"),
    "submit_rectification": ({"rectifying"}, TOWN, "acceptance"),
    "extend_rectification": ({"rectifying"}, D, "rectifying"),
    "convert_to_ban": ({"rectifying"}, D, "clearing"),
    "pass_acceptance": ({"acceptance"}, D, "closed"),
    "fail_acceptance": ({"acceptance"}, D | TOWN | {"handler_review"}, "clearing"),
    "revisit": ({"closed"}, {"system"}, "revisit_due"),
    "confirm_revisit": ({"revisit_due"}, TOWN, "archived"),
    "report_relapse": ({"closed", "revisit_due"}, TOWN | D, "clearing"),
}
TABLES = {E: ENTERPRISE_TABLE, S: SITE_TABLE}
# fmt: off
STATES = {  # state: terminal
    E: {"registered": False, "assigned": False, "in_progress": False,
        "extension_requested": False, "answered": False, "follow_up": False, "closed": True,
        "not_accepted": True},
    S: {"reported": False, "verifying": False, "clearing": False, "rectifying": False,
        "acceptance": False, "closed": False, "revisit_due": False, "archived": True,
        "dismissed": True},
}
# Inputs each trigger requires (DOMAIN.md §3/§4, field keys of INTERFACES.md).
REQUIRED = {
    E: {"assign": {"lead_unit"}, "decline": {"reason"}, "return": {"reason"},
        "reassign": {"lead_unit", "reason"}, "request_extension": {"reason", "days"},
        "approve_extension": {"days"}, "reject_extension": {"reason"},
        "answer": {"result", "reply", "signed_by"}, "send_back": {"reason"},
        "close": {"satisfaction"}, "reopen": {"satisfaction", "reason"},
        "co_feedback": {"reply"}},
    S: {"submit_findings": {"notes"}, "submit_ecology_view": {"notes"}, "dismiss": {"reason"}, "classify_ban": {"plan"}, "classify_rectify": {"items"},
        "extend_rectification": {"deadline"}, "convert_to_ban": {"reason"},
        "fail_acceptance": {"reason"}, "confirm_revisit": {"notes"},
        "report_relapse": {"notes"}},
}
# fmt: on
NEEDS_EVIDENCE = {"confirm_revisit", "report_relapse"}


def inputs_for(kit: SimpleNamespace, workflow: str, trigger: str) -> dict[str, Any]:
    """Valid inputs for the happy path of ``trigger`` on the fixture cases."""
    given: dict[str, dict[str, Any]] = {
        "assign": {
            "lead_unit": "市供电公司",
            "co_units": "natural_resources、市商务局",
            "instructions": "尽快办理",
        },
        "decline": {"reason": "涉法涉诉事项，不予受理"},
        "return": {"reason": "不属于本单位职责"},
        "reassign": {"lead_unit": "water", "reason": "职责调整"},
        "request_extension": {"reason": "需上级公司审批", "days": "5"},
        "approve_extension": {"days": "5"},
        "reject_extension": {"reason": "理由不充分"},
        "answer": {"result": "resolved", "reply": "已完成增容", "signed_by": "分管副经理"},
        "send_back": {"reason": "答复未解决问题"},
        "close": {"satisfaction": "满意"},
        "reopen": {"satisfaction": "不满意", "reason": "企业反映问题未解决"},
        "co_feedback": {"reply": "已提供用地意见"},
        "submit_findings": {"notes": "现场核实：无证生产，有喷漆废气"},
        "submit_ecology_view": {"notes": "有喷漆废气直排，建议取缔"},
        "dismiss": {"reason": "持证合规经营"},
        "classify_ban": {"plan": "一企一策：断水断电，清除原料产品设备", "cut_gas": "否"},
        "classify_rectify": {
            "items": "business_license、pollution_control",
            "deadline": _days(kit, 30),
            "plan": "补办执照，建设治理设施",
        },
        "extend_rectification": {"deadline": _days(kit, 40), "reason": "设备到货延迟"},
        "convert_to_ban": {"reason": "整改不到位转取缔"},
        "fail_acceptance": {"reason": "现场仍有生产痕迹"},
        "confirm_revisit": {"notes": "回头看未发现死灰复燃"},
        "report_relapse": {"notes": "夜间恢复生产"},
    }
    return dict(given.get(trigger, {}))


def evidence_for(kit: SimpleNamespace, trigger: str) -> list[str]:
    return [kit.sha(f"{trigger}.jpg")] if trigger in NEEDS_EVIDENCE else []


def build(kit: SimpleNamespace, workflow: str, state: str, trigger: str | None = None) -> Any:
    if workflow == E:
        return kit.enterprise_case(state, trigger)
    return kit.site_case(state, trigger, category="rectify" if state == "rectifying" else "ban")


def expected(workflow: str, state: str, trigger: str, kind: str) -> Any:
    sources, who, dest = TABLES[workflow][trigger]
    if state not in sources:
        return TransitionNotAllowed
    if kind not in who:
        return PermissionDenied
    return dest or state


ROWS = [
    pytest.param(
        wf,
        state,
        trigger,
        kind,
        expected(wf, state, trigger, kind),
        id=f"{wf[:3]}-{state}-{trigger}-{kind}",
    )
    for wf, spec in SPECS.items()
    if wf in TABLES  # the two workflows of DOMAIN.md §3/§4; the subsidy's: test_tech_subsidy_table.py
    for state in spec.states
    for trigger in spec.triggers
    for kind in ACTORS
]


def test_definitions_match_the_domain_tables() -> None:
    for workflow, table in TABLES.items():
        spec = SPECS[workflow]
        assert set(spec.triggers) == set(table)
        assert {n: s.terminal for n, s in spec.states.items()} == STATES[workflow]


def refuse(
    book: Rulebook,
    case: Any,
    trigger: str,
    actor: Actor,
    given: dict[str, Any],
    kit: SimpleNamespace,
    error: type[CaseflowError],
    evidence: list[str],
) -> CaseflowError:
    before = copy.deepcopy(case)
    with pytest.raises(error) as info:
        book.decide(case, trigger, actor, given, kit.NOW, evidence)
    assert type(info.value) is error
    assert case == before, "a refused decision changed the draft"
    return info.value


@pytest.mark.parametrize(("workflow", "state", "trigger", "kind", "outcome"), ROWS)
def test_transition_table(
    workflow: str,
    state: str,
    trigger: str,
    kind: str,
    outcome: Any,
    books: dict[str, Rulebook],
    kit: SimpleNamespace,
) -> None:
    book, actor = books[workflow], ACTORS[kind]
    case = build(kit, workflow, state, trigger)
    given, evidence = inputs_for(kit, workflow, trigger), evidence_for(kit, trigger)
    if isinstance(outcome, str):
        decision = book.decide(case, trigger, actor, given, kit.NOW, evidence)
        assert (decision.from_state, decision.to_state, case.state) == (state, outcome, outcome)
        assert decision.trigger == trigger
        return
    error = refuse(book, case, trigger, actor, given, kit, outcome, evidence)
    if isinstance(error, TransitionNotAllowed):
        assert (error.trigger, error.state) == (trigger, state)
        assert error.allowed == book.allowed_triggers(case, actor)
    else:
        assert error.details == {"trigger": trigger, "state": state}


@pytest.mark.parametrize("workflow", TABLES)
@pytest.mark.parametrize("kind", ACTORS)
def test_allowed_triggers_follow_the_table(
    workflow: str, kind: str, books: dict[str, Rulebook], kit: SimpleNamespace
) -> None:
    for state in STATES[workflow]:
        case = build(kit, workflow, state)
        allowed = {
            t for t, (src, who, _) in TABLES[workflow].items() if state in src and kind in who
        }
        assert set(books[workflow].allowed_triggers(case, ACTORS[kind])) == allowed, state
        if kind == "supervisor":
            assert books[workflow].allowed_triggers(case, ACTORS[kind]) == []


@pytest.mark.parametrize("workflow", TABLES)
def test_allowed_triggers_for_anyone_leave_out_system_steps(
    workflow: str, books: dict[str, Rulebook], kit: SimpleNamespace
) -> None:
    for state in STATES[workflow]:
        table = TABLES[workflow]
        by_people = {t for t, (src, who, _) in table.items() if state in src and who != {"system"}}
        assert set(books[workflow].allowed_triggers(build(kit, workflow, state))) == by_people


def _first_source(workflow: str, trigger: str) -> str:
    return sorted(TABLES[workflow][trigger][0])[0]


def _authorised(workflow: str, trigger: str) -> Actor:
    return ACTORS[sorted(TABLES[workflow][trigger][1])[0]]


@pytest.mark.parametrize(
    ("workflow", "trigger"), [(wf, t) for wf in REQUIRED for t in REQUIRED[wf]]
)
def test_missing_inputs_are_all_named(
    workflow: str, trigger: str, books: dict[str, Rulebook], kit: SimpleNamespace
) -> None:
    state = _first_source(workflow, trigger)
    case = build(kit, workflow, state, trigger)
    error = refuse(
        books[workflow],
        case,
        trigger,
        _authorised(workflow, trigger),
        {},
        kit,
        InvalidInput,
        evidence_for(kit, trigger),
    )
    assert isinstance(error, InvalidInput)
    assert set(error.errors) == REQUIRED[workflow][trigger]
    assert all(reason.startswith("缺少必填字段") for reason in error.errors.values())


@pytest.mark.parametrize("trigger", sorted(NEEDS_EVIDENCE))
def test_evidence_is_required(trigger: str, site_book: Rulebook, kit: SimpleNamespace) -> None:
    case = build(kit, S, "revisit_due", trigger)
    error = refuse(
        site_book,
        case,
        trigger,
        ACTORS["handler_town"],
        inputs_for(kit, S, trigger),
        kit,
        InvalidInput,
        [],
    )
    assert isinstance(error, InvalidInput) and error.field == "evidence"


@pytest.mark.parametrize("workflow", TABLES)
@pytest.mark.parametrize("trigger", ["explode", "to_closed", "", "accept_all"])
def test_unknown_trigger_is_invalid_input(
    workflow: str, trigger: str, books: dict[str, Rulebook], kit: SimpleNamespace
) -> None:
    for state in STATES[workflow]:
        case = build(kit, workflow, state)
        error = refuse(
            books[workflow], case, trigger, ACTORS["dispatcher"], {}, kit, InvalidInput, []
        )
        assert isinstance(error, InvalidInput) and error.field == "trigger"


@pytest.mark.parametrize(("workflow", "trigger"), [(E, "classify_ban"), (S, "assign")])
def test_trigger_of_the_other_workflow_is_unknown(
    workflow: str, trigger: str, books: dict[str, Rulebook], kit: SimpleNamespace
) -> None:
    case = build(kit, workflow, next(iter(STATES[workflow])))
    refuse(books[workflow], case, trigger, ACTORS["dispatcher"], {}, kit, InvalidInput, [])


def _days(kit: SimpleNamespace, n: int) -> str:
    return (kit.TODAY + timedelta(days=n)).isoformat()
