"""Guard rows of the transition tables: ``(workflow, state, trigger, actor, case change, inputs)``
whose expected outcome is ``GuardFailed`` naming the rule (DOMAIN.md §3, §4). The actor is always
one the domain allows and the inputs are valid, so only the rule can refuse; the draft must come
back unchanged."""

import copy
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from workflow.case import CaseDraft
from workflow.errors import GuardFailed
from workflow.org import Actor
from workflow.rulebook import Rulebook

E, S = "enterprise_issue", "scattered_polluting"
DISPATCHER = Actor("office-dispatcher", "sti", frozenset({"dispatcher"}))
LEAD = Actor("power-handler", "power", frozenset({"handler"}))
CO = Actor("nr-handler", "natural_resources", frozenset({"handler"}))
TOWN = Actor("kongcheng-handler", "kongcheng", frozenset({"handler"}))

Prepare = Callable[[CaseDraft, SimpleNamespace], None]


def _nothing(case: CaseDraft, kit: SimpleNamespace) -> None:
    return None


def _set_co(code: str, **record: Any) -> Prepare:
    def prepare(case: CaseDraft, kit: SimpleNamespace) -> None:
        case.co_units[code].update(record)

    return prepare


def _counter(name: str, value: int) -> Prepare:
    def prepare(case: CaseDraft, kit: SimpleNamespace) -> None:
        case.counters[name] = value

    return prepare


def _past_due(case: CaseDraft, kit: SimpleNamespace) -> None:
    case.due_at = kit.NOW - timedelta(seconds=1)


def _undo(key: str) -> Prepare:
    def prepare(case: CaseDraft, kit: SimpleNamespace) -> None:
        case.items[key].reset()

    return prepare


def _days(n: int) -> Callable[[SimpleNamespace], str]:
    return lambda kit: (kit.TODAY + timedelta(days=n)).isoformat()


EXTEND = {"reason": "需上级审批", "days": "5"}
ANSWER = {"result": "resolved", "reply": "已办结", "signed_by": "分管副经理"}

# name: (workflow, state, trigger, actor, prepare the case, inputs, guard); an input value may
# be a callable of the kit (dates relative to today)
# fmt: off
ROWS: dict[str, tuple[str, str, str, Actor, Prepare, dict[str, Any], str]] = {
    "lead also co-unit on assign": (
        E, "registered", "assign", DISPATCHER, _nothing,
        {"lead_unit": "power", "co_units": "市供电公司、water"}, "co_units_exclude_lead"),
    "reassign to the same unit": (
        E, "in_progress", "reassign", DISPATCHER, _nothing,
        {"lead_unit": "市供电公司", "reason": "x"}, "lead_unit_changes"),
    "reassign lead also co-unit": (
        E, "assigned", "reassign", DISPATCHER, _nothing,
        {"lead_unit": "water", "co_units": "water、commerce", "reason": "x"},
        "co_units_exclude_lead"),
    "extension after due": (
        E, "in_progress", "request_extension", LEAD, _past_due, EXTEND, "before_due"),
    "third extension": (
        E, "in_progress", "request_extension", LEAD, _counter("extension_count", 2),
        {**EXTEND, "days": "1"}, "extension_limits"),
    "extension over 15wd": (
        E, "in_progress", "request_extension", LEAD, _counter("extension_days", 5),
        {**EXTEND, "days": "11"}, "extension_limits"),
    "grant more than requested": (
        E, "extension_requested", "approve_extension", DISPATCHER, _nothing,
        {"days": "6"}, "extension_grant_within_limits"),
    "grant over 15wd": (
        E, "extension_requested", "approve_extension", DISPATCHER,
        _counter("extension_days", 11), {"days": "5"}, "extension_grant_within_limits"),
    "answer before co-unit feedback": (
        E, "in_progress", "answer", LEAD, _set_co("commerce", feedback_at=None, feedback=None),
        ANSWER, "all_co_units_fed_back"),
    "co_accept twice": (
        E, "in_progress", "co_accept", CO, _nothing, {}, "co_assignment_open"),
    "co_feedback before co_accept": (
        E, "in_progress", "co_feedback", CO, _set_co("natural_resources", accepted_at=None),
        {"reply": "同意"}, "co_assignment_accepted"),
    "other item without text": (
        S, "verifying", "classify_rectify", DISPATCHER, _nothing,
        {"items": "other、business_license"}, "other_item_described"),
    "rectify deadline over 90d": (
        S, "verifying", "classify_rectify", DISPATCHER, _nothing,
        {"items": "business_license", "deadline": _days(91)}, "rectify_deadline_within_limit"),
    "rectify deadline today": (
        S, "verifying", "classify_rectify", DISPATCHER, _nothing,
        {"items": "business_license", "deadline": _days(0)}, "rectify_deadline_within_limit"),
    "second rectify extension": (
        S, "rectifying", "extend_rectification", DISPATCHER,
        _counter("rectify_extension_count", 1), {"deadline": _days(40)},
        "rectify_extension_unused"),
    "extension past 90d of classification": (  # classified 20 days ago
        S, "rectifying", "extend_rectification", DISPATCHER, _nothing,
        {"deadline": _days(71)}, "rectify_deadline_within_limit"),
    "extension not later": (  # current deadline in 10 days
        S, "rectifying", "extend_rectification", DISPATCHER, _nothing,
        {"deadline": _days(5)}, "deadline_moves_later"),
    "clearance incomplete": (
        S, "clearing", "submit_clearance", TOWN, _undo("cut_power"), {}, "checklist_complete"),
    "rectification incomplete": (
        S, "rectifying", "submit_rectification", TOWN, _undo("pollution_control"), {},
        "checklist_complete"),
    "signoffs incomplete": (
        S, "acceptance", "pass_acceptance", DISPATCHER, _undo("office_verification"), {},
        "signoffs_complete"),
}
# fmt: on


@pytest.mark.parametrize("row", ROWS)
def test_guard_row(row: str, books: dict[str, Rulebook], kit: SimpleNamespace) -> None:
    workflow, state, trigger, actor, prepare, raw, guard = ROWS[row]
    if workflow == E:
        case = kit.enterprise_case(state)
    else:
        case = kit.site_case(state, category="rectify" if state == "rectifying" else "ban")
    prepare(case, kit)
    given = {key: value(kit) if callable(value) else value for key, value in raw.items()}
    before = copy.deepcopy(case)
    with pytest.raises(GuardFailed) as info:
        books[workflow].decide(case, trigger, actor, given, kit.NOW)
    assert info.value.guard == guard and info.value.reason
    assert case == before, "a refused decision changed the draft"
    assert info.value.to_dict() == {
        "error": "guard_failed",
        "message": info.value.reason,
        "details": {"guard": guard},
    }
