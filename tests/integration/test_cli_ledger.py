"""Ledgers (台账) through the command line, as a clerk and a script use them: the template, an
import refused with an annotated copy (exit 2, nothing stored), ``--dry-run``, ``--valid-only``,
state on import, the ledger and history exports, and ``audit verify`` afterwards.

Workbooks are built with openpyxl; the product is only run as ``caseflow`` subprocesses.
"""

import os
import pty
import select
import signal
import subprocess
import time
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    ENTERPRISE,
    OFFICE,
    QY_NUMBER,
    SITE,
    SUPERVISOR,
    Cli,
    assert_error_document,
    assert_ok,
    assert_refused,
)
from openpyxl import Workbook, load_workbook

VALID = ("914403001922038216", "91340600MA2PBM9HXD")
HEADERS = [
    "序号",
    "问题标题",
    "问题描述",
    "问题类别",
    "企业名称",
    "统一社会信用代码",
    "所属镇街",
    "当前状态",
    "交办日期",
    "主办单位",
]


def workbook(path: Path, rows: list[list[Any]], title: str = "企业问题") -> Path:
    book = Workbook()
    ws = book.active
    ws.title = title
    ws.append(["桐城市企业问题收集交办台账"])
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def good_rows() -> list[list[Any]]:
    return [
        HEADERS,
        [1, "用电增容", "新上生产线需要增容", "生产要素", "企业一", VALID[0], "孔城镇", None, None, None],
        [
            2,
            "融资难",
            "流动资金贷款",
            "政策扶持",
            "企业二",
            VALID[1],
            "文昌街道",
            "已交办·待签收",
            date(2026, 9, 28),
            "市供电公司",
        ],
    ]


def test_a_bad_ledger_is_refused_with_every_fault_and_an_annotated_copy(fresh_db: Cli) -> None:
    rows = [
        *good_rows(),
        [3, "审批慢", "描述", "审批服务", "企业三", "914403001922038217", "孔城镇", None, None, None],
        [4, "用地难", "描述", "生产要素", "企业四", VALID[0], "火星镇", None, "2026.13.01", None],
    ]
    path = workbook(fresh_db.workdir / "台账.xlsx", rows)
    result = fresh_db.run("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE)
    line = assert_refused(result, "3 处问题", "未导入任何数据", "台账.errors.xlsx")
    annotated = fresh_db.workdir / "台账.errors.xlsx"
    assert annotated.exists() and str(annotated) in line
    # the table on screen names row, column and reason
    for needle in ("5", "F", "校验位", "6", "G", "火星镇", "I", "不是有效日期"):
        assert needle in result.stdout
    book = load_workbook(annotated)
    ws = book["企业问题"]
    assert "校验位" in ws["F5"].comment.text and "火星镇" in ws["G6"].comment.text and ws["K2"].value == "问题说明"
    assert fresh_db.json("case", "list")["total"] == 0

    as_json = fresh_db.run("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE, "--json")
    assert as_json.returncode == 2
    document = assert_error_document(as_json, "invalid_input")
    problems = document["details"]["problems"]
    assert [(p["row"], p["column"]) for p in problems] == [(5, "F"), (6, "G"), (6, "I")]
    assert document["details"]["stored"] is False and document["details"]["annotated"].endswith("台账.errors.xlsx")


def test_valid_ledger_dry_run_then_import_then_exports(fresh_db: Cli) -> None:
    path = workbook(fresh_db.workdir / "ok.xlsx", good_rows())
    dry = fresh_db.json("import", "ledger", str(path), "--type", "企业问题", "--as", OFFICE, "--dry-run")
    assert dry["dry_run"] is True and dry["stored"] is False and dry["valid_rows"] == 2
    assert [p["state"] for p in dry["preview"]] == ["registered", "assigned"]
    assert fresh_db.json("case", "list")["total"] == 0

    report = fresh_db.json("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE)
    assert report["stored"] is True and report["problems"] == []
    numbers = [c["number"] for c in report["created"]]
    assert all(QY_NUMBER.match(n) for n in numbers) and [c["row"] for c in report["created"]] == [3, 4]
    assigned = fresh_db.json("case", "show", numbers[1])
    assert assigned["state"] == "assigned" and assigned["due_date"] == "2026-09-29" and assigned["lead_unit"] == "power"
    history = fresh_db.json("case", "history", numbers[1])
    assert [(e["trigger"], e["payload"]["imported"]) for e in history] == [("import", True), ("assign", True)]
    assert history[0]["payload"]["source"]["sha256"] == report["sha256"]
    assert_ok(fresh_db.run("audit", "verify"))

    # importing the same ledger again: both problems are still open
    again = fresh_db.run("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE)
    assert_refused(again, "2 处问题")
    assert fresh_db.json("case", "list")["total"] == 2

    out = fresh_db.workdir / "exports"
    results = fresh_db.run_all({
        "ledger": ["export", "ledger", "--type", ENTERPRISE, str(out / "台账.xlsx"), "--json"],
        "both": ["export", "ledger", str(out / "all.xlsx")],
        "history": ["export", "history", numbers[1], str(out / "history.xlsx"), "--json"],
        "template": ["export", "template", "--type", SITE, str(out / "template.xlsx")],
        "bad_state": ["export", "ledger", "--type", ENTERPRISE, "--state", "已上天", str(out / "x.xlsx")],
        "no_case": ["export", "history", "QY-2026-99999", str(out / "y.xlsx")],
    })  # fmt: skip
    exported = assert_ok(results["ledger"]).json()
    assert exported["rows"] == 2 and exported["sheets"][0]["sheet"] == "企业问题"
    assert "企业问题 2 行" in assert_ok(results["both"]).stdout and "散乱污整治 0 行" in results["both"].stdout
    assert assert_ok(results["history"]).json()["events"] == 2
    assert_ok(results["template"])
    assert_refused(results["bad_state"], "已上天")
    assert_refused(results["no_case"], "QY-2026-99999")
    assert sorted(p.name for p in out.iterdir()) == ["all.xlsx", "history.xlsx", "template.xlsx", "台账.xlsx"]
    sheet = load_workbook(out / "台账.xlsx")["企业问题"]
    assert [c.value for c in sheet[2]][1:3] == [numbers[0], "用电增容"]


def test_valid_only_stores_the_valid_rows_and_reports_the_rest(fresh_db: Cli) -> None:
    rows = [*good_rows(), [3, "审批慢", "描述", "审批服务", "企业三", "914403001922038217", "孔城镇", None, None, None]]
    path = workbook(fresh_db.workdir / "mixed.xlsx", rows)
    result = fresh_db.run("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE, "--valid-only", "--json")
    report = assert_ok(result).json()
    assert report["stored"] is True and len(report["created"]) == 2 and report["invalid_rows"] == [5]
    assert (fresh_db.workdir / "mixed.errors.xlsx").exists()
    assert fresh_db.json("case", "list")["total"] == 2
    text = fresh_db.run("import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE, "--valid-only")
    assert text.returncode == 2  # the valid rows are in now: everything left is a problem


def test_template_round_trip_and_state_on_import_of_a_site(fresh_db: Cli) -> None:
    template = fresh_db.workdir / "模板.xlsx"
    made = fresh_db.json("export", "template", "--type", SITE, str(template))
    assert "场所名称" in made["columns"] and "问题类型" in made["required"]
    book = load_workbook(template)
    ws = book["散乱污整治"]
    header = [c.value for c in ws[1]]
    row = dict.fromkeys(header)
    row.update({
        "序号": 1, "场所名称": "甲塑料颗粒加工点", "详细地址": "孔城镇桐梓村一组", "所属镇街": "孔城镇", "问题类型": "环境违法",
        "当前状态": "取缔关闭·两断三清实施中", "登记日期": date(2026, 9, 1), "核查日期": date(2026, 9, 2),
        "认定日期": date(2026, 9, 3), "整治方案": "依法取缔", "断电日期": date(2026, 9, 10), "断电电表读数": "12345.6",
    })  # fmt: skip
    ws.append([row[h] for h in header])
    book.save(template)
    report = fresh_db.json("import", "ledger", str(template), "--type", SITE, "--as", OFFICE)
    assert report["problems"] == [] and any("示例" in n for n in report["notices"])
    number = report["created"][0]["number"]
    case = fresh_db.json("case", "show", number)
    assert case["state"] == "clearing" and case["due_date"] == "2026-09-18"
    power = next(i for i in case["items"] if i["key"] == "cut_power")
    assert power["done"] and power["done_at"].startswith("2026-09-10") and power["evidence"] == [report["sha256"]]
    assert_ok(fresh_db.run("audit", "verify"))


def test_refusals_before_reading(cli: Cli) -> None:
    path = workbook(cli.workdir / "l.xlsx", good_rows())
    results = cli.run_all({
        "no_user": ["import", "ledger", str(path), "--type", ENTERPRISE],
        "unknown_user": ["import", "ledger", str(path), "--type", ENTERPRISE, "--as", "nobody"],
        "not_allowed": ["import", "ledger", str(path), "--type", ENTERPRISE, "--as", SUPERVISOR],
        "no_file": ["import", "ledger", str(cli.workdir / "missing.xlsx"), "--type", ENTERPRISE, "--as", OFFICE],
        "bad_type": ["import", "ledger", str(path), "--type", "cats", "--as", OFFICE],
        "no_header": ["import", "ledger", str(workbook(cli.workdir / "empty.xlsx", [["什么也没有"]])), "--type", SITE, "--as", OFFICE],
    })  # fmt: skip
    assert_refused(results["no_user"], "--as")
    assert_refused(results["unknown_user"], "nobody")
    assert_refused(results["not_allowed"], "无权")
    assert_refused(results["no_file"], "missing.xlsx")
    assert_refused(results["bad_type"], "cats")
    assert_refused(results["no_header"], "表头")
    assert cli.json("case", "list")["total"] == 0


def _interrupt_when_showing(process: subprocess.Popen[str], terminal: int, phase: str) -> str:
    """Read the progress bar the command draws on its terminal (stderr) until ``phase`` shows,
    then press Ctrl-C (SIGINT); what the terminal showed."""
    seen = b""
    deadline = time.monotonic() + 120
    while phase.encode() not in seen:
        ready, _, _ = select.select([terminal], [], [], 1.0)
        if ready:
            try:
                seen += os.read(terminal, 65536)
            except OSError:  # the command ended (the terminal closed) before showing the phase
                break
        if process.poll() is not None or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    return seen.decode(errors="replace")


@pytest.mark.parametrize("phase", ["读取并校验", "写入数据库"])
def test_ctrl_c_during_an_import_leaves_all_or_nothing(fresh_db: Cli, phase: str) -> None:
    """Ctrl-C while the progress bar shows the reading, or the writing, of a 3,000-row ledger:
    nothing is stored (the command says so) — or, when the signal came as the commit was being
    made, the whole ledger is, and the command says that. Never half, never a kept copy."""
    from helpers import make_uscc

    rows = [HEADERS[:7]] + [
        [i, f"问题{i}", "描述", "生产要素", f"企业{i}", make_uscc(f"91340881MA2C{i:05d}"), "孔城镇"] for i in range(1, 3001)
    ]
    path = workbook(fresh_db.workdir / "big.xlsx", rows)
    terminal, child_side = pty.openpty()
    process = subprocess.Popen(
        [*fresh_db.command, "import", "ledger", str(path), "--type", ENTERPRISE, "--as", OFFICE],
        cwd=fresh_db.workdir, env={**fresh_db.env, "COLUMNS": "100", "TERM": "xterm"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child_side, text=True,
    )  # fmt: skip
    os.close(child_side)
    try:
        shown = _interrupt_when_showing(process, terminal, phase)
        out, _ = process.communicate(timeout=120)
        with suppress(OSError):
            shown += os.read(terminal, 65536).decode(errors="replace")
    finally:
        os.close(terminal)
    assert phase in shown, shown
    total = fresh_db.json("case", "list")["total"]
    if process.returncode == 0:
        assert phase == "写入数据库" and total == 3000, (out, shown)
    else:
        assert process.returncode == 2 and "导入已中断，数据库未作任何改动" in shown, (process.returncode, out, shown)
        assert total == 0
        kept = [p for p in (fresh_db.data_dir / "evidence").rglob("*") if p.is_file()]
        assert kept == []  # the ledger is kept as evidence only with the cases it is the source of
    assert_ok(fresh_db.run("audit", "verify"))
