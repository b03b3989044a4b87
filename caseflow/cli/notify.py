"""``caseflow notify …`` (the outbox and the inbox) and ``caseflow report bulletin`` (with
``--requirements-file F --as USER``: the office's 下一步工作要求 of the week, saved first)."""

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from caseflow.cli.common import console, json_option, open_app, print_json
from workflow.errors import InvalidInput

STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "failed": "失败待重试", "dead": "死信"}


@click.group("notify")
def notify_group() -> None:
    """通知：收件箱、发送队列、死信。"""


@notify_group.command("list")
@click.option("--user", metavar="U", help="只看某个用户的通知")
@click.option("--failed", is_flag=True, help="只看失败和死信")
@click.option("--unread", is_flag=True, help="只看未读的站内通知")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 5000))
@json_option
def notify_list(user: str | None, failed: bool, unread: bool, limit: int, as_json: bool) -> None:
    """列出通知（最新的在前）。"""
    with open_app() as app:
        if user and not app.users.exists(user):
            raise InvalidInput("user", f"用户“{user}”不存在")
        rows = app.inbox.messages(user=user, failed=failed, unread=unread, limit=limit)
        if as_json:
            print_json(rows)
            return
        table = Table(title=f"通知（{len(rows)}）")
        for column in ("ID", "案件", "事件", "收件人", "渠道", "状态", "标题", "尝试", "错误"):
            table.add_column(column)
        for n in rows:
            table.add_row(
                str(n["id"]), n["case"] or "", n["event"], n["recipient"], n["channel"],
                STATUS_LABELS.get(n["status"], n["status"]), n["subject"], str(n["attempts"]), (n["last_error"] or "")[:40],
            )  # fmt: skip
        console().print(table)


@notify_group.command("dispatch")
@json_option
def notify_dispatch(as_json: bool) -> None:
    """立即发送此刻到期的通知（调度器每分钟也会做一次）。"""
    with open_app() as app:
        total = {"claimed": 0, "sent": [], "failed": [], "dead": [], "lost": []}
        while True:
            report = app.dispatcher.dispatch()
            for key, value in report.to_dict().items():
                total[key] = total[key] + value  # type: ignore[operator]
            if report.claimed == 0:
                break
        if as_json:
            print_json(total)
        else:
            click.echo(
                f"已发送 {len(total['sent'])} 条，失败待重试 {len(total['failed'])} 条，转为死信 {len(total['dead'])} 条"
            )


@notify_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="重试全部死信")
@json_option
def notify_retry(ids: tuple[int, ...], all_dead: bool, as_json: bool) -> None:
    """把死信放回发送队列。"""
    if not ids and not all_dead:
        raise InvalidInput("ids", "请给出通知 ID，或用 --all-dead 重试全部死信")
    with open_app() as app:
        count = app.inbox.retry(list(ids) if ids else None)
        if as_json:
            print_json({"requeued": count})
        else:
            click.echo(f"已放回队列 {count} 条")


@notify_group.command("read")
@click.argument("notification_id", metavar="ID", type=int)
@click.option("--as", "as_user", required=True, metavar="USER")
def notify_read(notification_id: int, as_user: str) -> None:
    """把一条站内通知标为已读。"""
    with open_app() as app:
        app.inbox.mark_read(notification_id, app.users.actor(as_user).username)
        click.echo(f"通知 {notification_id} 已读")


@notify_group.command("digest")
@click.option("--force", is_flag=True, help="非工作日也生成")
@json_option
def notify_digest(force: bool, as_json: bool) -> None:
    """生成今天各单位的每日待办提醒（调度器在工作日 08:30 自动生成）。"""
    with open_app() as app:
        result = app.periodic.digest(force=force)
        if as_json:
            print_json(result.to_dict())
        elif result.skipped:
            click.echo(f"{result.period}：{result.skipped}，未生成（可用 --force）")
        else:
            click.echo(f"{result.period}：{result.units} 个单位，{result.recipients} 人次")


@click.group("report")
def report_group() -> None:
    """报表。"""


@report_group.command("bulletin")
@click.option("--week", metavar="YYYY-Www", help="ISO 周，如 2026-W40；默认上一周")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "docx", "json"]), default="html", show_default=True,
              help="docx：公文格式（GB/T 9704）的通报，含期号、文号")  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="输出文件（默认 bulletin-周次.格式）"
)
@click.option("--issue", "issue_no", type=click.IntRange(1, 999), metavar="N", help="期号（默认为该周的 ISO 周序号）")
@click.option("--send", is_flag=True, help="同时作为通知发给联席办、召集人和各成员单位（成员单位的本单位情况在前）")
@click.option("--requirements-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="F",
              help="先把该文件（UTF-8，每段一行）保存为本周的下一步工作要求，空文件恢复默认；须同时用 --as 指明联席办调度员")  # fmt: skip
@click.option("--as", "as_user", metavar="USER", help="修改下一步工作要求的用户（联席办调度员或系统管理员）")
def report_bulletin(week: str | None, fmt: str, output: Path | None, issue_no: int | None, send: bool,
                    requirements_file: Path | None, as_user: str | None) -> None:  # fmt: skip
    """专项工作通报：一、总体情况；二、企业问题办理情况（分单位，按考核排名）；三、“散乱污”整治情况（分镇街）；
    四、供水供电供气及协办单位办理时效；五、超期事项；六、红黑榜；七、下一步工作要求。"""
    from cases.reports import parse_week_period, previous_week
    from notifications.bulletin_docx import bulletin_docx, bulletin_issue
    from notifications.documents import bulletin_html, bulletin_xlsx
    from workflow.clock import SHANGHAI

    with open_app() as app:
        week = (week or previous_week(app.clock.now())).strip().upper()
        parse_week_period(week)
        if requirements_file is not None:
            if not as_user:
                raise InvalidInput("--as", "修改下一步工作要求须用 --as USER 指明联席办调度员")
            try:
                text = requirements_file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("--requirements-file", f"文件“{requirements_file}”不是 UTF-8 编码的文本") from None
            saved = app.bulletin_requirements.save(week, text, app.users.actor(as_user))
            click.echo(f"已保存{week}的下一步工作要求（{'自定义文字' if saved['custom'] else '恢复默认文字'}）", err=fmt == "json")
        data = app.periodic.bulletin_data(week)
        if fmt == "json":
            if output is not None:
                import json

                output.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
                click.echo(f"已生成 {output}", err=True)
            else:
                print_json(data)
            return
        issue = bulletin_issue(week, app.notification_config, issue_no)
        numbers = {"issue_no": issue.issue_no, "doc_number": issue.doc_number}
        target = output or Path(f"bulletin-{week}.{fmt}")
        office = app.notification_config.office
        if fmt == "html":
            target.write_text(bulletin_html(app.templates, data, office, **numbers), encoding="utf-8")
        elif fmt == "docx":
            issued_on = app.clock.now().astimezone(SHANGHAI).date()
            target.write_bytes(bulletin_docx(data, office_name=office["name"], issued_on=issued_on, **numbers))
        else:
            target.write_bytes(bulletin_xlsx(data, **numbers))
        click.echo(
            f"已生成 {target}（第{issue.issue_no}期，{issue.doc_number}；{data['period']}，{len(data['rows'])} 个单位，"
            f"超期事项 {len(data['overdue_cases'])} 项）"
        )
        if send:
            result = app.periodic.bulletin(week)
            click.echo(f"已发送给 {result.recipients} 人")


@report_group.command("score")
@click.option("--period", required=True, metavar="P", help="2026-W49（周）、2026-10（月）、2026-Q4（季度）或 2026（年）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）")
@click.option("--format", "fmt", type=click.Choice(["xlsx"]), help="xlsx：写成 Excel 文件")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="输出文件（默认 score-期间.xlsx）")
def report_score(period: str, as_json: bool, fmt: str | None, output: Path | None) -> None:
    """考核：各单位按时签收率、按期办结率、满意率、退回率、重办率及超期、督办、挂牌扣分，排名与红黑榜。"""
    with open_app() as app:
        result = app.scoreboard.score(period)
        if as_json:
            print_json(result)
            return
        if fmt == "xlsx":
            from notifications.documents import score_xlsx

            target = output or Path(f"score-{result['period']}.xlsx")
            target.write_bytes(score_xlsx(result))
            click.echo(f"已生成 {target}（{result['period_label']}，{len(result['rows'])} 个单位）")
            return
        _print_score(result)


def _print_score(result: dict[str, Any]) -> None:
    from rich.table import Table

    from notifications.documents import SCORE_COLUMNS, score_cells

    table = Table(title=f"{result['period_label']}各单位考核得分（截至{result['as_of'][:10]}）")
    for header, _ in SCORE_COLUMNS:
        table.add_column(header)
    for row in result["rows"]:
        table.add_row(*(str(c) for c in score_cells(row)))
    console().print(table)
    names = {r["unit"]: r["unit_name"] for r in result["rows"]}
    click.echo(f"红榜：{'、'.join(names[u] for u in result['red']) or '—'}")
    click.echo(f"黑榜：{'、'.join(names[u] for u in result['black']) or '—'}")
