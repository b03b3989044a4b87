"""``caseflow templates check`` and ``caseflow templates preview NAME [CASE]``."""

import click
from rich.table import Table

from caseflow.cli.common import console, json_option, open_app, print_json
from notifications.preview import preview
from workflow.errors import CaseflowError


@click.group("templates")
def templates_group() -> None:
    """通知模板：校验与预览。"""


@templates_group.command("check")
@json_option
def templates_check(as_json: bool) -> None:
    """校验全部默认模板和管理员覆盖的模板；有问题时退出码为 2。"""
    with open_app(needs_schema=False) as app:
        results = app.templates.check_all()
    broken = [r for r in results if not r.ok]
    if as_json:
        print_json(
            [
                {
                    "name": r.name,
                    "origin": r.origin,
                    "path": str(r.path),
                    "active": r.active,
                    "problems": [{"line": p.line, "message": p.message} for p in r.problems],
                }  # fmt: skip
                for r in results
            ]
        )
    else:
        table = Table(title=f"通知模板（{len(results)} 个文件，{len(broken)} 个有问题）")
        for column in ("模板", "来源", "生效", "问题"):
            table.add_column(column)
        for r in results:
            problems = "；".join(f"第{p.line}行：{p.message}" if p.line else p.message for p in r.problems) or "无"
            table.add_row(r.name, "覆盖" if r.origin == "override" else "默认", "是" if r.active else "否", problems)
        console().print(table)
    if broken:
        first = broken[0]
        raise CaseflowError(
            f"模板 {first.name}（{first.path}）有问题：{first.problems[0]}", {"broken": [r.name for r in broken]}
        )


@templates_group.command("preview")
@click.argument("name")
@click.argument("case_ref", metavar="CASE", required=False)
@click.option("--html", "show_html", is_flag=True, help="显示 HTML 正文")
@json_option
def templates_preview(name: str, case_ref: str | None, show_html: bool, as_json: bool) -> None:
    """用真实案件（或示例数据）预览模板 NAME 的渲染结果。"""
    with open_app() as app:
        rendered = preview(app.db, app.definitions, app.notification_config, app.templates, app.clock, name, case_ref)
    if as_json:
        print_json({"subject": rendered.subject, "text": rendered.text, "html": rendered.html})
        return
    click.echo(f"标题：{rendered.subject}\n")
    click.echo(rendered.html or "" if show_html else rendered.text)
