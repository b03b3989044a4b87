"""``caseflow workflow migrate TYPE --to VERSION [--map old=new …] [--dry-run] [--as USER]`` as an
operator runs it: enterprise problems are started on a changed copy of the shipped definition in
``CASEFLOW_CONFIG_DIR/workflows/``, the file is changed again (``assigned`` renamed to
``dispatched``), and the running cases are moved. Refusals, the dry run and the bad inputs run
first and must leave every row as it was; then the real migration, the audit chain and a step on
the new rules."""

import sqlite3
from contextlib import closing
from typing import Any

import pytest
from cli_support import (
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    OFFICE,
    POWER,
    SITE,
    Cli,
    assert_error_document,
    assert_ok,
    assert_refused,
    field_args,
)
from definition_copies import relabel_state, rename_state, shipped, write_definition

ADMIN = "migration_admin"
MAP = ["--map", "assigned=dispatched"]


def snapshot(cli: Cli) -> dict[str, Any]:
    """Every row a migration could touch."""
    queries = {
        "cases": "SELECT id, state, version, definition_version, event_seq, head_hash FROM \"case\" ORDER BY id",
        "events": "SELECT case_id, seq, trigger, hash FROM case_event ORDER BY case_id, seq",
        "obligations": "SELECT id, key, unit, closed_at FROM obligation ORDER BY id",
        "definitions": "SELECT version FROM workflow_definition ORDER BY version",
    }
    with closing(sqlite3.connect(cli.database_file)) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}


def stored_version(cli: Cli, case_type: str) -> str:
    with closing(sqlite3.connect(cli.database_file)) as conn:
        (version,) = conn.execute("SELECT version FROM workflow_definition WHERE type = ?", (case_type,)).fetchone()
    return str(version)


def migrate(*args: str) -> list[str]:
    return ["workflow", "migrate", ENTERPRISE, *args]


@pytest.fixture(scope="module")
def world(module_db: Cli, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = tmp_path_factory.mktemp("config")
    v1 = relabel_state(shipped(ENTERPRISE), "registered", "已登记（第一版）")
    write_definition(config, v1)
    cli = Cli(module_db.workdir, {**module_db.env, "CASEFLOW_CONFIG_DIR": str(config)})
    made = cli.run_all(
        {
            "admin": ["user", "add", ADMIN, "--department", "sti", "--role", "admin"],
            **{s: ["case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS), "--json"]
               for s in ("registered", "assigned", "in_progress", "not_accepted")},
        }
    )  # fmt: skip
    numbers = {s: assert_ok(r).json()["number"] for s, r in made.items() if s != "admin"}
    assert_ok(made["admin"])
    assign = ["assign", "--as", OFFICE, "--field", "lead_unit=市供电公司"]
    steps = cli.run_all(
        {
            "assigned": ["case", "advance", numbers["assigned"], *assign],
            "in_progress": ["case", "advance", numbers["in_progress"], *assign],
            "not_accepted": ["case", "advance", numbers["not_accepted"], "decline", "--as", OFFICE,
                             "--field", "reason=不属于企业问题"],
        }
    )  # fmt: skip
    for result in steps.values():
        assert_ok(result)
    cli.ok("case", "advance", numbers["in_progress"], "accept", "--as", POWER)
    first = cli.json("case", "show", numbers["registered"])["definition_version"]
    write_definition(config, rename_state(v1, "assigned", "dispatched"))

    before = snapshot(cli)
    site = stored_version(cli, SITE)
    refusals = cli.run_all(
        {
            "unmapped": migrate("--to", "current", "--as", ADMIN),
            "unmapped_json": migrate("--to", "current", "--as", ADMIN, "--json"),
            "dry": migrate("--to", "current", *MAP, "--dry-run", "--as", ADMIN),
            "dry_json": migrate("--to", "current", *MAP, "--dry-run", "--json"),
            "unknown_type": ["workflow", "migrate", "shop_complaint", "--to", "current"],
            "short": migrate("--to", "1234abc"),
            "unknown_version": migrate("--to", "deadbeefdeadbeef"),
            "other_type": migrate("--to", site[:10]),
            "bad_old": migrate("--to", "current", "--map", "nowhere=registered"),
            "bad_new": migrate("--to", "current", "--map", "assigned=limbo"),
            "bad_pair": migrate("--to", "current", "--map", "assigned"),
            "not_admin": migrate("--to", "current", *MAP, "--as", OFFICE),
        }
    )
    after_refusals = snapshot(cli)
    moved = cli.run(*migrate("--to", "current", *MAP, "--as", ADMIN))
    reads = cli.run_all(
        {
            "assigned": ["case", "show", numbers["assigned"], "--json"],
            "closed": ["case", "show", numbers["not_accepted"], "--json"],
            "history": ["case", "history", numbers["assigned"], "--json"],
            "audit": ["audit", "verify"],
        }
    )
    accepted = cli.run("case", "advance", numbers["assigned"], "accept", "--as", POWER, "--json")
    again = cli.run(*migrate("--to", "current"))
    return {
        "cli": cli, "numbers": numbers, "first": first, "before": before, "after_refusals": after_refusals,
        "refusals": refusals, "moved": moved, "reads": reads, "accepted": accepted, "again": again,
    }  # fmt: skip


def test_refusals_and_the_dry_run_change_nothing(world: dict[str, Any]) -> None:
    assert world["after_refusals"] == world["before"]


def test_an_unmapped_state_refuses_the_whole_migration(world: dict[str, Any]) -> None:
    line = assert_refused(world["refusals"]["unmapped"], "assigned 1 件", "--map assigned=", "未作任何改动")
    assert "dispatched" in line  # the states the target offers
    document = assert_error_document(world["refusals"]["unmapped_json"], "migration_refused")
    assert document["details"]["unmapped"] == {"assigned": 1}


def test_dry_run_counts_per_version_and_state(world: dict[str, Any]) -> None:
    numbers, first = world["numbers"], world["first"]
    out = assert_ok(world["refusals"]["dry"]).stdout
    assert "试运行（未作任何改动）：将迁移 3 件" in out
    assert f"版本 {first[:12]}  assigned（已交办·待签收）→ dispatched（已交办·待签收）  1 件：{numbers['assigned']}" in out
    assert "已办结的 1 件留在原版本，不迁移" in out
    plan = assert_ok(world["refusals"]["dry_json"]).json()
    assert plan["dry_run"] is True and plan["total"] == 3 and plan["migrated"] == []
    assert {(m["from_state"], m["to_state"], m["count"]) for m in plan["moves"]} == {
        ("registered", "registered", 1), ("assigned", "dispatched", 1), ("in_progress", "in_progress", 1),
    }  # fmt: skip
    assert plan["requested_by"].startswith("命令行")


@pytest.mark.parametrize(
    ("key", "needles"),
    [
        ("unknown_type", ("未知案件类型“shop_complaint”",)),
        ("short", ("至少8位",)),
        ("unknown_version", ("没有版本号以“deadbeefdeadbeef”开头",)),
        ("other_type", ("是 scattered_polluting 的流程定义",)),
        ("bad_old", ("没有状态“nowhere”",)),
        ("bad_new", ("没有状态“limbo”", "dispatched")),
        ("bad_pair", ("应为 旧状态=新状态",)),
        ("not_admin", ("系统管理员",)),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(world: dict[str, Any], key: str, needles: tuple[str, ...]) -> None:
    assert_refused(world["refusals"][key], *needles)


def test_mapped_cases_move_with_one_event_each(world: dict[str, Any]) -> None:
    first, before = world["first"], world["before"]
    out = assert_ok(world["moved"]).stdout
    assert "已迁移 3 件 enterprise_issue 案件" in out
    shown = assert_ok(world["reads"]["assigned"]).json()
    assert shown["state"] == "dispatched" and shown["definition_version"] != first
    closed = assert_ok(world["reads"]["closed"]).json()
    assert closed["definition_version"] == first and closed["state"] == "not_accepted"
    last = assert_ok(world["reads"]["history"]).json()[-1]
    assert last["trigger"] == "migrate_definition" and last["actor"] == "system"
    assert (last["from_state"], last["to_state"]) == ("assigned", "dispatched")
    assert last["payload"]["requested_by"] == ADMIN and last["payload"]["mapping"] == {"assigned": "dispatched"}
    assert last["payload"]["from_version"] == first and last["payload"]["to_version"] == shown["definition_version"]
    assert "哈希链完好" in assert_ok(world["reads"]["audit"]).stdout
    after = snapshot(world["cli"])
    new_events = [e for e in after["events"] if e not in before["events"]]
    assert sorted(e[2] for e in new_events) == ["accept", *["migrate_definition"] * 3]


def test_the_moved_case_runs_on_the_new_rules(world: dict[str, Any]) -> None:
    assert assert_ok(world["accepted"]).json()["state"] == "in_progress"
    assert "没有需要迁移的案件" in assert_ok(world["again"]).stdout
