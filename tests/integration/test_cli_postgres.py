"""One short CLI walk on PostgreSQL (``TEST_DATABASE_URL``; skipped without it, except under
``CI=true`` where a missing server fails). The database is created for the test and dropped."""

from pathlib import Path

import pytest
from cli_support import (
    COLLECTOR,
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    GENESIS,
    OFFICE,
    POWER,
    QY_NUMBER,
    USERS,
    add_user_args,
    assert_error_document,
    assert_ok,
    assert_refused,
    field_args,
    make_cli,
)


@pytest.mark.postgres
def test_short_walk_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    cli = make_cli(tmp_path, postgres_url)
    assert_refused(cli.run("case", "list"), "caseflow init")
    cli.ok("init")
    added = cli.run_all({name: add_user_args(name, *USERS[name]) for name in (OFFICE, COLLECTOR, POWER)})
    for result in added.values():
        assert_ok(result)

    created = cli.json("case", "new", ENTERPRISE, "--as", COLLECTOR, *field_args(ENTERPRISE_FIELDS))
    number = created["number"]
    assert QY_NUMBER.match(number)
    assigned = cli.json("case", "advance", number, "assign", "--as", OFFICE, "--field", "lead_unit=市供电公司")
    assert assigned["state"] == "assigned" and assigned["lead_unit"] == "power"
    accepted = cli.json("case", "advance", number, "accept", "--as", POWER, "--expected-version", "2")
    assert accepted["state"] == "in_progress" and accepted["version"] == 3
    assert set(accepted["allowed_triggers"]) == {"request_extension", "answer"}

    results = cli.run_all(
        {
            "again": ["case", "advance", number, "accept", "--as", POWER, "--json"],
            "show": ["case", "show", str(created["id"]), "--json"],
            "history": ["case", "history", number, "--json"],
            "list": ["case", "list", "--department", "市供电公司", "--json"],
            "audit": ["audit", "verify", "--json"],
        }
    )
    assert_refused(results["again"], "accept")
    assert assert_error_document(results["again"], "transition_not_allowed")["details"]["allowed"] == [
        "request_extension",
        "answer",
    ]
    shown = assert_ok(results["show"]).json()
    assert shown["number"] == number and shown["version"] == 3
    events = assert_ok(results["history"]).json()
    assert [e["trigger"] for e in events] == ["create", "assign", "accept"]
    assert events[0]["prev_hash"] == GENESIS
    assert [e["prev_hash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert [c["number"] for c in assert_ok(results["list"]).json()["items"]] == [number]
    audit = assert_ok(results["audit"]).json()
    assert audit["ok"] is True and audit["cases"] == 1 and audit["events"] == 3
