"""``caseflow user add`` and ``user list``: departments by code or Chinese name, refusals."""

from typing import Any

import pytest
from cli_support import (
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    FAKE_NOW,
    OFFICE,
    POWER,
    USERS,
    Cli,
    Result,
    add_user_args,
    assert_error_document,
    assert_ok,
    assert_refused,
    field_args,
)

STRONG_PASSWORD = "Tongcheng-2026!"

# key → (arguments, stdin, words the one-line reason must contain)
REFUSALS: dict[str, tuple[list[str], str | None, tuple[str, ...]]] = {
    "unknown_department": (add_user_args("ghost_dept", "市不存在局", ["handler"]), None, ("市不存在局",)),
    "unknown_role": (add_user_args("ghost_role", "power", ["handler", "boss"]), None, ("boss",)),
    "duplicate_name": (add_user_args(OFFICE, "power", ["handler"]), None, (OFFICE, "已被使用")),
    "weak_password": (
        [*add_user_args("ghost_weak", "power", ["handler"]), "--password-stdin"],
        "password1\n",
        ("密码",),
    ),
}


@pytest.fixture(scope="module")
def users(module_db: Cli) -> dict[str, Any]:
    """Two users added and every refusal, all at once; then the users as stored."""
    commands = {key: args for key, (args, _, _) in REFUSALS.items()}
    stdin = {key: given for key, (_, given, _) in REFUSALS.items() if given is not None}
    commands["by_code"] = [
        *add_user_args("liaison_power", "power", ["handler", "unit_head"]),
        "--password-stdin", "--email", "liaison@example.cn", "--phone", "13800000001", "--json",
    ]  # fmt: skip
    stdin["by_code"] = STRONG_PASSWORD + "\n"
    commands["by_name"] = add_user_args("liaison_cn", "市供电公司", ["handler"])
    results = module_db.run_all(commands, stdin=stdin)
    after = module_db.run_all({"json": ["user", "list", "--json"], "table": ["user", "list"]})
    stored = {u["username"]: u for u in assert_ok(after["json"]).json()}
    return {"results": results, "stored": stored, "table": after["table"]}


def test_user_add_with_every_option_by_department_code(users: dict[str, Any]) -> None:
    view = assert_ok(users["results"]["by_code"]).json()
    assert view["username"] == "liaison_power"
    assert view["department"] == "power"
    assert view["department_name"] == "市供电公司"
    assert sorted(view["roles"]) == ["handler", "unit_head"]
    assert view["email"] == "liaison@example.cn"
    assert view["phone"] == "13800000001"
    assert view["active"] is True
    assert view["can_sign_in"] is True
    assert view["created_at"] == FAKE_NOW  # Asia/Shanghai (+08:00), as every instant shown
    assert not [key for key in view if "password" in key]  # never shown, not even hashed
    assert users["stored"]["liaison_power"] == view


def test_user_add_by_chinese_department_name(users: dict[str, Any]) -> None:
    out = assert_ok(users["results"]["by_name"]).stdout
    assert "已添加用户" in out and "liaison_cn" in out and "市供电公司" in out
    stored = users["stored"]["liaison_cn"]
    assert stored["department"] == "power"
    assert stored["roles"] == ["handler"]
    assert stored["can_sign_in"] is False  # no password given: cannot sign in to the web UI


@pytest.mark.parametrize("case", list(REFUSALS))
def test_user_add_refusals_change_nothing(users: dict[str, Any], case: str) -> None:
    args, _, needles = REFUSALS[case]
    result: Result = users["results"][case]
    assert_refused(result, *needles)
    assert result.stdout == ""
    name = args[2]
    if case == "duplicate_name":
        office = users["stored"][name]
        assert office["department"] == "sti"  # as the template made it, not power
        assert sorted(office["roles"]) == sorted(USERS[OFFICE][1])
    else:
        assert name not in users["stored"]


def test_user_list_shows_exactly_the_users_added(users: dict[str, Any]) -> None:
    assert set(users["stored"]) == set(USERS) | {"liaison_power", "liaison_cn"}


def test_user_list_human_output_is_a_chinese_table(users: dict[str, Any]) -> None:
    out = assert_ok(users["table"]).stdout
    assert "用户名" in out and "单位" in out and "角色" in out
    assert OFFICE in out and "市科经局" in out and "孔城镇" in out and "liaison_cn" in out


# --- deactivate / activate -------------------------------------------------------------------------


def test_deactivate_and_activate_a_user(fresh_db: Cli) -> None:
    cli = fresh_db
    number = cli.json("case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS))["number"]
    cli.ok("case", "advance", number, "assign", "--as", OFFICE, "--field", "lead_unit=power")
    off = cli.json("user", "deactivate", POWER)
    assert (off["username"], off["active"], off["changed"], off["revoked_tokens"]) == (POWER, False, True, 0)
    assert off["created_at"] == FAKE_NOW
    results = cli.run_all(
        {
            "again": ["user", "deactivate", POWER],
            "acting": ["case", "advance", number, "accept", "--as", POWER],
            "json": ["user", "list", "--json"],
            "table": ["user", "list"],
            "unknown": ["user", "deactivate", "nobody_at_all"],
            "unknown_json": ["user", "activate", "nobody_at_all", "--json"],
        }
    )
    assert "已是停用状态" in assert_ok(results["again"]).stdout
    assert_refused(results["acting"], POWER, "已停用")
    listed = {u["username"]: u for u in assert_ok(results["json"]).json()}
    assert listed[POWER]["active"] is False and listed[OFFICE]["active"] is True
    row = next(line for line in assert_ok(results["table"]).stdout.splitlines() if POWER in line)
    assert "停用" in row
    assert_refused(results["unknown"], "nobody_at_all")
    assert results["unknown_json"].returncode == 2
    assert_error_document(results["unknown_json"], "not_found")

    on = cli.ok("user", "activate", POWER).stdout
    assert "已启用用户" in on and POWER in on
    assert cli.json("case", "advance", number, "accept", "--as", POWER)["state"] == "in_progress"
