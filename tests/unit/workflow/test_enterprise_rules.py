"""Scenarios of the enterprise problem workflow (DOMAIN.md §3) through ``Rulebook.decide``:
co-unit feedback, extensions, reassignment, closing, reopening and raising to the convenors."""

import copy
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from workflow.case import CaseDraft
from workflow.errors import (
    CaseflowError,
    GuardFailed,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
)
from workflow.org import Actor
from workflow.rulebook import Decision, Rulebook

DISPATCHER = Actor("office-dispatcher", "sti", frozenset({"dispatcher"}))
POWER = Actor("power-handler", "power", frozenset({"handler"}))
WATER = Actor("water-handler", "water", frozenset({"handler"}))
NATURAL = Actor("nr-handler", "natural_resources", frozenset({"handler"}))
COMMERCE = Actor("commerce-handler", "commerce", frozenset({"handler"}))


@pytest.fixture
def book(enterprise_book: Rulebook) -> Rulebook:
    return enterprise_book


def fire(
    book: Rulebook, case: CaseDraft, trigger: str, actor: Actor, given: dict[str, Any], at: Any
) -> Decision:
    """Decide on a freshly loaded draft (signals are not stored, so they start empty)."""
    case.signals = []
    return book.decide(case, trigger, actor, given, at)


def refuse(
    book: Rulebook,
    case: CaseDraft,
    trigger: str,
    actor: Actor,
    given: dict[str, Any],
    at: Any,
    error: type[CaseflowError],
) -> Any:
    before = copy.deepcopy(case)
    with pytest.raises(error) as info:
        book.decide(case, trigger, actor, given, at)
    assert case == before
    return info.value


def registered(kit: SimpleNamespace) -> CaseDraft:
    return kit.enterprise_case("registered")


def test_happy_path_with_co_units(book: Rulebook, kit: SimpleNamespace) -> None:
    case, now = registered(kit), kit.NOW
    decision = fire(
        book,
        case,
        "assign",
        DISPATCHER,
        {"lead_unit": "市供电公司", "co_units": "市自然资源和规划局、commerce"},
        now,
    )
    assert decision.inputs["lead_unit"] == "power"
    assert case.fields["lead_unit"] == "power"
    assert case.fields["co_units"] == ["natural_resources", "commerce"]
    assert set(case.co_units) == {"natural_resources", "commerce"}
    assert all(
        r == {"accepted_at": None, "feedback_at": None, "feedback": None}
        for r in case.co_units.values()
    )
    assert case.flags["assigned_at"] == now.isoformat() and case.signals == ["clock:handling:start"]
    fire(book, case, "co_accept", NATURAL, {}, now)
    assert (
        case.state == "assigned"
        and case.co_units["natural_resources"]["accepted_at"] == now.isoformat()
    )
    fire(book, case, "accept", POWER, {}, now)
    fire(book, case, "co_accept", COMMERCE, {}, now)
    later = now + timedelta(hours=5)
    fire(book, case, "co_feedback", NATURAL, {"reply": "用地指标已落实"}, later)
    assert case.co_units["natural_resources"]["feedback_at"] == later.isoformat()
    assert case.co_units["natural_resources"]["feedback"] == "用地指标已落实"
    error = refuse(
        book,
        case,
        "answer",
        POWER,
        {"result": "resolved", "reply": "已增容", "signed_by": "分管副经理"},
        later,
        GuardFailed,
    )
    assert error.guard == "all_co_units_fed_back" and "市商务局" in error.reason
    assert "市自然资源和规划局" not in error.reason
    fire(book, case, "co_feedback", COMMERCE, {"reply": "无意见"}, later)
    fire(
        book,
        case,
        "answer",
        POWER,
        {"result": "partially_resolved", "reply": "已增容", "signed_by": "副经理"},
        later,
    )
    assert case.state == "answered"
    assert (case.fields["result"], case.fields["signed_by"]) == ("partially_resolved", "副经理")
    fire(book, case, "approve_answer", DISPATCHER, {}, later)
    fire(book, case, "close", DISPATCHER, {"satisfaction": "基本满意"}, later)
    assert (case.state, case.fields["satisfaction"]) == ("closed", "基本满意")
    assert book.allowed_triggers(case) == [] and book.allowed_triggers(case, DISPATCHER) == []


def test_co_feedback_needs_co_accept_first(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("in_progress", "co_accept")  # natural_resources has not accepted
    error = refuse(book, case, "co_feedback", NATURAL, {"reply": "x"}, kit.NOW, GuardFailed)
    assert error.guard == "co_assignment_accepted"
    fire(book, case, "co_accept", NATURAL, {}, kit.NOW)
    assert (
        refuse(book, case, "co_accept", NATURAL, {}, kit.NOW, GuardFailed).guard
        == "co_assignment_open"
    )
    fire(book, case, "co_feedback", NATURAL, {"reply": "同意"}, kit.NOW)
    assert case.state == "in_progress"


def test_only_co_units_act_on_co_assignments(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("assigned", "co_accept")
    for actor in (POWER, WATER, DISPATCHER):
        refuse(book, case, "co_accept", actor, {}, kit.NOW, PermissionDenied)
    refuse(book, case, "co_feedback", NATURAL, {"reply": "x"}, kit.NOW, TransitionNotAllowed)


def test_extension_limits(book: Rulebook, kit: SimpleNamespace) -> None:
    case, now = kit.enterprise_case("in_progress"), kit.NOW
    fire(book, case, "request_extension", POWER, {"reason": "等待电网批复", "days": "10"}, now)
    assert case.flags["pending_extension"] == {"days": 10, "reason": "等待电网批复"}
    error = refuse(book, case, "approve_extension", DISPATCHER, {"days": "11"}, now, GuardFailed)
    assert error.guard == "extension_grant_within_limits" and "10" in error.reason
    fire(book, case, "approve_extension", DISPATCHER, {"days": "10"}, now)
    assert case.state == "in_progress" and "pending_extension" not in case.flags
    assert (case.count("extension_count"), case.count("extension_days")) == (1, 10)
    assert case.signals == ["clock:extend:10wd"]
    error = refuse(
        book, case, "request_extension", POWER, {"reason": "再延", "days": "6"}, now, GuardFailed
    )
    assert error.guard == "extension_limits" and "15" in error.reason
    fire(book, case, "request_extension", POWER, {"reason": "再延", "days": "5"}, now)
    error = refuse(book, case, "approve_extension", DISPATCHER, {"days": "6"}, now, GuardFailed)
    assert error.guard == "extension_grant_within_limits"
    fire(book, case, "approve_extension", DISPATCHER, {"days": "3"}, now)
    assert (case.count("extension_count"), case.count("extension_days")) == (2, 13)
    error = refuse(
        book, case, "request_extension", POWER, {"reason": "第三次", "days": "1"}, now, GuardFailed
    )
    assert error.guard == "extension_limits" and "2次" in error.reason


@pytest.mark.parametrize("days", ["0", "16", "3.5"])
def test_extension_days_must_be_whole_working_days_up_to_15(
    days: str, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.enterprise_case("in_progress")
    error = refuse(
        book, case, "request_extension", POWER, {"reason": "x", "days": days}, kit.NOW, InvalidInput
    )
    assert list(error.errors) == ["days"]


def test_reject_extension_keeps_the_deadline(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("extension_requested")
    due = case.due_at
    fire(book, case, "reject_extension", DISPATCHER, {"reason": "理由不充分"}, kit.NOW)
    assert case.state == "in_progress" and case.due_at == due and case.signals == []
    assert "pending_extension" not in case.flags
    assert (case.count("extension_count"), case.count("extension_days")) == (0, 0)


@pytest.mark.parametrize(
    ("offset", "allowed"), [(-1, True), (0, False), (1, False), (86400, False)]
)
def test_request_extension_only_before_due_at(
    offset: int, allowed: bool, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.enterprise_case("in_progress")
    case.due_at = kit.NOW - timedelta(seconds=offset)
    given = {"reason": "需协调", "days": "3"}
    if allowed:
        assert (
            fire(book, case, "request_extension", POWER, given, kit.NOW).to_state
            == "extension_requested"
        )
    else:
        assert (
            refuse(book, case, "request_extension", POWER, given, kit.NOW, GuardFailed).guard
            == "before_due"
        )


@pytest.mark.parametrize("same", ["power", "市供电公司", " 市供电公司 "])
@pytest.mark.parametrize("state", ["assigned", "in_progress"])
def test_reassign_to_the_same_unit_is_refused(
    same: str, state: str, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.enterprise_case(state)
    error = refuse(
        book, case, "reassign", DISPATCHER, {"lead_unit": same, "reason": "x"}, kit.NOW, GuardFailed
    )
    assert error.guard == "lead_unit_changes"


def test_reassign_moves_the_case(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("in_progress")
    kept = copy.deepcopy(case.co_units["commerce"])
    later = kit.NOW + timedelta(days=1)
    fire(
        book,
        case,
        "reassign",
        DISPATCHER,
        {"lead_unit": "市供水集团公司", "reason": "职责调整", "co_units": "commerce、gas"},
        later,
    )
    assert (case.state, case.fields["lead_unit"], case.count("reassign_count")) == (
        "assigned",
        "water",
        1,
    )
    assert case.co_units == {
        "commerce": kept,
        "gas": {"accepted_at": None, "feedback_at": None, "feedback": None},
    }
    assert case.flags["assigned_at"] == later.isoformat() and case.signals == [
        "clock:handling:start"
    ]
    refuse(book, case, "accept", POWER, {}, later, PermissionDenied)
    assert fire(book, case, "accept", WATER, {}, later).to_state == "in_progress"


def test_lead_unit_cannot_be_a_co_unit(book: Rulebook, kit: SimpleNamespace) -> None:
    case = registered(kit)
    error = refuse(
        book,
        case,
        "assign",
        DISPATCHER,
        {"lead_unit": "power", "co_units": "water、市供电公司"},
        kit.NOW,
        GuardFailed,
    )
    assert error.guard == "co_units_exclude_lead"


def test_reassign_to_a_current_co_unit_never_leaves_it_a_co_unit(
    book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.enterprise_case("in_progress")  # co-units natural_resources, commerce
    error = refuse(
        book,
        case,
        "reassign",
        DISPATCHER,
        {"lead_unit": "commerce", "reason": "x"},
        kit.NOW,
        GuardFailed,
    )
    assert error.guard == "co_units_exclude_lead"


def test_return_and_decline(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("assigned")
    fire(book, case, "return", POWER, {"reason": "不属于本单位职责"}, kit.NOW)
    assert (case.state, case.count("return_count")) == ("registered", 1)
    fire(book, case, "decline", DISPATCHER, {"reason": "涉诉"}, kit.NOW)
    assert case.state == "not_accepted" and book.allowed_triggers(case) == []


def test_send_back_restarts_the_clock(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("answered")
    fire(book, case, "send_back", DISPATCHER, {"reason": "答复不具体"}, kit.NOW)
    assert (case.state, case.count("send_back_count"), case.signals) == (
        "in_progress",
        1,
        ["clock:restart:5wd"],
    )


SATISFIED = ["非常满意", "满意", "基本满意"]
DISSATISFIED = ["不满意", "非常不满意"]


@pytest.mark.parametrize("value", SATISFIED + DISSATISFIED)
def test_close_only_when_satisfied_and_reopen_only_when_not(
    value: str, book: Rulebook, kit: SimpleNamespace
) -> None:
    closing, reopening = kit.enterprise_case("follow_up"), kit.enterprise_case("follow_up")
    if value in SATISFIED:
        fire(book, closing, "close", DISPATCHER, {"satisfaction": value}, kit.NOW)
        assert (closing.state, closing.fields["satisfaction"]) == ("closed", value)
        error = refuse(
            book,
            reopening,
            "reopen",
            DISPATCHER,
            {"satisfaction": value, "reason": "x"},
            kit.NOW,
            InvalidInput,
        )
    else:
        fire(
            book,
            reopening,
            "reopen",
            DISPATCHER,
            {"satisfaction": value, "reason": "未解决"},
            kit.NOW,
        )
        assert (reopening.state, reopening.fields["satisfaction"]) == ("in_progress", value)
        assert reopening.count("reopen_count") == 1
        error = refuse(
            book, closing, "close", DISPATCHER, {"satisfaction": value}, kit.NOW, InvalidInput
        )
    assert list(error.errors) == ["satisfaction"]


def test_second_reopen_raises_to_the_convenors(book: Rulebook, kit: SimpleNamespace) -> None:
    case, now = kit.enterprise_case("follow_up"), kit.NOW
    reopen = {"satisfaction": "不满意", "reason": "问题依旧"}
    fire(book, case, "reopen", DISPATCHER, reopen, now)
    assert case.signals == ["clock:restart:5wd"] and "raised_to_convenors" not in case.flags
    for trigger, given in [
        ("answer", {"result": "explained", "reply": "已解释", "signed_by": "经理"}),
        ("approve_answer", {}),
    ]:
        fire(book, case, trigger, POWER if trigger == "answer" else DISPATCHER, given, now)
    second = now + timedelta(days=7)
    fire(book, case, "reopen", DISPATCHER, reopen, second)
    assert case.count("reopen_count") == 2
    assert case.flags["raised_to_convenors"] == second.isoformat()
    assert case.signals == ["clock:restart:5wd", "raised_to_convenors"]
    fire(
        book,
        case,
        "answer",
        POWER,
        {"result": "resolved", "reply": "已解决", "signed_by": "经理"},
        second,
    )
    fire(book, case, "approve_answer", DISPATCHER, {}, second)
    fire(book, case, "reopen", DISPATCHER, reopen, second + timedelta(days=7))
    assert case.flags["raised_to_convenors"] == second.isoformat()  # raised once
    assert case.signals == ["clock:restart:5wd"] and case.count("reopen_count") == 3


@pytest.mark.parametrize(
    ("created", "given", "stored"),
    [
        ("complex", {}, "complex"),
        ("complex", {"class": "simple"}, "simple"),
        (None, {}, "general"),
    ],
)
def test_class_given_at_creation_survives_assign(
    created: str | None, given: dict[str, str], stored: str, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = registered(kit)
    if created is None:
        del case.fields["class"]
    else:
        case.fields["class"] = created
    fire(book, case, "assign", DISPATCHER, {"lead_unit": "power", **given}, kit.NOW)
    assert case.fields["class"] == stored


def test_evidence_is_refused_where_none_is_taken(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.enterprise_case("assigned")
    before = copy.deepcopy(case)
    with pytest.raises(InvalidInput) as info:
        book.decide(case, "accept", POWER, {}, kit.NOW, [kit.sha("x")])
    assert info.value.field == "evidence" and case == before


def test_signals_describe_only_the_last_decision(book: Rulebook, kit: SimpleNamespace) -> None:
    case = registered(kit)
    book.decide(case, "assign", DISPATCHER, {"lead_unit": "power"}, kit.NOW)
    book.decide(case, "accept", POWER, {}, kit.NOW)
    assert case.signals == []
