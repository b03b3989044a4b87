"""What each unit owes in each state (``workflow.obligations``), and how a definition's
``obligations`` are checked when it loads (``workflow.loader``)."""

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow.calendar import Deadline, WorkingCalendar, end_of_day, load_package_data
from workflow.durations import parse_duration
from workflow.errors import DefinitionError
from workflow.loader import load_workflow_text
from workflow.obligations import due_of, owed
from workflow.org import Organisation
from workflow.rulebook import Rulebook
from workflow.spec import ObligationDue
from workflow.yamlfile import load_text

CONFIG = Path(__file__).resolve().parents[3] / "config"
CALENDAR = WorkingCalendar(load_package_data([2026]))
OPENED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def keys(rulebook: Rulebook, case: Any) -> list[tuple[str, str, bool]]:
    return [(o.key, o.unit, o.ready) for o in owed(rulebook, case)]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("registered", [("assign", "sti", True)]),
        ("assigned", [("accept", "power", True)]),
        ("answered", [("review", "sti", True)]),
        ("follow_up", [("follow_up", "sti", True)]),
        ("closed", []),
    ],
)
def test_enterprise_states_owe(state: str, expected: list[Any], enterprise_book: Rulebook, kit: Any) -> None:
    case = kit.enterprise_case(state)
    co = [("co_feedback", unit, True) for unit, a in case.co_units.items() if not a.get("feedback_at")]
    assert sorted(keys(enterprise_book, case)) == sorted(expected + (co if state == "assigned" else []))


def test_a_pending_extension_is_the_offices_ruling_while_the_handling_waits(enterprise_book: Rulebook, kit: Any) -> None:
    case = kit.enterprise_case("extension_requested")
    got = {(o.key, o.unit): o for o in owed(enterprise_book, case)}
    assert got[("handle", "power")].ready is False and got[("handle", "power")].due.clock
    assert got[("rule_extension", "sti")].ready is True
    assert got[("rule_extension", "sti")].due.duration == parse_duration("1wd")


def test_a_co_unit_that_fed_back_owes_nothing_more(enterprise_book: Rulebook, kit: Any) -> None:
    case = kit.enterprise_case("in_progress")
    first = sorted(case.co_units)[0]
    case.co_units[first]["feedback_at"] = OPENED.isoformat()
    assert ("co_feedback", first) not in {(o.key, o.unit) for o in owed(enterprise_book, case)}


def test_clearing_items_are_owed_by_their_executors_and_the_submission_only_once_they_are_done(
    site_book: Rulebook, kit: Any
) -> None:
    case = kit.site_case("clearing")
    for item in case.items.values():
        item.reset()
    got = {o.key: o for o in owed(site_book, case)}
    assert {k: o.unit for k, o in got.items()} == {
        "cut_water": "water", "cut_power": "power", "clear_materials": "kongcheng",
        "clear_products": "kongcheng", "clear_equipment": "kongcheng",
    }  # fmt: skip
    assert got["cut_water"].due.duration == parse_duration("3wd") and got["clear_materials"].due.clock
    for item in case.items.values():
        item.done = True
    assert [(o.key, o.unit) for o in owed(site_book, case)] == [("submit_clearance", "kongcheng")]


def test_sign_offs_open_one_at_a_time(site_book: Rulebook, kit: Any) -> None:
    case = kit.site_case("acceptance")
    for item in case.items_of("signoffs"):
        item.reset()
    for expected in ("town_check", "department_review", "office_verification"):
        (only,) = owed(site_book, case)
        assert only.key == expected
        case.items[expected].done = True
    assert [o.key for o in owed(site_book, case)] == ["conclude_acceptance"]


def test_verification_owes_the_town_its_findings_then_the_office_its_classification(
    site_book: Rulebook, kit: Any
) -> None:
    case = kit.site_case("verifying")
    assert keys(site_book, case) == [("verify", "kongcheng", True), ("ecology_view", "ecology", True)]
    case.flags["findings"] = {"at": OPENED.isoformat()}
    assert keys(site_book, case) == [("ecology_view", "ecology", True)]  # 认定 waits for both views
    case.flags["ecology_view"] = {"at": OPENED.isoformat()}
    assert keys(site_book, case) == [("classify", "sti", True)]


def test_due_rules() -> None:
    clock = Deadline(date(2026, 10, 16), end_of_day(date(2026, 10, 16)), False)
    assert due_of(ObligationDue(clock=True), OPENED, clock, CALENDAR) == clock
    assert due_of(ObligationDue(clock=True), OPENED, None, CALENDAR) is None
    # 1wd from 2026-09-30 skips the National Day holiday
    assert due_of(ObligationDue(duration=parse_duration("1wd")), OPENED, clock, CALENDAR).due_date == date(2026, 10, 8)
    before = ObligationDue(before_clock=parse_duration("2wd"), at_least=parse_duration("3wd"))
    assert due_of(before, OPENED, clock, CALENDAR).due_date == date(2026, 10, 14)  # two working days before 10-16
    early = Deadline(date(2026, 10, 9), end_of_day(date(2026, 10, 9)), False)
    assert due_of(before, OPENED, early, CALENDAR).due_date == date(2026, 10, 10)  # but at least 3wd (10-10 is worked)
    assert due_of(ObligationDue(), OPENED, clock, CALENDAR) is None


def _refused(data: dict[str, Any], org: Organisation) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        load_workflow_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "broken.yaml", org)
    return info.value


def _base() -> dict[str, Any]:
    path = CONFIG / "workflows" / "enterprise_issue.yaml"
    return copy.deepcopy(load_text(path.read_text(encoding="utf-8"), str(path)))


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"unit": "mayor"}, "obligations.accept.unit", "unknown unit"),
        ({"states": ["nowhere"]}, "obligations.accept.states", "unknown state"),
        ({"states": ["closed"]}, "obligations.accept.states", "terminal"),
        ({"due": "3 days"}, "obligations.accept.due", ""),
        ({"due": None}, "obligations.accept.due", "missing"),
        ({"roles": ["chief"]}, "obligations.accept.roles", "unknown role"),
        ({"states": ["answered"]}, "obligations.accept", "no action there"),
    ],
)
def test_broken_obligations_are_refused_with_their_key(
    change: dict[str, Any], key: str, reason: str, org: Organisation
) -> None:
    data = _base()
    data["obligations"]["accept"].update(change)
    if change.get("due", "") is None:
        del data["obligations"]["accept"]["due"]
    error = _refused(data, org)
    assert error.key == key and reason in error.reason


def test_an_obligation_named_like_an_item_or_not_an_identifier_is_refused(org: Organisation) -> None:
    data = _base()
    data["obligations"]["not a key"] = dict(data["obligations"]["accept"])
    assert _refused(data, org).key == "obligations.not a key"
