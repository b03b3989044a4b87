"""``caseflow init``: the schema, refusals before it, and ``--demo`` twice."""

import re
import sqlite3
from contextlib import closing

from cli_support import (
    ENTERPRISE,
    QY_NUMBER,
    SITE,
    SLW_NUMBER,
    Cli,
    add_user_args,
    assert_ok,
    assert_refused,
)


def test_commands_on_an_uninitialised_database_say_to_run_init(bare_cli: Cli) -> None:
    results = bare_cli.run_all(
        {"list_json": ["case", "list", "--json"], "user_add": add_user_args("early_bird", "power", ["handler"])}
    )
    for result in results.values():
        assert_refused(result, "caseflow init")
    document = results["list_json"].json()
    assert set(document) >= {"error", "message", "details"}
    assert "caseflow init" in document["message"]
    assert results["user_add"].stdout == ""
    # asking did not create an empty database file
    assert not bare_cli.database_file.exists()
    assert list(bare_cli.workdir.iterdir()) == []


def test_a_refused_command_creates_no_file_or_directory_and_init_creates_both(bare_cli: Cli) -> None:
    nested = bare_cli.workdir / "var" / "lib" / "caseflow.db"
    cli = Cli(bare_cli.workdir, {**bare_cli.env, "CASEFLOW_DATABASE_URL": f"sqlite:///{nested}"})
    for args in (["case", "list"], ["sweep", "--json"], ["audit", "verify"], ["user", "list"]):
        assert_refused(cli.run(*args), "caseflow init")
    assert list(bare_cli.workdir.iterdir()) == []
    assert_ok(cli.run("init"))
    assert nested.is_file()
    assert cli.run("case", "list").returncode == 0


def _tables(cli: Cli) -> set[str]:
    with closing(sqlite3.connect(cli.database_file)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')").fetchall()
    return {name for (name,) in rows}


def test_init_creates_the_schema_and_loads_both_workflows(bare_cli: Cli) -> None:
    out = bare_cli.ok("init").stdout
    assert "数据库已就绪" in out
    assert ENTERPRISE in out and SITE in out

    assert {"case", "case_event", "case_item", "user_account", "alembic_version"} <= _tables(bare_cli)
    assert {"case_event_no_update", "case_event_no_delete"} <= _tables(bare_cli)

    results = bare_cli.run_all({"cases": ["case", "list", "--json"], "users": ["user", "list", "--json"]})
    cases = assert_ok(results["cases"]).json()
    assert cases["items"] == [] and cases["total"] == 0
    assert assert_ok(results["users"]).json() == []


def _demo_counts(out: str) -> tuple[int, int]:
    match = re.search(r"新建用户 (\d+) 个、案件 (\d+) 件", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def test_init_demo_twice_adds_the_demo_data_once(bare_cli: Cli) -> None:
    first = bare_cli.ok("init", "--demo").stdout
    new_users, new_cases = _demo_counts(first)
    assert new_users > 0 and new_cases > 0
    before = bare_cli.run_all({"cases": ["case", "list", "--json"], "users": ["user", "list", "--json"]})
    cases, users = assert_ok(before["cases"]).json(), assert_ok(before["users"]).json()
    assert cases["total"] == new_cases == len(cases["items"])
    assert len(users) == new_users
    numbers = [c["number"] for c in cases["items"]]
    assert len(set(numbers)) == len(numbers)
    assert all(QY_NUMBER.match(n) or SLW_NUMBER.match(n) for n in numbers), numbers
    assert {c["type"] for c in cases["items"]} == {ENTERPRISE, SITE}
    # demo users can sign in (they have a password), and the office is among them
    assert all(u["can_sign_in"] for u in users)
    assert "office" in {u["username"] for u in users}

    second = bare_cli.ok("init", "--demo").stdout
    assert _demo_counts(second) == (0, 0)
    after = bare_cli.run_all({"cases": ["case", "list", "--json"], "users": ["user", "list", "--json"]})
    assert assert_ok(after["cases"]).json() == cases
    assert assert_ok(after["users"]).json() == users
