"""The subsidy's transition table (``config/workflows/tech_subsidy.yaml``, DOMAIN.md §10 and issue
12): every (state, trigger, actor kind) as a parametrized row, the expected outcome from the
hand-written table below — who may do what from which state, to which state."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflow.case import CaseDraft, ItemState
from workflow.errors import PermissionDenied, TransitionNotAllowed
from workflow.loader import load_workflow
from workflow.org import Actor, load_organisation
from workflow.rulebook import Rulebook

CONFIG = Path(__file__).resolve().parents[3] / "config"
ORG = load_organisation(CONFIG / "departments.yaml")
BOOK = Rulebook(load_workflow(CONFIG / "workflows" / "tech_subsidy.yaml", ORG), ORG)
NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)

ACTORS = {
    "dispatcher": Actor("office", "sti", frozenset({"dispatcher"})),
    "collector": Actor("collector", "sti", frozenset({"collector"})),
    "town": Actor("kongcheng", "kongcheng", frozenset({"handler"})),
    "other_town": Actor("lvting", "lvting", frozenset({"handler"})),
    "sti": Actor("sti", "sti", frozenset({"handler"})),
    "statistics": Actor("statistics", "statistics", frozenset({"handler"})),
    "finance": Actor("finance", "finance", frozenset({"handler"})),
    "power": Actor("power", "power", frozenset({"handler"})),
    "convenor": Actor("mayor", "gov_office", frozenset({"convenor"})),
    "supervisor": Actor("supervisor", "sti", frozenset({"supervisor"})),
    "system": Actor.system(),
}
# (trigger, source state): (actor kinds allowed, destination)
TABLE: dict[tuple[str, str], tuple[set[str], str]] = {
    ("pass_town_review", "town_review"): ({"town"}, "department_review"),
    ("request_supplement", "town_review"): ({"town"}, "supplementing"),
    ("resubmit", "supplementing"): ({"collector", "dispatcher"}, "town_review"),
    ("forward_to_finance", "department_review"): ({"dispatcher"}, "finance_review"),
    ("decide_amount", "deliberation"): ({"convenor"}, "finance_review"),
    ("approve_subsidy", "finance_review"): ({"finance"}, "publicity"),
    ("end_publicity", "publicity"): ({"system"}, "payment"),
    ("pay", "payment"): ({"finance"}, "paid"),
    ("refuse", "town_review"): ({"town"}, "refused"),
    ("refuse", "department_review"): ({"sti", "statistics"}, "refused"),
    ("refuse", "deliberation"): ({"convenor"}, "refused"),
    ("refuse", "finance_review"): ({"finance"}, "refused"),
    ("refuse", "publicity"): ({"dispatcher"}, "refused"),
}
INPUTS = {
    "request_supplement": {"reason": "缺少设备购置发票"}, "decide_amount": {"decided_amount": "120", "notes": "会商核定"},
    "pay": {"voucher_no": "桐财拨〔2026〕1号"}, "refuse": {"reason": "不符合条件"},
}  # fmt: skip


def case_in(state: str) -> CaseDraft:
    big = state == "deliberation"
    fields = {"enterprise_name": "某企业", "uscc": "91340881MA2N0G8X6M", "town": "kongcheng", "project_name": "技改",
              "investment": "2500" if big else "800", "in_statistics": "yes", "mu_class": "B"}  # fmt: skip
    case = CaseDraft("tech_subsidy", "JG-2026-00001", state, fields)
    BOOK.compute(case)
    if state == "department_review":  # both reviews done: forwarding is then allowed
        for position, key in enumerate(("sti_review", "statistics_check")):
            item = ItemState("reviews", key, key, position)
            item.done, item.done_by, item.done_at = True, "reviewer", NOW
            case.items[key] = item
    return case


def expected(state: str, trigger: str, kind: str) -> object:
    row = TABLE.get((trigger, state))
    if row is None:
        return TransitionNotAllowed
    kinds, dest = row
    return dest if kind in kinds else PermissionDenied


ROWS = [
    pytest.param(state, trigger, kind, expected(state, trigger, kind), id=f"{state}-{trigger}-{kind}")
    for state in BOOK.spec.states
    if not BOOK.spec.states[state].terminal
    for trigger in BOOK.spec.triggers
    for kind in ACTORS
]


@pytest.mark.parametrize(("state", "trigger", "kind", "outcome"), ROWS)
def test_transition_table(state: str, trigger: str, kind: str, outcome: object) -> None:
    case = case_in(state)
    evidence = ["0" * 64] if trigger == "pay" else []
    if isinstance(outcome, str):
        decision = BOOK.decide(case, trigger, ACTORS[kind], dict(INPUTS.get(trigger, {})), NOW, evidence)
        assert decision.to_state == outcome == case.state
        return
    with pytest.raises(outcome):  # type: ignore[call-overload]
        BOOK.decide(case, trigger, ACTORS[kind], dict(INPUTS.get(trigger, {})), NOW, evidence)
    assert case.state == state


def test_the_table_covers_every_branch_of_the_definition() -> None:
    branches = {(t.trigger, s) for t in BOOK.spec.transitions for s in t.sources}
    assert branches == set(TABLE)
