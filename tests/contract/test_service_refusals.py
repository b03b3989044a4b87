"""A refused call changes nothing: after each kind of refusal the case's ``show()`` output, its
history, the evidence files on disk and the evidence rows are exactly as before."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import (
    Actors,
    count_rows,
    evidence_files,
    evidence_rows,
    new_enterprise_case,
    new_site_case,
    photo,
    walk_enterprise_to,
    walk_site_to,
)

from caseflow.app import App
from cases.models import Case, CaseEvent, CaseItem, WorkflowDefinition
from cases.service import Upload
from workflow.errors import (
    CaseflowError,
    GuardFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    VersionConflict,
)


@dataclass(frozen=True)
class Refusal:
    id: str
    error: type[CaseflowError]
    call: Callable[[App, Actors, dict[str, str], list[Upload]], Any]
    """(app, actors, case numbers by kind, uploads) → the refused call."""


def _adv(kind: str, trigger: str, who: str, fields: dict[str, Any] | None = None, **kw: Any) -> Any:
    def call(app: App, a: Actors, numbers: dict[str, str], uploads: list[Upload]) -> Any:
        return app.cases.advance(numbers[kind], trigger, getattr(a, who), fields, evidence=uploads, **kw)

    return call


def _item(key: str, who: str, fields: dict[str, Any] | None = None, **kw: Any) -> Any:
    def call(app: App, a: Actors, numbers: dict[str, str], uploads: list[Upload]) -> Any:
        return app.cases.complete_item(numbers["site"], key, getattr(a, who), fields, evidence=uploads, **kw)

    return call


# "qy" is an enterprise problem in `assigned` (version 2, lead unit power, co-unit water);
# "site" is a site in `clearing` whose cut_water is done (version 4); "done" is a closed
# enterprise problem.
REFUSALS = [
    Refusal(
        "transition-close-in-assigned",
        TransitionNotAllowed,
        _adv("qy", "close", "dispatcher", {"satisfaction": "满意"}),
    ),
    Refusal(
        "transition-on-terminal-case",
        TransitionNotAllowed,
        _adv("done", "reopen", "dispatcher", {"satisfaction": "不满意", "reason": "x"}),
    ),
    Refusal(
        "transition-submit-rectification-in-clearing",
        TransitionNotAllowed,
        _adv("site", "submit_rectification", "kongcheng"),
    ),
    Refusal("permission-co-unit-not-lead", PermissionDenied, _adv("qy", "accept", "water")),
    Refusal(
        "permission-supervisor",
        PermissionDenied,
        _adv("qy", "reassign", "supervisor", {"lead_unit": "gas", "reason": "x"}),
    ),
    Refusal("permission-unit-head-not-handler", PermissionDenied, _adv("qy", "accept", "power_head")),
    Refusal("permission-system-trigger", PermissionDenied, _adv("qy", "accept", "system")),
    Refusal(
        "permission-item-other-department",
        PermissionDenied,
        _item("cut_power", "water", {"meter_reading": "1"}),
    ),
    Refusal(
        "guard-reassign-same-lead",
        GuardFailed,
        _adv("qy", "reassign", "dispatcher", {"lead_unit": "power", "reason": "x"}),
    ),
    Refusal("guard-checklist-incomplete", GuardFailed, _adv("site", "submit_clearance", "kongcheng")),
    Refusal("guard-item-already-done", GuardFailed, _item("cut_water", "water")),
    Refusal(
        "guard-co-unit-is-lead",
        GuardFailed,
        _adv("qy", "reassign", "dispatcher", {"lead_unit": "gas", "co_units": "gas", "reason": "x"}),
    ),
    Refusal("invalid-missing-reason", InvalidInput, _adv("qy", "return", "power", {})),
    Refusal("invalid-unknown-field", InvalidInput, _adv("qy", "accept", "power", {"colour": "red"})),
    Refusal("invalid-unknown-trigger", InvalidInput, _adv("qy", "teleport", "dispatcher")),
    Refusal(
        "invalid-bad-department",
        InvalidInput,
        _adv("qy", "reassign", "dispatcher", {"lead_unit": "火星局", "reason": "x"}),
    ),
    Refusal("invalid-comment-too-long", InvalidInput, _adv("qy", "accept", "power", comment="长" * 2001)),
    Refusal("invalid-item-missing-meter-reading", InvalidInput, _item("cut_power", "power", {})),
    Refusal("invalid-unknown-item", InvalidInput, _item("paint_the_wall", "kongcheng")),
    Refusal("version-stale-advance", VersionConflict, _adv("qy", "accept", "power", expected_version=1)),
    Refusal("version-future-advance", VersionConflict, _adv("qy", "accept", "power", expected_version=3)),
    Refusal(
        "version-stale-item",
        VersionConflict,
        _item("cut_power", "power", {"meter_reading": "1"}, expected_version=3),
    ),
    Refusal(
        "notfound-number",
        NotFound,
        lambda app, a, n, u: app.cases.advance("QY-2026-99999", "accept", a.power, evidence=u),
    ),
    Refusal(
        "notfound-id",
        NotFound,
        lambda app, a, n, u: app.cases.advance(999999, "accept", a.power, evidence=u),
    ),
    Refusal(
        "notfound-item-case",
        NotFound,
        lambda app, a, n, u: app.cases.complete_item(
            "SLW-2026-09999", "cut_power", a.power, {"meter_reading": "1"}, evidence=u
        ),
    ),
]
"""Each refused call needs evidence-free input to be refused for the reason named; items that
require evidence get it from the test."""


@pytest.fixture
def cases(app: App, actors: Actors) -> dict[str, str]:
    qy = new_enterprise_case(app)["number"]
    app.cases.advance(qy, "assign", actors.dispatcher, {"lead_unit": "power", "co_units": ["water"]})
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "clearing")
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[photo()])
    done = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, done, "closed")
    assert app.cases.show(qy)["version"] == 2 and app.cases.show(site)["version"] == 4
    return {"qy": qy, "site": site, "done": done}


def snapshot(app: App, numbers: dict[str, str], actors: Actors) -> dict[str, Any]:
    """Everything a refused call must leave alone."""
    return {
        "cases": {k: app.cases.show(n) for k, n in numbers.items()},
        "as_dispatcher": {k: app.cases.show(n, actors.dispatcher) for k, n in numbers.items()},
        "as_lead_unit": app.cases.show(numbers["qy"], actors.power),
        "history": {k: app.cases.history(n) for k, n in numbers.items()},
        "files": [p.name for p in evidence_files(app.evidence.root.parent)],
        "evidence_rows": evidence_rows(app),
        "rows": {t.__name__: count_rows(app, t) for t in (Case, CaseEvent, CaseItem, WorkflowDefinition)},
        "list": app.cases.list_cases(),
    }


NEEDS_EVIDENCE = (
    "permission-item-other-department",
    "invalid-item-missing-meter-reading",
    "version-stale-item",
)


def _needs_evidence(refusal: Refusal) -> list[Upload]:
    # an item of the clearing checklist is refused for its own reason only if evidence is given
    return [photo(99)] if refusal.id in NEEDS_EVIDENCE else []


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
def test_refused_call_changes_nothing(app, actors, cases, refusal):
    uploads = _needs_evidence(refusal)
    if uploads:  # the file itself is already stored, so that storing it again changes nothing
        app.evidence.put(uploads[0].data, uploads[0].name)
    before = snapshot(app, cases, actors)
    with pytest.raises(refusal.error):
        refusal.call(app, actors, cases, uploads)
    assert snapshot(app, cases, actors) == before


def test_each_refusal_is_refused_for_the_reason_named(app, actors, cases):
    """Guard the table above: the refusals are distinct kinds, and the same calls done right
    succeed (so each refusal is about the one thing that was wrong)."""
    qy, site = cases["qy"], cases["site"]
    assert {r.error for r in REFUSALS} == {
        TransitionNotAllowed, PermissionDenied, GuardFailed,
        InvalidInput, VersionConflict, NotFound,
    }  # fmt: skip
    assert app.cases.complete_item(
        site,
        "cut_power",
        actors.power,
        {"meter_reading": "1"},
        expected_version=4,
        evidence=[photo()],
    )
    assert app.cases.advance(qy, "accept", actors.power, expected_version=2)["state"] == "in_progress"


def test_transition_not_allowed_lists_what_is_allowed(app, actors, cases):
    with pytest.raises(TransitionNotAllowed) as refused:
        app.cases.advance(cases["qy"], "close", actors.power)
    assert refused.value.state == "assigned"
    assert refused.value.allowed == ["accept", "return"]  # what the power handler may do


def test_version_conflict_names_both_versions(app, actors, cases):
    with pytest.raises(VersionConflict) as refused:
        app.cases.advance(cases["qy"], "accept", actors.power, expected_version=1)
    assert refused.value.details == {
        "case": cases["qy"],
        "expected_version": 1,
        "actual_version": 2,
    }


def test_refused_create_takes_no_number(app, actors):
    with pytest.raises(PermissionDenied):
        new_enterprise_case(app, actors.power)  # a handler may not register enterprise problems
    with pytest.raises(InvalidInput) as refused:
        new_enterprise_case(app, actors.collector, uscc="91340881MA2N000120", category="天气")
    assert set(refused.value.errors) == {"uscc", "category"}  # every bad field named at once
    with pytest.raises(PermissionDenied):
        new_site_case(app, actors.water)  # not the site's town
    assert count_rows(app, Case) == 0 and count_rows(app, CaseEvent) == 0
    assert new_enterprise_case(app)["number"] == "QY-2026-00001"
    assert new_site_case(app, actors.kongcheng)["number"] == "SLW-2026-00001"


WITH_FILES = [  # one refusal of each kind, on actions and on items
    "transition-close-in-assigned", "permission-item-other-department",
    "permission-co-unit-not-lead", "guard-item-already-done",
    "invalid-item-missing-meter-reading", "invalid-comment-too-long",
    "version-stale-item", "notfound-number",
]  # fmt: skip


@pytest.mark.parametrize("refusal", [r for r in REFUSALS if r.id in WITH_FILES], ids=lambda r: r.id)
def test_refused_call_with_evidence_stores_no_file(app, actors, cases, refusal):
    """Files are checked first and stored only once the call is allowed: a refused call leaves
    no orphan file in the data directory."""
    assert {r.error for r in REFUSALS if r.id in WITH_FILES} == {r.error for r in REFUSALS}
    uploads = _needs_evidence(refusal) or [photo(77)]
    uploads = [*uploads, photo(12345, "extra.png")]  # a file not stored yet
    before = snapshot(app, cases, actors)
    with pytest.raises((refusal.error, InvalidInput)):  # or refused for the files themselves
        refusal.call(app, actors, cases, uploads)
    after = snapshot(app, cases, actors)
    files_before, files_after = before.pop("files"), after.pop("files")
    assert after == before  # the database is untouched either way
    assert files_after == files_before
