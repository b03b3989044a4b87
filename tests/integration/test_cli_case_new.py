"""``caseflow case new``: both case types, the JSON shape, credit codes and refused input."""

import re
from typing import Any

import pytest
from cli_support import (
    COLLECTOR,
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    FAKE_NOW,
    OFFICE,
    POWER,
    QY_NUMBER,
    RAISE_BY_HAND,
    SITE,
    SITE_FIELDS,
    SLW_NUMBER,
    TOWN,
    VALID_USCC,
    Cli,
    assert_error_document,
    assert_ok,
    assert_refused,
    field_args,
)

CASE_KEYS = {
    "id", "number", "type", "state", "supervision", "due_date", "due_at", "due_provisional",
    "lead_unit", "version", "allowed_triggers", "fields", "items",
}  # fmt: skip
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LOCAL_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$")


def new_args(case_type: str, user: str, fields: dict[str, str]) -> list[str]:
    return ["case", "new", case_type, "--as", user, *field_args(fields)]


def assert_case_shape(case: dict[str, Any]) -> None:
    """The minimum ``case show --json`` shape of INTERFACES.md."""
    assert set(case) >= CASE_KEYS, CASE_KEYS - set(case)
    assert isinstance(case["id"], int)
    assert isinstance(case["version"], int)
    assert case["due_date"] is None or DATE.match(case["due_date"]), case["due_date"]
    assert case["due_at"] is None or LOCAL_INSTANT.match(case["due_at"]), case["due_at"]
    assert isinstance(case["due_provisional"], bool)
    assert isinstance(case["allowed_triggers"], list)
    assert isinstance(case["fields"], dict)
    assert isinstance(case["items"], list)


def test_new_enterprise_issue(cli: Cli) -> None:
    fields = {**ENTERPRISE_FIELDS, "class": "simple"}
    case = cli.json(*new_args(ENTERPRISE, OFFICE, fields), "--comment", "走访中企业提出")
    assert_case_shape(case)
    assert QY_NUMBER.match(case["number"]), case["number"]
    assert case["type"] == ENTERPRISE
    assert case["state"] == "registered"
    assert case["state_label"] == "已登记"
    assert case["supervision"] == "normal"
    assert case["lead_unit"] is None
    assert case["version"] == 1
    # DOMAIN.md §2-§3: the office assigns within 1wd; 2026-10-01..07 is the National Day holiday
    assert case["due_date"] == "2026-10-08"
    assert case["due_at"] == "2026-10-09T00:00:00+08:00"
    assert case["due_provisional"] is False
    # the office (dispatcher) may assign or decline a registered problem (or raise it by hand)
    assert set(case["allowed_triggers"]) == {"assign", "decline"} | RAISE_BY_HAND
    assert case["items"] == []
    stored = case["fields"]
    assert stored["town"] == "kongcheng"  # given by its Chinese name, stored by code
    assert stored["uscc"] == ENTERPRISE_FIELDS["uscc"]
    assert stored["class"] == "simple"
    for key in ("title", "description", "category", "source", "enterprise_name", "industry", "contact"):
        assert stored[key] == ENTERPRISE_FIELDS[key], key
    assert case["created_by"] == OFFICE
    assert case["created_at"] == FAKE_NOW

    # what was printed is what was stored
    assert cli.json("case", "show", case["number"], "--as", OFFICE) == case


def test_new_scattered_polluting_site_without_credit_code(cli: Cli) -> None:
    case = cli.json(*new_args(SITE, TOWN, SITE_FIELDS))
    assert_case_shape(case)
    assert SLW_NUMBER.match(case["number"]), case["number"]
    assert case["type"] == SITE
    assert case["state"] == "reported"
    assert case["version"] == 1
    assert case["supervision"] == "normal"
    assert case["due_date"] == "2026-10-09"  # verification starts within 2wd
    assert case["due_at"] == "2026-10-10T00:00:00+08:00"
    # the town's own handler may start the verification; nothing else yet
    assert case["allowed_triggers"] == ["start_verification"]
    assert case["fields"]["violations"] == ["环境违法", "无证无照"]
    assert case["fields"]["town"] == "kongcheng"
    assert case["fields"]["site_name"] == SITE_FIELDS["site_name"]
    assert "uscc" not in case["fields"]  # unlicensed sites have none
    assert case["items"] == []


@pytest.fixture(scope="module")
def valid_codes(module_db: Cli) -> dict[str, Any]:
    # VALID_USCC[1] is also the code of ENTERPRISE_FIELDS, used by every other test
    given = {"plain": VALID_USCC[0], "spaced_lower": " 9134 0600ma2pbm9hxd "}
    results = module_db.run_all(
        {
            key: new_args(ENTERPRISE, COLLECTOR, {**ENTERPRISE_FIELDS, "uscc": code}) + ["--json"]
            for key, code in given.items()
        }
    )
    return {key: assert_ok(result).json() for key, result in results.items()}


@pytest.mark.parametrize(("key", "stored"), [("plain", VALID_USCC[0]), ("spaced_lower", VALID_USCC[1])])
def test_valid_credit_codes_are_accepted_normalised(valid_codes: dict[str, Any], key: str, stored: str) -> None:
    case = valid_codes[key]
    assert QY_NUMBER.match(case["number"])
    assert case["fields"]["uscc"] == stored


# key → (type, user, fields, words the one-line reason must contain)
REFUSED: dict[str, tuple[str, str, dict[str, str], tuple[str, ...]]] = {
    "uscc_check_character": (
        ENTERPRISE,
        COLLECTOR,
        {**ENTERPRISE_FIELDS, "uscc": "914403001922038217"},
        ("uscc", "校验位", "第18位应为“6”"),
    ),
    "uscc_letter_o": (
        ENTERPRISE,
        COLLECTOR,
        {**ENTERPRISE_FIELDS, "uscc": "91340600MA2PBM9HXO"},
        ("uscc", "第18位", "“O”", "不是允许的字符"),
    ),
    "missing_required": (
        ENTERPRISE,
        COLLECTOR,
        {k: v for k, v in ENTERPRISE_FIELDS.items() if k != "description"},
        ("description", "缺少"),
    ),
    "unknown_field": (ENTERPRISE, COLLECTOR, {**ENTERPRISE_FIELDS, "colour": "red"}, ("colour",)),
    "unknown_town": (ENTERPRISE, COLLECTOR, {**ENTERPRISE_FIELDS, "town": "火星镇"}, ("town", "火星镇")),
    "town_not_a_town": (ENTERPRISE, COLLECTOR, {**ENTERPRISE_FIELDS, "town": "市供电公司"}, ("town", "市供电公司")),
    "site_unknown_violation": (SITE, TOWN, {**SITE_FIELDS, "violations": "乱倒垃圾"}, ("violations", "乱倒垃圾")),
    "site_not_the_towns_handler": (SITE, POWER, SITE_FIELDS, ("无权",)),
    "unknown_type": ("shop_complaint", COLLECTOR, ENTERPRISE_FIELDS, ("shop_complaint",)),
}
RAW_REFUSED: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "field_without_equals": (
        ["case", "new", ENTERPRISE, "--as", COLLECTOR, *field_args(ENTERPRISE_FIELDS), "--field", "industry"],
        ("KEY=VALUE",),
    ),
    "uscc_json": (
        [*new_args(ENTERPRISE, COLLECTOR, {**ENTERPRISE_FIELDS, "uscc": "914403001922038217"}), "--json"],
        ("校验位",),
    ),
}


@pytest.fixture(scope="module")
def refused(module_db: Cli) -> dict[str, Any]:
    """Every refused registration (concurrently), with the cases before and after, and the
    number the next registration gets."""
    before = module_db.json("case", "list")
    commands = {key: new_args(t, user, fields) for key, (t, user, fields, _) in REFUSED.items()}
    commands.update({key: args for key, (args, _) in RAW_REFUSED.items()})
    results = module_db.run_all(commands)
    after = module_db.json("case", "list")
    next_case = module_db.json(*new_args(ENTERPRISE, COLLECTOR, ENTERPRISE_FIELDS))
    return {"results": results, "before": before, "after": after, "next": next_case}


@pytest.mark.parametrize("key", [*REFUSED, *RAW_REFUSED])
def test_refused_registration(refused: dict[str, Any], key: str) -> None:
    needles = REFUSED[key][3] if key in REFUSED else RAW_REFUSED[key][1]
    assert_refused(refused["results"][key], *needles)


def test_refused_registrations_store_nothing(refused: dict[str, Any]) -> None:
    assert refused["after"] == refused["before"]
    # not even a number is used up: the next registration takes the next free number
    numbers = [c["number"] for c in refused["after"]["items"] if c["type"] == ENTERPRISE]
    highest = max((int(n.rsplit("-", 1)[1]) for n in numbers), default=0)
    assert refused["next"]["number"] == f"QY-2026-{highest + 1:05d}"


def test_refusal_as_json_document_names_the_failing_rule(refused: dict[str, Any]) -> None:
    document = assert_error_document(refused["results"]["uscc_json"], "invalid_input")
    reason = document["details"]["fields"]["uscc"]
    assert "校验位" in reason and "第18位应为“6”" in reason


def test_new_human_output_is_chinese(cli: Cli) -> None:
    out = cli.ok(*new_args(SITE, OFFICE, {**SITE_FIELDS, "site_name": "露天喷漆作坊"})).stdout
    assert re.search(r"已登记 SLW-2026-\d{5}（已登记）", out), out
