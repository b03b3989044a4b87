"""A whole scattered-polluting site through the CLI (DOMAIN.md §4): verification, a ban with
gas cut, the 两断三清 items by their executor units with evidence, submission, the three ordered
sign-offs and acceptance; refusals along the way change nothing."""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    ECOLOGY,
    FAKE_NOW,
    GAS,
    OFFICE,
    POWER,
    RAISE_BY_HAND,
    SITE,
    SITE_FIELDS,
    TOWN,
    WATER,
    Cli,
    EvidenceFiles,
    Result,
    assert_error_document,
    assert_ok,
    assert_refused,
    field_args,
)

CLEARING = {
    "cut_water": "water",
    "cut_power": "power",
    "clear_materials": "kongcheng",
    "clear_products": "kongcheng",
    "clear_equipment": "kongcheng",
    "cut_gas": "gas",
}
SIGNOFFS = {"town_check": "kongcheng", "department_review": "ecology", "office_verification": "sti"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class SiteWalk:
    cli: Cli
    number: str
    docs: dict[str, dict[str, Any]]
    refused: dict[str, Result]
    final: dict[str, Result]


@pytest.fixture(scope="module")
def site(module_db: Cli, evidence: EvidenceFiles) -> SiteWalk:
    cli = module_db
    docs: dict[str, dict[str, Any]] = {}
    refused: dict[str, Result] = {}
    docs["new"] = cli.json("case", "new", SITE, "--as", TOWN, *field_args(SITE_FIELDS))
    number = docs["new"]["number"]

    def advance(trigger: str, user: str, *extra: str) -> list[str]:
        return ["case", "advance", number, trigger, "--as", user, *extra]

    def item(key: str, user: str, *extra: str) -> list[str]:
        return ["case", "item", number, key, "--as", user, *extra]

    docs["start_verification"] = cli.json(*advance("start_verification", TOWN))
    refused |= cli.run_all(
        {
            "bad_date": advance(
                "classify_rectify", OFFICE, *field_args({"items": "business_license", "deadline": "2026-02-30"})
            ),
            "deadline_too_late": advance(
                "classify_rectify", OFFICE, *field_args({"items": "business_license", "deadline": "2027-03-01"})
            ),
        }
    )
    docs["classify_ban"] = cli.json(
        *advance("classify_ban", OFFICE, *field_args({"plan": "依法取缔，落实两断三清", "cut_gas": "yes"}))
    )
    png = ["--evidence", str(evidence.png)]
    refused |= cli.run_all(
        {
            "submit_too_early": advance("submit_clearance", TOWN),
            "evidence_text_file": item("cut_water", WATER, "--evidence", str(evidence.text)),
            "evidence_named_png_but_text": item("cut_water", WATER, "--evidence", str(evidence.fake_png)),
            "item_of_another_unit": item("cut_power", WATER, *png, "--field", "meter_reading=1"),
            "missing_meter_reading": item("cut_power", POWER, *png),
        }
    )
    docs["cut_power"] = cli.json(*item("cut_power", POWER, *png, "--field", "meter_reading=123.4"))
    parallel = cli.run_all(
        {
            "cut_water": [*item("cut_water", WATER, "--evidence", str(evidence.pdf)), "--json"],
            "cut_gas": [*item("cut_gas", GAS, "--evidence", str(evidence.jpeg)), "--json"],
            "clear_materials": [*item("clear_materials", TOWN, *png, "--evidence", str(evidence.png2)), "--json"],
            "clear_products": [*item("clear_products", TOWN, "--evidence", str(evidence.png2)), "--json"],
            "clear_equipment": [*item("clear_equipment", TOWN, *png, "--comment", "设备已拆除运走"), "--json"],
            "item_done_twice": [*item("cut_power", POWER, *png, "--field", "meter_reading=99"), "--json"],
        }
    )
    refused["item_done_twice"] = parallel.pop("item_done_twice")
    docs |= {key: assert_ok(result).json() for key, result in parallel.items()}
    docs["submit_clearance"] = cli.json(*advance("submit_clearance", TOWN))
    refused |= cli.run_all(
        {
            "signoff_out_of_order": item("department_review", ECOLOGY),
            "pass_too_early": [*advance("pass_acceptance", OFFICE), "--json"],
        }
    )
    docs["town_check"] = cli.json(*item("town_check", TOWN, "--field", "notes=属地自查合格"))
    docs["department_review"] = cli.json(*item("department_review", ECOLOGY))
    docs["office_verification"] = cli.json(*item("office_verification", OFFICE, "--evidence", str(evidence.pdf)))
    docs["pass_acceptance"] = cli.json(*advance("pass_acceptance", OFFICE, "--comment", "验收通过，予以销号"))
    final = cli.run_all(
        {
            "show": ["case", "show", number, "--as", TOWN, "--json"],
            "history": ["case", "history", number, "--json"],
            "audit": ["audit", "verify", "--json"],
        }
    )
    return SiteWalk(cli, number, docs, refused, final)


def _items(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["key"]: i for i in case["items"]}


def test_states_along_the_walk(site: SiteWalk) -> None:
    expected = {
        "new": "reported",
        "start_verification": "verifying",
        "classify_ban": "clearing",
        "cut_power": "clearing",
        "submit_clearance": "acceptance",
        "office_verification": "acceptance",
        "pass_acceptance": "closed",
    }
    for label, state in expected.items():
        assert site.docs[label]["state"] == state, label
    shown = assert_ok(site.final["show"]).json()
    assert shown["state"] == "closed" and shown["state_label"] == "已销号"
    assert shown["version"] == 14  # created + 13 actions; none of the refusals counted
    assert shown["allowed_triggers"] == ["report_relapse"]  # for the town; revisit is the scheduler's


def test_allowed_triggers_follow_the_user(site: SiteWalk) -> None:
    assert site.docs["new"]["allowed_triggers"] == ["start_verification"]
    # the town hands in its findings; only the office classifies
    assert site.docs["start_verification"]["allowed_triggers"] == ["submit_findings"]
    # the town submits the clearance; the office may only raise the case by hand
    assert set(site.docs["classify_ban"]["allowed_triggers"]) == RAISE_BY_HAND
    assert site.docs["cut_power"]["allowed_triggers"] == []  # the power company submits nothing
    assert site.docs["submit_clearance"]["allowed_triggers"] == ["fail_acceptance"]  # the town signs


def test_ban_opens_the_clearing_checklist_with_gas(site: SiteWalk) -> None:
    case = site.docs["classify_ban"]
    assert case["due_date"] == "2026-10-15"  # 两断三清 within 15 calendar days
    assert case["category"] == "ban"
    assert case["fields"]["cut_gas"] == "yes"
    items = _items(case)
    assert set(items) == set(CLEARING)
    for key, executor in CLEARING.items():
        assert items[key]["executor"] == executor, key
        assert items[key]["checklist"] == "clearing"
        assert items[key]["done"] is False and items[key]["evidence"] == []


def test_cut_power_records_meter_reading_and_evidence(site: SiteWalk, evidence: EvidenceFiles) -> None:
    done = _items(site.docs["cut_power"])["cut_power"]
    assert done["done"] is True
    assert done["done_by"] == POWER
    assert done["done_at"] == FAKE_NOW
    assert done["evidence"] == [sha256(evidence.png)]
    assert float(done["data"]["meter_reading"]) == pytest.approx(123.4)
    assert site.docs["cut_power"]["version"] == site.docs["classify_ban"]["version"] + 1


def test_every_item_is_done_by_its_executor_with_its_evidence(site: SiteWalk, evidence: EvidenceFiles) -> None:
    items = _items(site.docs["submit_clearance"])
    expected = {
        "cut_water": (WATER, [sha256(evidence.pdf)]),
        "cut_power": (POWER, [sha256(evidence.png)]),
        "cut_gas": (GAS, [sha256(evidence.jpeg)]),
        "clear_materials": (TOWN, [sha256(evidence.png), sha256(evidence.png2)]),
        "clear_products": (TOWN, [sha256(evidence.png2)]),
        "clear_equipment": (TOWN, [sha256(evidence.png)]),
    }
    for key, (user, hashes) in expected.items():
        assert items[key]["done"] is True, key
        assert items[key]["done_by"] == user, key
        assert items[key]["evidence"] == hashes, key
    # the power reading was not overwritten by the refused second completion
    assert float(items["cut_power"]["data"]["meter_reading"]) == pytest.approx(123.4)


def test_evidence_files_are_stored_under_the_data_dir(site: SiteWalk, evidence: EvidenceFiles) -> None:
    stored = {hashlib.sha256(p.read_bytes()).hexdigest() for p in site.cli.data_dir.rglob("*") if p.is_file()}
    for path in (evidence.png, evidence.png2, evidence.pdf, evidence.jpeg):
        assert sha256(path) in stored, path.name
    assert sha256(evidence.text) not in stored
    assert sha256(evidence.fake_png) not in stored


def test_signoffs_are_opened_in_order_and_done_by_their_units(site: SiteWalk) -> None:
    opened = _items(site.docs["submit_clearance"])
    assert [k for k in opened if k in SIGNOFFS] == list(SIGNOFFS)
    for key, executor in SIGNOFFS.items():
        assert opened[key]["executor"] == executor, key
        assert opened[key]["done"] is False
    assert site.docs["submit_clearance"]["allowed_items"] == ["town_check"]
    final = _items(site.docs["office_verification"])
    assert final["town_check"]["done_by"] == TOWN
    assert final["town_check"]["data"].get("notes") == "属地自查合格"
    assert final["department_review"]["done_by"] == ECOLOGY  # first violation 环境违法 → 市生态环境分局
    assert final["office_verification"]["done_by"] == OFFICE
    assert final["town_check"]["evidence"] == []  # sign-off evidence is optional


def test_history_of_the_site(site: SiteWalk) -> None:
    events = assert_ok(site.final["history"]).json()
    assert len(events) == 14
    assert [e["trigger"] for e in events][:4] == ["create", "start_verification", "classify_ban", "complete_item"]
    assert events[-1]["trigger"] == "pass_acceptance"
    assert (events[-1]["from_state"], events[-1]["to_state"]) == ("acceptance", "closed")
    assert events[-1]["comment"] == "验收通过，予以销号"
    for before, event in zip(events, events[1:], strict=False):
        assert event["prev_hash"] == before["hash"]
    audit = assert_ok(site.final["audit"]).json()
    assert audit["ok"] is True and audit["events"] >= 14


REFUSED = {
    "bad_date": ("deadline", "YYYY-MM-DD"),
    "deadline_too_late": ("90",),
    "submit_too_early": ("断水", "断电", "断气"),
    "evidence_text_file": ("notes.txt", "类型不允许"),
    "evidence_named_png_but_text": ("not-really.png", "类型不允许"),
    "item_of_another_unit": ("无权", "市供电公司"),
    "missing_meter_reading": ("meter_reading",),
    "item_done_twice": ("已", POWER),
    "signoff_out_of_order": ("属地自查",),
    "pass_too_early": ("验收",),
}


@pytest.mark.parametrize("key", list(REFUSED))
def test_refusals_along_the_walk(site: SiteWalk, key: str) -> None:
    assert_refused(site.refused[key], *REFUSED[key])


def test_refusals_as_json_documents(site: SiteWalk) -> None:
    assert_error_document(site.refused["item_done_twice"], "guard_failed")
    assert_error_document(site.refused["pass_too_early"], "guard_failed")


def test_refusals_changed_nothing(site: SiteWalk) -> None:
    # each step's version follows the previous one's: no refused call wrote anything
    assert site.docs["start_verification"]["version"] == 2
    assert site.docs["classify_ban"]["version"] == 3
    assert site.docs["cut_power"]["version"] == 4
    assert site.docs["submit_clearance"]["version"] == 10
    assert site.docs["town_check"]["version"] == 11
    assert not any(i["done"] for k, i in _items(site.docs["classify_ban"]).items())
