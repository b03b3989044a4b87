"""``caseflow calendar show YEAR`` and ``caseflow calendar add DATE (--holiday | --workday)``.

``add`` is audited, so it needs an actor: ``--as USER``, or the ``CASEFLOW_USER`` environment
variable; the user must hold the ``admin`` role. Bad input exits 2 with a one-line Chinese reason.
"""

from collections.abc import Iterator
from itertools import groupby
from typing import Any

import click

from caseflow.cli.common import json_option, open_app, print_json
from cases.calendar import KIND_LABELS, SOURCE_LABELS, UNKNOWN_YEAR_NOTE
from workflow.errors import InvalidInput

USER_ENV = "CASEFLOW_USER"


@click.group("calendar")
def calendar_group() -> None:
    """工作日历：节假日与调休上班日。"""


@calendar_group.command("show")
@click.argument("year", metavar="YEAR")
@json_option
def calendar_show(year: str, as_json: bool) -> None:
    """按月列出某年的节假日、调休上班日和工作日天数。"""
    if not year.strip().isdigit():
        raise InvalidInput("YEAR", f"“{year}”不是年份，请写四位数字（如 2026）")
    with open_app() as app:
        view = app.calendar.show(int(year))
    if as_json:
        print_json(view)
        return
    for line in render_year(view):
        click.echo(line)


@calendar_group.command("add")
@click.argument("day", metavar="DATE")
@click.option("--holiday", is_flag=True, help="登记为节假日（放假）")
@click.option("--workday", is_flag=True, help="登记为调休上班日")
@click.option("--name", metavar="NAME", help="节日名称，如 元旦、春节、国庆节")
@click.option(
    "--as",
    "as_user",
    metavar="USER",
    envvar=USER_ENV,
    help=f"操作人（须为管理员）；默认取环境变量 {USER_ENV}",
)
@json_option
def calendar_add(day: str, holiday: bool, workday: bool, name: str | None, as_user: str | None, as_json: bool) -> None:
    """登记一天为节假日或调休上班日（仅管理员；记入变更记录）。"""
    if holiday == workday:
        raise InvalidInput("--holiday/--workday", "请给出 --holiday 或 --workday 之一（只能一个）")
    if not name or not name.strip():
        raise InvalidInput("--name", "请用 --name 给出节日名称（如 元旦、春节、国庆节）")
    if not as_user:
        raise InvalidInput("--as", f"请用 --as USER 或环境变量 {USER_ENV} 指明操作人（须为管理员）")
    with open_app() as app:
        actor = app.users.actor(as_user)
        change, recomputed = app.add_calendar_day(day, "holiday" if holiday else "workday", name, actor)
    if as_json:
        print_json({**change.to_dict(), "recomputed": recomputed})
        return
    for line in render_change(change.to_dict()):
        click.echo(line)
    if recomputed:
        click.echo(f"已重新计算 {len(recomputed)} 件案件的期限（见各案办理记录）。")


def render_change(change: dict[str, Any]) -> Iterator[str]:
    """What ``calendar add`` says it did."""
    was = (
        f"{KIND_LABELS[change['previous_kind']]}“{change['previous_name']}”"
        f"（{SOURCE_LABELS[change['previous_source']]}）"
        if change["previous_kind"]
        else "普通" + ("工作日" if change["weekday"] not in ("星期六", "星期日") else "休息日")
    )
    yield (
        f"已将 {change['date']}（{change['weekday']}）"
        f"登记为{KIND_LABELS[change['kind']]}“{change['name']}”，"
        f"原为{was}；操作人 {change['actor']}"
    )
    if change["year_made_known"]:
        year = change["date"][:4]
        yield f"{year} 年此前无官方数据，现已标为已有数据：请录入该年全部节假日与调休上班日。"


def render_year(view: dict[str, Any]) -> Iterator[str]:
    """A month-by-month listing in Chinese."""
    year = view["year"]
    yield f"{year} 年工作日历：全年 {view['days']} 天，工作日 {view['working_days']} 天"
    if not view["known"]:
        yield UNKNOWN_YEAR_NOTE.format(year=year)
    else:
        yield "数据来源：" + "、".join(label for key, label in SOURCE_LABELS.items() if key in view["sources"])
    entries = [("放假", e) for e in view["holidays"]] + [("调休上班", e) for e in view["workdays"]]
    if not entries:
        yield "（该年没有登记节假日或调休上班日）"
        return
    by_month = sorted(entries, key=lambda item: item[1]["date"])
    for month, items in groupby(by_month, key=lambda item: int(item[1]["date"][5:7])):
        yield f"{month}月"
        month_items = list(items)
        for label in ("放假", "调休上班"):
            runs = _runs([e for kind, e in month_items if kind == label])
            if runs:
                yield f"  {label}：" + "；".join(runs)


def _day(entry: dict[str, Any]) -> str:
    """``3日（六）``: the day of the month and the short weekday (星期六 → 六)."""
    return f"{int(entry['date'][8:10])}日（{entry['weekday'][-1]}）"


def _runs(entries: list[dict[str, Any]]) -> list[str]:
    """Consecutive days with the same name and source as one ``1日（四）至3日（六） 元旦``."""
    runs: list[list[dict[str, Any]]] = []
    for entry in entries:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and int(entry["date"][8:10]) == int(last["date"][8:10]) + 1
            and (entry["name"], entry["source"]) == (last["name"], last["source"])
        ):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    texts = []
    for run in runs:
        first, final = run[0], run[-1]
        span = _day(first) if len(run) == 1 else f"{_day(first)}至{_day(final)}"
        admin = f"〔管理员 {first['created_by']} 录入〕" if first["source"] == "admin" else ""
        texts.append(f"{span} {first['name']}{admin}")
    return texts
