"""``caseflow import ledger`` and ``caseflow export template|ledger|history``: ledgers (台账) in and
out of Excel. The work is ``ledger.LedgerService``'s; here are the options, the progress
bar (stderr, on a terminal), the table of problems and the exit status: 0 stored or exported;
2 refused (problems found and nothing stored, bad option, not found) with a one-line reason on
stderr; Ctrl-C leaves the database and the target file as they were.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from caseflow.app import App
from caseflow.cli.common import as_option, console, err_console, json_option, open_app, print_json
from ledger import ImportReport, LedgerRejected
from workflow.errors import CaseflowError, InvalidInput

PHASES = {"read": "读取并校验", "write": "写入数据库", "export": "导出"}
MAX_SHOWN = 200
"""Problems listed on screen; the annotated workbook and --json have all of them."""


class Interrupted(CaseflowError):
    code = "interrupted"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A callback ``(phase, done, total)`` drawing one bar per phase on stderr (terminals only)."""
    out = err_console()
    show = enabled and out.is_terminal
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=True, disable=not show) as bar:
        tasks: dict[str, Any] = {}

        def advance(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], advance=done, total=total)

        yield advance


def _actor(app: App, username: str | None) -> Any:
    if not username:
        raise InvalidInput("--as", "请用 --as USER 指明以哪个用户身份导入")
    return app.users.actor(username)


def _type(app: App, value: str | None) -> str | None:
    """A case type by its key or its Chinese name (``散乱污整治``); unknown ones are left for the
    service to refuse with the list of types."""
    if value is None or value in app.definitions.specs:
        return value
    for key, spec in app.definitions.specs.items():
        if value.strip() == spec.name:
            return key
    return value


def errors_path(path: Path) -> Path:
    """``台账.xlsx`` → ``台账.errors.xlsx`` next to it."""
    return path.with_name(f"{path.stem}.errors.xlsx")


@click.group("import")
def import_group() -> None:
    """导入：台账（Excel）。"""


@import_group.command("ledger")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "case_type",
    required=True,
    metavar="TYPE",
    help="案件类型代码，如 enterprise_issue（企业问题）；全部类型见 caseflow workflow check",
)
@as_option
@click.option("--dry-run", is_flag=True, help="只校验并报告，不写入数据库")
@click.option("--valid-only", is_flag=True, help="只导入无问题的行（默认：有任何问题则都不导入）")
@json_option
def import_ledger(
    file: Path, case_type: str, as_user: str | None, dry_run: bool, valid_only: bool, as_json: bool
) -> None:
    """导入台账 FILE（.xlsx）：逐行校验，全部无误（或 --valid-only 时的无误行）在一个事务中登记，
    并按“当前状态”和各环节日期补记办理过程。"""
    with open_app() as app:
        service = app.ledger
        actor = _actor(app, as_user)
        case_type = _type(app, case_type) or case_type
        report: ImportReport | None = None
        try:
            with progress_bar(not as_json) as advance:
                report = service.import_ledger(
                    file, case_type, actor, dry_run=dry_run, valid_only=valid_only, progress=advance
                )
            if report.problems:
                try:
                    service.annotate(report, file, errors_path(file))
                except OSError as exc:
                    report.notices.append(f"无法写入问题标注文件：{exc}")
            _finish_import(report, as_json)
        except KeyboardInterrupt:
            if report is not None and report.stored:
                raise Interrupted(f"输出被中断；导入已完成（{len(report.created)} 件）") from None
            raise Interrupted("导入已中断，数据库未作任何改动") from None


def _finish_import(report: ImportReport, as_json: bool) -> None:
    refused = bool(report.problems) and not report.stored
    if not as_json:
        _print_import(report)
    if refused:
        where = f"；问题已标注在 {report.annotated}" if report.annotated else ""
        what = "试运行，未导入" if report.dry_run else "未导入任何数据"
        raise LedgerRejected(
            f"台账有 {len(report.problems)} 处问题（涉及 {len(report.invalid_rows)} 行），{what}{where}",
            report.to_dict(),
        )
    if not report.dry_run and not report.stored:
        raise LedgerRejected("台账中没有可导入的数据行，未导入任何数据", report.to_dict())
    if as_json:
        print_json(report.to_dict())


def _print_import(report: ImportReport) -> None:
    out = console()
    out.print(f"台账：{escape(report.file)}  工作表“{escape(report.sheet)}”  表头在第 {report.header_row} 行  "
              f"数据 {report.rows} 行  无误 {report.valid_rows} 行")  # fmt: skip
    out.print(f"SHA-256：{report.sha256}")
    for note in report.notices[:20]:
        out.print(f"提示：{escape(note)}")
    if report.problems:
        table = Table(title=f"发现 {len(report.problems)} 处问题")
        for column in ("行", "列", "列名", "问题", "原值"):
            table.add_column(column, overflow="fold")
        for p in report.problems[:MAX_SHOWN]:
            table.add_row(str(p.row), p.column or "—", escape(p.header), escape(p.reason), escape(p.value or ""))
        out.print(table)
        if len(report.problems) > MAX_SHOWN:
            out.print(f"……另有 {len(report.problems) - MAX_SHOWN} 处问题，见标注文件")
    if report.annotated:
        out.print(f"已生成问题标注文件：{escape(report.annotated)}")
    if report.dry_run:
        verdict = (
            "全部可以导入" if not report.problems else "有问题的行须改正后再导入（或用 --valid-only 只导入无误行）"
        )
        out.print(f"试运行：未写入数据库；{verdict}")
    elif report.stored:
        skipped = f"，跳过有问题的 {len(report.invalid_rows)} 行" if report.problems else ""
        first = report.created[0]["number"] if report.created else ""
        last = report.created[-1]["number"] if report.created else ""
        out.print(f"已导入 {len(report.created)} 件（{first} … {last}）{skipped}")


@click.group("export")
def export_group() -> None:
    """导出：台账模板、台账、办理记录（Excel）。"""


@export_group.command("template")
@click.option(
    "--type",
    "case_type",
    required=True,
    metavar="TYPE",
    help="案件类型代码，如 enterprise_issue（企业问题）；全部类型见 caseflow workflow check",
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def export_template(case_type: str, file: Path, as_json: bool) -> None:
    """导出台账导入模板 FILE：表头、示例行、填写说明与可选值（含下拉列表）。"""
    with open_app() as app:
        result = app.ledger.export_template(_type(app, case_type) or case_type, file)
    _done(result, as_json, f"已导出模板：{file}（{len(result['columns'])} 列）")


@export_group.command("ledger")
@click.option("--type", "case_type", metavar="TYPE", help="案件类型；不填则每类一个工作表")
@click.option("--state", metavar="S", help="只导出该状态（代码或中文名称）")
@click.option("--department", metavar="DEPT", help="单位代码或名称（主办单位、属地或事项执行单位）")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def export_ledger(case_type: str | None, state: str | None, department: str | None, file: Path, as_json: bool) -> None:
    """导出当前台账 FILE（.xlsx）。"""
    with open_app() as app:
        try:
            with progress_bar(not as_json) as advance:
                result = app.ledger.export_ledger(
                    file, case_type=_type(app, case_type), state=state, department=department, progress=advance
                )
        except KeyboardInterrupt:
            raise Interrupted("导出已中断，未生成文件") from None
    sheets = "，".join(f"{s['sheet']} {s['rows']} 行" for s in result["sheets"])
    _done(result, as_json, f"已导出台账：{file}（{sheets}）")


@export_group.command("history")
@click.argument("case_ref", metavar="CASE")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def export_history(case_ref: str, file: Path, as_json: bool) -> None:
    """导出一件案件的全部办理记录 FILE（.xlsx）。"""
    with open_app() as app:
        result = app.ledger.export_history(case_ref, file)
    _done(result, as_json, f"已导出 {result['case']} 的办理记录：{file}（{result['events']} 条）")


def _done(result: dict[str, Any], as_json: bool, message: str) -> None:
    if as_json:
        print_json(result)
    else:
        click.echo(message)
