"""The ledger (台账) of a type that exists only in the tests and has NO ``ledger:`` section
(``ledger_probe``, 测试许可): its template, export and import — all or nothing, and the valid
rows only — work from the definition alone, through the command line and through the API (SQLite
and PostgreSQL); and adding it leaves the shipped types' templates and exports cell for cell as
they were."""

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from api_support import DATABASES, ApiEnv, client_for, drop_pg_database, new_pg_database, password_hash, start_server
from cli_support import OFFICE, Cli, assert_error_document, assert_ok, assert_refused
from helpers import (
    ENTERPRISE,
    SITE,
    START,
    build_app,
    new_enterprise_case,
    new_site_case,
    standard_actors,
    walk_enterprise_to,
    walk_site_to,
)
from ledger_probe import PROBE, PROBE_COLUMNS, PROBE_NAME, probe_config
from openpyxl import load_workbook

from web.server import create_web_app
from workflow.clock import FixedClock

TAIL = ["办理期限", "督办等级"]


def probe_rows() -> list[list[Any]]:
    """Four valid rows (one per state reached a different way) and one bad row, in template order."""
    d = date
    return [
        [1, "张三", "孔城镇", 100, "小额", None, None, d(2026, 9, 1), None, None, None, None, None, None],
        [2, "李四", "文昌街道", 200, "大额", "加急", "审核中", d(2026, 9, 1), d(2026, 9, 2), "市供电公司", None, None, None,
         None],
        [3, "王五", "kongcheng", 300, None, None, "已批准", d(2026, 9, 1), d(2026, 9, 2), "市供电公司", d(2026, 9, 10),
         "同意", None, None],
        [4, "赵六", "孔城镇", 50, None, None, "不予批准", d(2026, 9, 1), None, None, None, None, d(2026, 9, 3), "材料不全"],
        [5, "钱七", "火星镇", 5000, None, None, None, d(2026, 9, 1), None, None, None, None, None, None],
    ]  # fmt: skip


def filled(template: Path, target: Path) -> Path:
    """The template with the probe rows below its example row."""
    book = load_workbook(template)
    ws = book[PROBE_NAME]
    for row in probe_rows():
        ws.append([row[0], None, *row[1:]])  # 编号 left empty: numbered on import
    book.save(target)
    return target


def sheet_rows(data: bytes | Path, title: str) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    return [tuple(r) for r in book[title].iter_rows(values_only=True)]


def check_exported(rows: list[tuple[Any, ...]]) -> None:
    assert list(rows[0]) == PROBE_COLUMNS + TAIL
    by_name = {r[2]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(by_name) == {"张三", "李四", "王五", "赵六"}
    assert by_name["张三"]["当前状态"] == "已申请" and by_name["张三"]["申请类别"] == "小额"
    assert by_name["李四"]["当前状态"] == "审核中" and by_name["李四"]["审核单位"] == "市供电公司"
    assert by_name["李四"]["所属镇街"] == "文昌街道" and by_name["李四"]["申请类别"] == "大额"
    approved = by_name["王五"]
    assert approved["当前状态"] == "已批准" and approved["所属镇街"] == "孔城镇"
    assert approved["受理日期"].date() == date(2026, 9, 2) and approved["批准日期"].date() == date(2026, 9, 10)
    assert approved["审核意见"] == "同意" and approved["驳回日期"] is None
    refused = by_name["赵六"]
    assert refused["当前状态"] == "不予批准" and refused["驳回理由"] == "材料不全" and refused["受理日期"] is None


# --- the command line ---------------------------------------------------------------------------------


@pytest.fixture
def probe_cli(fresh_db: Cli, tmp_path: Path) -> Cli:
    config = probe_config(tmp_path / "config")
    return Cli(fresh_db.workdir, {**fresh_db.env, "CASEFLOW_CONFIG_DIR": str(config)})


def test_a_type_without_a_ledger_section_round_trips_through_the_cli(probe_cli: Cli) -> None:
    cli, work = probe_cli, probe_cli.workdir
    made = cli.json("export", "template", "--type", PROBE, str(work / "模板.xlsx"))
    assert made["columns"] == PROBE_COLUMNS and made["required"] == ["所属镇街", "申请人", "申请金额"]
    path = filled(work / "模板.xlsx", work / "测试台账.xlsx")

    refused = cli.run("import", "ledger", str(path), "--type", PROBE, "--as", OFFICE, "--json")
    assert refused.returncode == 2
    problems = {(p["row"], p["header"]) for p in assert_error_document(refused, "invalid_input")["details"]["problems"]}
    assert problems == {(7, "所属镇街"), (7, "申请金额")}
    assert cli.json("case", "list")["total"] == 0  # all or nothing: nothing stored

    report = assert_ok(
        cli.run("import", "ledger", str(path), "--type", PROBE, "--as", OFFICE, "--valid-only", "--json")
    ).json()
    assert report["stored"] and report["invalid_rows"] == [7]
    states = {c["row"]: c["state"] for c in report["created"]}
    assert states == {3: "applied", 4: "reviewing", 5: "approved", 6: "refused"}
    approved = next(c["number"] for c in report["created"] if c["row"] == 5)
    assert approved.startswith("TP-2026-")
    history = cli.json("case", "history", approved)
    assert [(e["trigger"], e["payload"]["imported"]) for e in history] == [
        ("import", True), ("start_review", True), ("approve", True),
    ]  # fmt: skip
    assert_ok(cli.run("audit", "verify"))

    one = cli.json("export", "ledger", "--type", PROBE, str(work / "台账.xlsx"), "--json")
    assert one["rows"] == 4
    check_exported(sheet_rows(work / "台账.xlsx", PROBE_NAME))
    everything = assert_ok(cli.run("export", "ledger", str(work / "全部.xlsx")))
    assert f"{PROBE_NAME} 4 行" in everything.stdout and "企业问题 0 行" in everything.stdout
    assert {"企业问题", "散乱污整治", PROBE_NAME} <= set(load_workbook(work / "全部.xlsx").sheetnames)


def test_a_probe_row_in_the_wrong_order_is_refused_with_its_column(probe_cli: Cli) -> None:
    cli, work = probe_cli, probe_cli.workdir
    cli.ok("export", "template", "--type", PROBE, str(work / "模板.xlsx"))
    book = load_workbook(work / "模板.xlsx")
    ws = book[PROBE_NAME]
    d = date
    ws.append([1, None, "孙八", "孔城镇", 10, None, None, "已批准", d(2026, 9, 5), d(2026, 9, 2), "市供电公司", d(2026, 9, 10),
               "同意", None, None])  # fmt: skip
    book.save(work / "错序.xlsx")
    result = cli.run("import", "ledger", str(work / "错序.xlsx"), "--type", PROBE, "--as", OFFICE, "--json")
    assert_refused(result, "未导入任何数据")
    [problem] = assert_error_document(result, "invalid_input")["details"]["problems"]
    assert (problem["row"], problem["column"], problem["header"]) == (3, "J", "受理日期")
    assert "早于登记日期（2026-09-05）" in problem["reason"]


# --- the API --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=DATABASES)
def probe_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """A served app whose configuration adds the probe type, on SQLite or PostgreSQL."""
    import os

    root = tmp_path_factory.mktemp("probe-api")
    dropped = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{root / 'caseflow.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name, database_url = new_pg_database(server, os.environ["TEST_DATABASE_URL"])
        dropped = (server, name)
    clock = FixedClock(START)
    app = build_app(database_url, root / "data", clock=clock, config_dir=probe_config(root / "config"))
    try:
        app.migrate()
        app.users.add("office", "sti", ["dispatcher", "collector"], password_hash=password_hash())
        web = create_web_app(app)
        served = start_server(web)
        env = ApiEnv(app, clock, served.url, database_url, root / "data", web=web)
        try:
            yield env
        finally:
            env.close()
            served.stop()
    finally:
        app.close()
        if dropped is not None:
            drop_pg_database(*dropped)


def test_a_type_without_a_ledger_section_round_trips_through_the_api(probe_env: ApiEnv) -> None:
    office = client_for(probe_env.url, "office")
    try:
        template = office.get(f"/api/ledger/template/{PROBE}")
        assert template.status_code == 200, template.text
        assert list(sheet_rows(template.content, PROBE_NAME)[0]) == PROBE_COLUMNS
        path = probe_env.data_dir.parent / "模板.xlsx"
        path.write_bytes(template.content)
        data = filled(path, probe_env.data_dir.parent / "测试台账.xlsx").read_bytes()

        def post(**params: Any) -> Any:
            query = {"type": PROBE, **{k: str(v).lower() for k, v in params.items()}}
            return office.post("/api/ledger/import", params=query, files={"file": ("测试台账.xlsx", data)})

        refused = post()
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert "未导入任何数据" in body["message"]
        assert {(p["row"], p["header"]) for p in body["details"]["problems"]} == {(7, "所属镇街"), (7, "申请金额")}
        assert office.get("/api/cases", params={"type": PROBE}).json()["total"] == 0

        stored = post(valid_only=True)
        assert stored.status_code == 201, stored.text
        assert stored.json()["invalid_rows"] == [7] and len(stored.json()["created"]) == 4

        exported = office.get("/api/ledger/export", params={"type": PROBE})
        assert exported.status_code == 200, exported.text
        check_exported(sheet_rows(exported.content, PROBE_NAME))
        everything = office.get("/api/ledger/export")
        assert everything.status_code == 200, everything.text
        assert {"企业问题", "散乱污整治", PROBE_NAME} <= set(load_workbook(io.BytesIO(everything.content)).sheetnames)
    finally:
        office.close()


# --- the shipped types are untouched ----------------------------------------------------------------


def cells(path: Path) -> dict[str, Any]:
    """Every cell of every sheet with its value, number format and comment; widths and dropdowns."""
    book = load_workbook(path)
    result: dict[str, Any] = {}
    for ws in book.worksheets:
        result[ws.title] = {
            "cells": [(c.coordinate, c.value, c.number_format, c.comment.text if c.comment else None)
                      for row in ws.iter_rows() for c in row],
            "widths": {k: v.width for k, v in ws.column_dimensions.items()},
            "lists": [(str(v.sqref), v.formula1, v.prompt) for v in ws.data_validations.dataValidation],
        }  # fmt: skip
    return result


def test_adding_a_type_leaves_the_shipped_ledgers_cell_for_cell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    plain = build_app(url, tmp_path / "data", clock=FixedClock(START))
    plain.migrate()
    try:
        actors = standard_actors(plain)
        walk_enterprise_to(plain, new_enterprise_case(plain, actors.dispatcher)["number"], "follow_up")
        walk_site_to(plain, new_site_case(plain)["number"], "acceptance", "rectify")
        walk_site_to(plain, new_site_case(plain, site_name="另一处加工点")["number"], "closed", "ban")
        probed = build_app(
            url, tmp_path / "data", clock=FixedClock(START), config_dir=probe_config(tmp_path / "config")
        )
        try:
            assert PROBE in probed.definitions.types and PROBE not in plain.definitions.types
            for case_type in (ENTERPRISE, SITE):
                for name, app in (("plain", plain), ("probed", probed)):
                    app.ledger.export_template(case_type, tmp_path / f"{name}-template-{case_type}.xlsx")
                    app.ledger.export_ledger(tmp_path / f"{name}-ledger-{case_type}.xlsx", case_type=case_type)
                for kind in ("template", "ledger"):
                    before = cells(tmp_path / f"plain-{kind}-{case_type}.xlsx")
                    after = cells(tmp_path / f"probed-{kind}-{case_type}.xlsx")
                    assert after == before, (kind, case_type)
            plain.ledger.export_ledger(tmp_path / "plain-all.xlsx")
            probed.ledger.export_ledger(tmp_path / "probed-all.xlsx")
            before, after = cells(tmp_path / "plain-all.xlsx"), cells(tmp_path / "probed-all.xlsx")
            assert after.pop(PROBE_NAME)["cells"][0][1] == "序号"
            assert after == before
        finally:
            probed.close()
    finally:
        plain.close()
