"""``case show``, ``case list`` (filters, JSON and tables) and ``case history`` on a handful of
cases in different states, types, towns and units."""

import re
from datetime import datetime
from typing import Any

import pytest
from cli_support import (
    COLLECTOR,
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    FAKE_NOW,
    OFFICE,
    RAISE_BY_HAND,
    SITE,
    SITE_FIELDS,
    TOWN,
    Cli,
    Result,
    assert_ok,
    assert_refused,
    field_args,
)

EARLIER = "2026-09-01T10:00:00+08:00"
"""A month before ``FAKE_NOW``: a case assigned then is long past any 1wd or 5wd deadline."""


def new_enterprise(user: str, **changes: str) -> list[str]:
    return ["case", "new", ENTERPRISE, "--as", user, *field_args({**ENTERPRISE_FIELDS, **changes})]


@pytest.fixture(scope="module")
def cases(module_db: Cli) -> dict[str, Any]:
    cli = module_db
    created = cli.run_all(
        {
            "a": [*new_enterprise(COLLECTOR, title="厂区周边线路频繁停电"), "--json"],
            "b": [*new_enterprise(COLLECTOR, title="专用变压器报装进度", town="双港镇"), "--json"],
            "c": ["case", "new", SITE, "--as", TOWN, *field_args(SITE_FIELDS), "--json"],
            "d": new_enterprise(OFFICE, title="技改项目用地咨询", town="龙腾街道"),
        }
    )
    docs = {key: assert_ok(created[key]).json() for key in ("a", "b", "c")}
    match = re.search(r"QY-2026-\d{5}", assert_ok(created["d"]).stdout)
    assert match, created["d"]
    numbers = {key: doc["number"] for key, doc in docs.items()} | {"d": match.group(0)}
    old_cli = cli.at(EARLIER)
    docs["old"] = old_cli.json(*new_enterprise(COLLECTOR, title="高峰时段限电安排", town="吕亭镇"))
    numbers["old"] = docs["old"]["number"]
    steps = {
        "assign_b": ["case", "advance", numbers["b"], "assign", "--as", OFFICE, "--field", "lead_unit=市供水集团公司"],
        "verify_c": ["case", "advance", numbers["c"], "start_verification", "--as", TOWN],
    }
    done = cli.run_all(steps)
    assign_old = old_cli.json("case", "advance", numbers["old"], "assign", "--as", OFFICE, "--field", "lead_unit=power")
    a = numbers["a"]
    queries = cli.run_all(
        {
            "show_number": ["case", "show", a, "--json"],
            "show_id": ["case", "show", str(docs["a"]["id"]), "--json"],
            "show_as_collector": ["case", "show", a, "--as", COLLECTOR, "--json"],
            "show_human": ["case", "show", a],
            "list": ["case", "list", "--json"],
            "list_type": ["case", "list", "--type", ENTERPRISE, "--json"],
            "list_state": ["case", "list", "--state", "assigned", "--json"],
            "list_dept_code": ["case", "list", "--department", "water", "--json"],
            "list_dept_name": ["case", "list", "--department", "市供水集团公司", "--json"],
            "list_town": ["case", "list", "--department", "孔城镇", "--json"],
            "list_overdue": ["case", "list", "--overdue", "--json"],
            "list_human": ["case", "list"],
            "list_bad_state": ["case", "list", "--state", "sleeping"],
            "list_bad_department": ["case", "list", "--department", "火星局"],
            "history_human": ["case", "history", numbers["b"]],
        }
    )
    return {
        "numbers": numbers,
        "docs": docs,
        "assign_b": done["assign_b"],
        "verify_c": done["verify_c"],
        "assign_old": assign_old,
        "q": queries,
    }


def _numbers(result: Result) -> set[str]:
    document = assert_ok(result).json()
    assert document["total"] == len(document["items"])
    return {c["number"] for c in document["items"]}


def test_setup_steps_succeeded_with_chinese_output(cases: dict[str, Any]) -> None:
    out = assert_ok(cases["assign_b"]).stdout
    assert cases["numbers"]["b"] in out and "assigned" in out and "已交办·待签收" in out
    assert_ok(cases["verify_c"])


def test_show_by_number_and_by_id_is_the_same_case(cases: dict[str, Any]) -> None:
    q = cases["q"]
    by_number = assert_ok(q["show_number"]).json()
    assert by_number["number"] == cases["numbers"]["a"]
    assert assert_ok(q["show_id"]).json() == by_number
    assert by_number["fields"]["title"] == "厂区周边线路频繁停电"


def test_show_allowed_triggers_for_a_user_or_for_anyone(cases: dict[str, Any]) -> None:
    anyone = assert_ok(cases["q"]["show_number"]).json()["allowed_triggers"]
    assert set(anyone) == {"assign", "decline"} | RAISE_BY_HAND
    assert assert_ok(cases["q"]["show_as_collector"]).json()["allowed_triggers"] == []


def test_show_human_output_is_chinese(cases: dict[str, Any]) -> None:
    out = assert_ok(cases["q"]["show_human"]).stdout
    assert cases["numbers"]["a"] in out
    assert "状态" in out and "已登记" in out
    assert "厂区周边线路频繁停电" in out and "孔城镇" in out
    assert "可执行的操作" in out and "assign" in out


def test_list_returns_every_case_newest_first(cases: dict[str, Any]) -> None:
    document = assert_ok(cases["q"]["list"]).json()
    assert set(document) >= {"items", "total"}
    assert document["total"] == 5
    assert {c["number"] for c in document["items"]} == set(cases["numbers"].values())
    ids = [c["id"] for c in document["items"]]
    assert ids == sorted(ids, reverse=True)
    for item in document["items"]:
        assert {"number", "type", "state", "supervision", "due_date", "lead_unit", "version"} <= set(item)


def test_list_filters_by_type_and_state(cases: dict[str, Any]) -> None:
    n = cases["numbers"]
    assert _numbers(cases["q"]["list_type"]) == {n["a"], n["b"], n["d"], n["old"]}
    assert _numbers(cases["q"]["list_state"]) == {n["b"], n["old"]}


def test_list_filters_by_department_code_or_name(cases: dict[str, Any]) -> None:
    n = cases["numbers"]
    by_code = assert_ok(cases["q"]["list_dept_code"]).json()
    by_name = assert_ok(cases["q"]["list_dept_name"]).json()
    assert by_code == by_name
    assert _numbers(cases["q"]["list_dept_code"]) == {n["b"]}  # B's lead unit
    # the town of A and of the site
    assert _numbers(cases["q"]["list_town"]) == {n["a"], n["c"]}


def test_list_overdue_holds_only_cases_past_their_deadline(cases: dict[str, Any]) -> None:
    n = cases["numbers"]
    overdue = assert_ok(cases["q"]["list_overdue"]).json()
    listed = {c["number"] for c in overdue["items"]}
    now = datetime.fromisoformat(FAKE_NOW)
    for item in overdue["items"]:
        assert item["due_at"] is not None and datetime.fromisoformat(item["due_at"]) <= now, item
    # registered or assigned today: nothing of these can be overdue yet
    assert not listed & {n["a"], n["b"], n["c"], n["d"]}
    # assigned on 2026-09-01, to be accepted within 1wd: overdue since 2026-09-03 00:00
    assert n["old"] in listed
    old = next(c for c in overdue["items"] if c["number"] == n["old"])
    assert (old["due_date"], old["due_at"]) == ("2026-09-02", "2026-09-03T00:00:00+08:00")


def test_list_human_output_is_a_chinese_table(cases: dict[str, Any]) -> None:
    out = assert_ok(cases["q"]["list_human"]).stdout
    assert "共 5 件" in out
    for column in ("编号", "类型", "标题", "状态"):
        assert column in out
    for number in cases["numbers"].values():
        assert number in out
    assert "已交办·待签收" in out and "已登记" in out and "市供水集团公司" in out


def test_list_refuses_unknown_filters(cases: dict[str, Any]) -> None:
    assert_refused(cases["q"]["list_bad_state"], "sleeping")
    assert_refused(cases["q"]["list_bad_department"], "火星局")


def test_history_human_output(cases: dict[str, Any]) -> None:
    out = assert_ok(cases["q"]["history_human"]).stdout
    assert cases["numbers"]["b"] in out and "办理记录" in out
    assert "create" in out and "assign" in out and COLLECTOR in out and OFFICE in out


def test_human_output_shows_square_brackets_verbatim(fresh_db: Cli) -> None:
    title = "[紧急]线路[/b]改造[bold]"
    out = fresh_db.ok(*new_enterprise(COLLECTOR, title=title)).stdout
    number = re.search(r"QY-2026-\d{5}", out)
    assert number, out
    shown = fresh_db.run_all({"list": ["case", "list"], "show": ["case", "show", number.group(0)]})
    assert title in assert_ok(shown["show"]).stdout
    assert "[紧急]线路" in assert_ok(shown["list"]).stdout
