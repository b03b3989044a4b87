"""Scenarios of the scattered-polluting site workflow (DOMAIN.md §4): classification, the
两断三清 checklist (``Rulebook.complete_item``), rectification, acceptance sign-offs, relapse and
the revisit."""

import copy
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from workflow.calendar import CalendarData, WorkingCalendar
from workflow.case import CaseDraft
from workflow.deadlines import ClockBasis, compute, fill_deadline_field, plan_clock
from workflow.errors import CaseflowError, GuardFailed, InvalidInput, PermissionDenied
from workflow.org import Actor
from workflow.rulebook import Decision, Rulebook


def _actor(department: str, role: str = "handler") -> Actor:
    return Actor(f"{department}-{role}", department, frozenset({role}))


DISPATCHER = _actor("sti", "dispatcher")
TOWN, OTHER_TOWN = _actor("kongcheng"), _actor("lvting")
POWER, WATER, GAS, ECOLOGY, DRC = (_actor(d) for d in ("power", "water", "gas", "ecology", "drc"))
EXECUTOR = {
    "cut_water": WATER,
    "cut_power": POWER,
    "clear_materials": TOWN,
    "clear_products": TOWN,
    "clear_equipment": TOWN,
    "cut_gas": GAS,
}
CLEARING_ORDER = ["cut_water", "cut_power", "clear_materials", "clear_products", "clear_equipment"]


@pytest.fixture
def book(site_book: Rulebook) -> Rulebook:
    return site_book


def fire(
    book: Rulebook,
    case: CaseDraft,
    trigger: str,
    actor: Actor,
    given: dict[str, Any],
    at: datetime,
    evidence: list[str] | None = None,
) -> Decision:
    case.signals = []
    return book.decide(case, trigger, actor, given, at, evidence)


def refuse(call: Any, case: CaseDraft, error: type[CaseflowError]) -> Any:
    before = copy.deepcopy(case)
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert case == before, "a refusal changed the draft"
    return info.value


def complete(book: Rulebook, case: CaseDraft, key: str, kit: SimpleNamespace, **given: Any) -> None:
    actor = EXECUTOR.get(key, TOWN)
    if key == "cut_power":
        given.setdefault("meter_reading", "10234.5")
    book.complete_item(case, key, actor, given, kit.NOW, [kit.sha(key)])
    confirmer = book.confirmer(key, case)
    if confirmer is not None:  # a permit counts as done once its department confirms it
        book.decide_item(case, key, "confirm", _actor(confirmer), None, kit.NOW, [])


def classify_ban(book: Rulebook, kit: SimpleNamespace, cut_gas: str | None = None) -> CaseDraft:
    case = kit.site_case("verifying")
    given = {"plan": "一企一策"} if cut_gas is None else {"plan": "一企一策", "cut_gas": cut_gas}
    fire(book, case, "classify_ban", DISPATCHER, given, kit.NOW)
    return case


def test_classify_ban_opens_the_five_items(book: Rulebook, kit: SimpleNamespace) -> None:
    case = classify_ban(book, kit)
    assert case.state == "clearing" and case.flags["category"] == "ban"
    assert case.flags["classified_on"] == kit.TODAY.isoformat()
    assert (case.fields["plan"], case.fields["cut_gas"]) == ("一企一策", "no")
    items = case.items_of("clearing")
    assert [i.key for i in items] == CLEARING_ORDER
    assert [i.label for i in items] == [kit.CLEARING_ITEMS[k][0] for k in CLEARING_ORDER]
    assert not any(i.done or i.evidence or i.done_by for i in items)


@pytest.mark.parametrize("word", ["yes", "是"])
def test_cut_gas_adds_the_gas_item(word: str, book: Rulebook, kit: SimpleNamespace) -> None:
    case = classify_ban(book, kit, cut_gas=word)
    assert case.fields["cut_gas"] == "yes"
    assert [i.key for i in case.items_of("clearing")] == [*CLEARING_ORDER, "cut_gas"]
    assert case.items["cut_gas"].label == "断气"


def test_classification_day_is_the_day_in_shanghai(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("verifying")
    late = datetime(2026, 9, 30, 17, 30, tzinfo=UTC)  # 2026-10-01 01:30 in Shanghai
    fire(book, case, "classify_rectify", DISPATCHER, {"items": "business_license"}, late)
    assert case.flags["classified_on"] == "2026-10-01"
    # no date given: the clock runs on its default, 30 calendar days counted on the calendar
    assert "deadline" not in case.fields
    basis = plan_clock(book.spec, case, "verifying", "rectifying", False, case.signals, late).basis
    assert basis == ClockBasis(late.isoformat(), "30d", "rectifying")
    no_holidays_2026 = WorkingCalendar(CalendarData(known_years=frozenset({2026})))
    deadline = compute(basis, no_holidays_2026)
    assert deadline.due_date == date(2026, 11, 2)  # day 30 is Saturday 10-31: the next working day
    fill_deadline_field(book.spec, case, basis, deadline)
    assert case.fields["deadline"] == "2026-11-02"


def test_a_given_rectification_deadline_is_kept_as_given(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("verifying")
    fields = {"items": "business_license", "deadline": "2026-10-31"}  # a Saturday, as the office chose
    fire(book, case, "classify_rectify", DISPATCHER, fields, kit.NOW)
    basis = plan_clock(book.spec, case, "verifying", "rectifying", False, case.signals, kit.NOW).basis
    assert basis == ClockBasis("2026-10-31", None, "rectifying")
    deadline = compute(basis, WorkingCalendar(CalendarData(known_years=frozenset({2026}))))
    fill_deadline_field(book.spec, case, basis, deadline)
    assert (deadline.due_date, case.fields["deadline"]) == (date(2026, 10, 31), "2026-10-31")


def test_cut_power_by_the_power_company(book: Rulebook, kit: SimpleNamespace) -> None:
    case = classify_ban(book, kit)
    shas = [kit.sha("meter.jpg"), kit.sha("seal.jpg"), kit.sha("meter.jpg")]
    refuse(
        lambda: book.complete_item(
            case, "cut_power", WATER, {"meter_reading": "1"}, kit.NOW, shas[:1]
        ),
        case,
        PermissionDenied,
    )
    error = refuse(
        lambda: book.complete_item(case, "cut_power", POWER, {"meter_reading": "1"}, kit.NOW, []),
        case,
        InvalidInput,
    )
    assert error.field == "evidence"
    error = refuse(
        lambda: book.complete_item(case, "cut_power", POWER, {}, kit.NOW, shas), case, InvalidInput
    )
    assert list(error.errors) == ["meter_reading"]
    inputs = book.complete_item(
        case, "cut_power", POWER, {"meter_reading": "10234.5", "notes": "已拆表"}, kit.NOW, shas
    )
    item = case.items["cut_power"]
    assert (item.done, item.done_by, item.done_at) == (True, POWER.username, kit.NOW)
    assert item.evidence == shas[:2]  # de-duplicated, order kept
    assert item.data == inputs == {"meter_reading": "10234.5", "notes": "已拆表"}
    error = refuse(lambda: complete(book, case, "cut_power", kit), case, GuardFailed)
    assert error.guard == "item_open"


@pytest.mark.parametrize("key", [*CLEARING_ORDER, "cut_gas"])
def test_only_the_executor_completes_an_item(
    key: str, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = classify_ban(book, kit, cut_gas="yes")
    given = {"meter_reading": "1"} if key == "cut_power" else {}
    for actor in (
        DISPATCHER,
        OTHER_TOWN,
        POWER,
        WATER,
        GAS,
        TOWN,
        _actor("kongcheng", "unit_head"),
    ):
        if actor != EXECUTOR[key]:
            call = lambda a=actor: book.complete_item(case, key, a, given, kit.NOW, [kit.sha(key)])  # noqa: E731
            refuse(call, case, PermissionDenied)
    complete(book, case, key, kit)
    assert case.items[key].done and case.items[key].done_by == EXECUTOR[key].username


def test_items_that_the_case_does_not_have(book: Rulebook, kit: SimpleNamespace) -> None:
    case = classify_ban(book, kit)  # no gas cut
    error = refuse(lambda: complete(book, case, "cut_gas", kit), case, InvalidInput)
    assert error.field == "item" and "断气" in error.reason
    error = refuse(lambda: complete(book, case, "switch_off_wifi", kit), case, InvalidInput)
    assert error.field == "item"
    error = refuse(lambda: complete(book, case, "business_license", kit), case, InvalidInput)
    assert error.field == "item"


def test_submit_clearance_waits_for_every_item(book: Rulebook, kit: SimpleNamespace) -> None:
    case = classify_ban(book, kit)
    for key in CLEARING_ORDER:
        error = refuse(
            lambda: fire(book, case, "submit_clearance", TOWN, {}, kit.NOW), case, GuardFailed
        )
        assert error.guard == "checklist_complete" and kit.CLEARING_ITEMS[key][0] in error.reason
        complete(book, case, key, kit)
    fire(book, case, "submit_clearance", TOWN, {}, kit.NOW)
    assert case.state == "acceptance"
    signoffs = case.items_of("signoffs")
    assert [(i.key, i.label, i.done) for i in signoffs] == [
        (k, v[0], False) for k, v in kit.SIGNOFFS.items()
    ]
    error = refuse(lambda: complete(book, case, "cut_water", kit), case, GuardFailed)
    assert error.guard == "item_state"


def test_signoffs_in_order_and_pass_needs_all_three(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("acceptance")
    kit.add_signoffs(case, done=0)
    signers = [
        ("town_check", TOWN),
        ("department_review", ECOLOGY),
        ("office_verification", DISPATCHER),
    ]
    for done, (key, actor) in enumerate(signers):
        error = refuse(
            lambda: fire(book, case, "pass_acceptance", DISPATCHER, {}, kit.NOW), case, GuardFailed
        )
        assert error.guard == "signoffs_complete"
        for later, later_actor in signers[done + 1 :]:
            call = lambda k=later, a=later_actor: book.complete_item(case, k, a, {}, kit.NOW, [])  # noqa: E731
            assert refuse(call, case, GuardFailed).guard == "item_order"
        book.complete_item(
            case, key, actor, {"notes": "核查无误"}, kit.NOW, []
        )  # evidence optional
        assert case.items[key].done and case.items[key].data == {"notes": "核查无误"}
    fire(book, case, "pass_acceptance", DISPATCHER, {}, kit.NOW)
    assert case.state == "closed"


def test_department_review_follows_the_first_violation(
    book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.site_case("acceptance")
    kit.add_signoffs(case, done=1)
    case.fields["violations"] = ["不符合产业政策", "环境违法"]  # lead department 市发改委
    refuse(
        lambda: book.complete_item(case, "department_review", ECOLOGY, {}, kit.NOW, []),
        case,
        PermissionDenied,
    )
    book.complete_item(case, "department_review", DRC, {}, kit.NOW, [])
    assert book.executor("department_review", case) == "drc"
    assert book.executor("town_check", case) == "kongcheng"
    assert book.executor("office_verification", case) == "sti"
    assert book.executor("cut_power", case) == "power"


def test_allowed_items_offer_the_next_signoff_only(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("acceptance")
    kit.add_signoffs(case, done=1)
    assert book.allowed_items(case) == ["department_review"]
    assert book.allowed_items(case, ECOLOGY) == ["department_review"]
    assert book.allowed_items(case, TOWN) == [] and book.allowed_items(case, DISPATCHER) == []
    clearing = classify_ban(book, kit)
    assert book.allowed_items(clearing, TOWN) == [
        "clear_materials",
        "clear_products",
        "clear_equipment",
    ]
    assert book.allowed_items(clearing, POWER) == ["cut_power"]


def test_failed_acceptance_of_a_ban_case_goes_back_to_clearing(
    book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.site_case("acceptance")
    fire(
        book,
        case,
        "fail_acceptance",
        ECOLOGY,
        {"reason": "设备未清除", "redo_items": "clear_equipment"},
        kit.NOW,
    )
    assert (case.state, case.flags["category"], case.count("acceptance_fail_count")) == (
        "clearing",
        "ban",
        1,
    )
    assert case.items_of("signoffs") == []
    assert [i.key for i in case.items_of("clearing") if not i.done] == ["clear_equipment"]
    assert case.items["clear_equipment"].evidence == []


def test_rectify_case_fails_once_then_goes_to_clearing(
    book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.site_case("verifying")
    fire(
        book,
        case,
        "classify_rectify",
        DISPATCHER,
        {"items": "business_license、pollution_control"},
        kit.NOW,
    )
    assert (case.state, case.flags["category"]) == ("rectifying", "rectify")
    assert [(i.key, i.checklist) for i in case.items_of("rectification")] == [
        ("business_license", "rectification"),
        ("pollution_control", "rectification"),
    ]
    assert refuse(
        lambda: fire(book, case, "submit_rectification", TOWN, {}, kit.NOW), case, GuardFailed
    ).guard == ("checklist_complete")
    refuse(lambda: complete(book, case, "eia_approval", kit), case, InvalidInput)  # not chosen
    for key in ("business_license", "pollution_control"):
        complete(book, case, key, kit)
    fire(book, case, "submit_rectification", TOWN, {}, kit.NOW)
    fire(book, case, "fail_acceptance", TOWN, {"reason": "治理设施未运行"}, kit.NOW)
    assert (case.state, case.count("rectify_fail_count"), case.flags["category"]) == (
        "rectifying",
        1,
        "rectify",
    )
    assert case.items_of("signoffs") == [] and case.items_of("clearing") == []
    fire(book, case, "submit_rectification", TOWN, {}, kit.NOW)
    fire(book, case, "fail_acceptance", DISPATCHER, {"reason": "仍不达标"}, kit.NOW)
    assert (case.state, case.flags["category"], case.count("acceptance_fail_count")) == (
        "clearing",
        "ban",
        2,
    )
    assert [i.key for i in case.items_of("clearing")] == CLEARING_ORDER
    assert not any(i.done for i in case.items_of("clearing"))


def test_extend_rectification(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("rectifying", category="rectify")  # classified 20 days ago, deadline in 10
    limit = kit.CLASSIFIED_ON + timedelta(days=90)
    too_late = {"deadline": (limit + timedelta(days=1)).isoformat()}
    error = refuse(
        lambda: fire(book, case, "extend_rectification", DISPATCHER, too_late, kit.NOW),
        case,
        GuardFailed,
    )
    assert error.guard == "rectify_deadline_within_limit" and limit.isoformat() in error.reason
    earlier = {"deadline": (kit.TODAY + timedelta(days=9)).isoformat()}
    error = refuse(
        lambda: fire(book, case, "extend_rectification", DISPATCHER, earlier, kit.NOW),
        case,
        GuardFailed,
    )
    assert error.guard == "deadline_moves_later"
    fire(book, case, "extend_rectification", DISPATCHER, {"deadline": limit.isoformat()}, kit.NOW)
    assert (case.state, case.fields["deadline"], case.count("rectify_extension_count")) == (
        "rectifying",
        limit.isoformat(),
        1,
    )
    error = refuse(
        lambda: fire(
            book, case, "extend_rectification", DISPATCHER, {"deadline": limit.isoformat()}, kit.NOW
        ),
        case,
        GuardFailed,
    )
    assert error.guard == "rectify_extension_unused"


@pytest.mark.parametrize(
    ("days", "ok"), [(1, True), (90, True), (0, False), (-1, False), (91, False)]
)
def test_rectify_deadline_at_classification(
    days: int, ok: bool, book: Rulebook, kit: SimpleNamespace
) -> None:
    case = kit.site_case("verifying")
    deadline = (kit.TODAY + timedelta(days=days)).isoformat()
    given = {"items": "discharge_permit", "deadline": deadline}
    if ok:
        fire(book, case, "classify_rectify", DISPATCHER, given, kit.NOW)
        assert case.fields["deadline"] == deadline
    else:
        call = lambda: fire(book, case, "classify_rectify", DISPATCHER, given, kit.NOW)  # noqa: E731
        assert refuse(call, case, GuardFailed).guard == "rectify_deadline_within_limit"


def test_other_item_needs_a_description(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("verifying")
    given = {"items": "other"}
    assert refuse(
        lambda: fire(book, case, "classify_rectify", DISPATCHER, given, kit.NOW), case, GuardFailed
    ).guard == ("other_item_described")
    fire(book, case, "classify_rectify", DISPATCHER, {**given, "other_item": "搬离居民区"}, kit.NOW)
    assert case.fields["other_item"] == "搬离居民区" and [
        i.key for i in case.items_of("rectification")
    ] == ["other"]


def test_convert_to_ban(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("rectifying", category="rectify")
    fire(book, case, "convert_to_ban", DISPATCHER, {"reason": "整改不到位"}, kit.NOW)
    assert (case.state, case.flags["category"]) == ("clearing", "ban")
    assert case.flags["classified_on"] == kit.CLASSIFIED_ON.isoformat()
    assert [i.key for i in case.items_of("clearing")] == CLEARING_ORDER


@pytest.mark.parametrize("state", ["closed", "revisit_due"])
@pytest.mark.parametrize("category", ["ban", "rectify"])
def test_report_relapse(state: str, category: str, book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case(state, category=category)
    case.counters["relapse_count"] = 1
    notes = {"notes": "夜间恢复生产"}
    error = refuse(
        lambda: fire(book, case, "report_relapse", TOWN, notes, kit.NOW), case, InvalidInput
    )
    assert error.field == "evidence"
    fire(book, case, "report_relapse", TOWN, notes, kit.NOW, [kit.sha("night.jpg")])
    assert (case.state, case.count("relapse_count"), case.flags["category"]) == (
        "clearing",
        2,
        "ban",
    )
    clearing = case.items_of("clearing")
    assert [i.key for i in clearing] == CLEARING_ORDER
    assert all(
        (i.done, i.done_by, i.done_at, i.evidence, i.data) == (False, None, None, [], {})
        for i in clearing
    )
    assert case.items_of("signoffs") == []


def test_revisit_only_by_the_system(book: Rulebook, kit: SimpleNamespace) -> None:
    case = kit.site_case("closed")
    for actor in (DISPATCHER, TOWN, _actor("sti", "admin")):
        refuse(lambda a=actor: fire(book, case, "revisit", a, {}, kit.NOW), case, PermissionDenied)
    system = Actor.system()
    assert "revisit" not in book.allowed_triggers(case)
    assert book.allowed_triggers(case, system) == ["revisit"]
    fire(book, case, "revisit", system, {}, kit.NOW)
    assert case.state == "revisit_due"
    refuse(
        lambda: fire(book, case, "confirm_revisit", TOWN, {}, kit.NOW, [kit.sha("a")]),
        case,
        InvalidInput,
    )
    fire(
        book,
        case,
        "confirm_revisit",
        TOWN,
        {"notes": "现场已复耕"},
        kit.NOW,
        [kit.sha("field.jpg")],
    )
    assert case.state == "archived" and book.allowed_triggers(case) == []
