"""``caseflow case …``: register, advance, complete items (declare them 不适用, approve, confirm),
show, list and history."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from caseflow.cli.common import as_option, console, json_option, open_app, parse_fields, print_json
from workflow.errors import InvalidInput
from workflow.values import value_text

if TYPE_CHECKING:  # the commands build the app (caseflow.cli.common.open_app), which imports these
    from caseflow.app import App
    from cases.service import Upload
    from workflow.org import Actor

field_option = click.option("--field", "fields", multiple=True, metavar="KEY=VALUE", help="字段，可重复")
comment_option = click.option("--comment", help="备注")
evidence_option = click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="证明材料文件，可重复",
)
version_option = click.option("--expected-version", type=int, help="期望的案件版本号（乐观锁）")
LEVEL_LABELS = {
    "normal": "正常",
    "warned": "临期预警",
    "overdue": "逾期催办",
    "supervised": "督办",
    "listed": "挂牌督办",
}


@click.group("case")
def case_group() -> None:
    """案件：登记、办理、查看。"""


def _actor(app: "App", username: str | None) -> "Actor":
    if not username:
        raise InvalidInput("--as", "请用 --as USER 指明以哪个用户身份操作")
    return app.users.actor(username)


def _uploads(paths: tuple[Path, ...]) -> list["Upload"]:
    from cases.service import Upload

    uploads = []
    for path in paths:
        if not path.is_file():
            raise InvalidInput("evidence", f"文件不存在：{path}")
        uploads.append(Upload(path.name, path.read_bytes()))
    return uploads


@case_group.command("new")
@click.argument("case_type", metavar="TYPE")
@as_option
@field_option
@comment_option
@json_option
def new(case_type: str, as_user: str | None, fields: tuple[str, ...], comment: str | None, as_json: bool) -> None:
    """登记新案件。TYPE：案件类型代码（如 enterprise_issue；全部类型见 caseflow workflow check）。"""
    with open_app() as app:
        view = app.cases.create(case_type, _actor(app, as_user), parse_fields(fields), comment=comment)
        _output(view, as_json, f"已登记 {view['number']}（{view['state_label']}）")


@case_group.command("advance")
@click.argument("case_ref", metavar="CASE")
@click.argument("trigger")
@as_option
@field_option
@comment_option
@evidence_option
@version_option
@json_option
def advance(
    case_ref: str, trigger: str, as_user: str | None, fields: tuple[str, ...], comment: str | None,
    evidence: tuple[Path, ...], expected_version: int | None, as_json: bool,
) -> None:  # fmt: skip
    """对案件执行一个操作（TRIGGER，如 assign、accept）。"""
    with open_app() as app:
        actor = _actor(app, as_user)
        view = app.cases.advance(
            case_ref, trigger, actor, parse_fields(fields), comment=comment,
            expected_version=expected_version, evidence=_uploads(evidence),
        )  # fmt: skip
        _output(
            view,
            as_json,
            f"{view['number']}：{trigger} → {view['state']}（{view['state_label']}），版本 {view['version']}",
        )


@case_group.command("item")
@click.argument("case_ref", metavar="CASE")
@click.argument("item")
@as_option
@evidence_option
@field_option
@comment_option
@version_option
@json_option
def item(
    case_ref: str, item: str, as_user: str | None, evidence: tuple[Path, ...], fields: tuple[str, ...],
    comment: str | None, expected_version: int | None, as_json: bool,
) -> None:  # fmt: skip
    """完成两断三清事项、整改事项或验收签字（ITEM，如 cut_power、town_check）。"""
    with open_app() as app:
        actor = _actor(app, as_user)
        view = app.cases.complete_item(
            case_ref, item, actor, parse_fields(fields), comment=comment,
            expected_version=expected_version, evidence=_uploads(evidence),
        )  # fmt: skip
        label = next((i["label"] for i in view["items"] if i["key"] == item), item)
        _output(view, as_json, f"{view['number']}：“{label}”已完成，版本 {view['version']}")


ITEM_COMMANDS = {
    "waive-item": "waive",
    "approve-waiver": "approve_waiver",
    "reject-waiver": "reject_waiver",
    "confirm-item": "confirm",
    "reject-item": "reject",
}
"""``caseflow case <command> CASE ITEM`` → the decision on the item (``CaseService.decide_item``)."""
ITEM_HELP = {
    "waive": "申请事项不适用（ITEM，如 cut_water），须 --reason 说明理由，可附 --evidence。",
    "approve_waiver": "批准事项的不适用申请（联席办调度员）。",
    "reject_waiver": "驳回事项的不适用申请（联席办调度员），须 --reason；事项退回执行单位办理。",
    "confirm": "确认属地上报办结的事项（如营业执照，由发证部门经办人确认）。",
    "reject": "退回属地上报办结的事项（发证部门经办人），须 --reason；事项退回属地重办。",
}
DONE_WORDS = {
    "waive": "已申请不适用，待审批",
    "approve_waiver": "已批准为不适用",
    "reject_waiver": "不适用申请已驳回，退回执行单位办理",
    "confirm": "已确认办结",
    "reject": "已退回属地重办",
}


def _item_command(name: str, decision: str) -> None:
    @case_group.command(name, help=ITEM_HELP[decision])
    @click.argument("case_ref", metavar="CASE")
    @click.argument("item")
    @as_option
    @click.option("--reason", help="理由")
    @evidence_option
    @comment_option
    @version_option
    @json_option
    def command(
        case_ref: str, item: str, as_user: str | None, reason: str | None, evidence: tuple[Path, ...],
        comment: str | None, expected_version: int | None, as_json: bool,
    ) -> None:  # fmt: skip
        with open_app() as app:
            actor = _actor(app, as_user)
            view = app.cases.decide_item(
                case_ref, item, decision, actor, reason, comment=comment, expected_version=expected_version,
                evidence=_uploads(evidence),
            )  # fmt: skip
            label = next((i["label"] for i in view["items"] if i["key"] == item), item)
            _output(view, as_json, f"{view['number']}：“{label}”{DONE_WORDS[decision]}，版本 {view['version']}")


for _name, _decision in ITEM_COMMANDS.items():
    _item_command(_name, _decision)


@case_group.command("show")
@click.argument("case_ref", metavar="CASE")
@as_option
@json_option
def show(case_ref: str, as_user: str | None, as_json: bool) -> None:
    """查看案件详情。"""
    with open_app() as app:
        actor = app.users.actor(as_user) if as_user else None
        view = app.cases.show(case_ref, actor)
        if as_json:
            print_json(view)
        else:
            _print_case(app, view)


@case_group.command("list")
@click.option("--type", "case_type", metavar="T", help="案件类型")
@click.option("--state", metavar="S", help="状态")
@click.option("--department", metavar="DEPT", help="单位代码或名称（主办单位、属地或事项执行单位）")
@click.option("--overdue", is_flag=True, help="只看已逾期")
@click.option("--page", default=1, show_default=True, type=int)
@click.option("--page-size", default=50, show_default=True, type=int)
@json_option
def list_command(
    case_type: str | None,
    state: str | None,
    department: str | None,
    overdue: bool,
    page: int,
    page_size: int,
    as_json: bool,
) -> None:
    """列出案件。"""
    with open_app() as app:
        result = app.cases.list_cases(
            case_type=case_type, state=state, department=department, overdue=overdue, page=page, page_size=page_size
        )
        if as_json:
            print_json(result)
            return
        table = Table(title=f"案件（共 {result['total']} 件，第 {page} 页）")
        table.add_column("编号", no_wrap=True)
        for column in ("类型", "标题", "状态", "主办/属地", "期限", "督办"):
            table.add_column(column)
        for c in result["items"]:
            unit = c["lead_unit_name"] or app.org.name(c["town"] or "")
            table.add_row(
                c["number"], c["type_label"], c["title"], c["state_label"], unit,
                c["due_date"] or "—", LEVEL_LABELS.get(c["supervision"], c["supervision"]),
            )  # fmt: skip
        console().print(table)


@case_group.command("history")
@click.argument("case_ref", metavar="CASE")
@json_option
def history(case_ref: str, as_json: bool) -> None:
    """查看案件的全部办理记录（只增不改，哈希链）。"""
    with open_app() as app:
        events = app.cases.history(case_ref)
        if as_json:
            print_json(events)
            return
        table = Table(title=f"{case_ref} 办理记录")
        for column in ("序号", "时间", "操作人", "操作", "状态变化", "备注", "哈希"):
            table.add_column(column)
        for e in events:
            change = f"{e['from_state'] or '—'} → {e['to_state']}"
            table.add_row(
                str(e["seq"]), e["at"][:19], e["actor"], e["trigger"], change, e["comment"] or "", e["hash"][:12]
            )
        console().print(table)


@click.command("todo")
@click.option("--as", "as_user", metavar="USER", required=True, help="以该用户身份查看（必填）")
@json_option
def todo(as_user: str, as_json: bool) -> None:
    """我的待办：本单位此刻可以办理的责任事项，最紧急的在前。"""
    with open_app() as app:
        result = app.cases.todo(app.users.actor(as_user), limit=None)
        if as_json:
            print_json(result["items"])
            return
        title = f"{result['unit_name']}的待办（{len(result['items'])} 项）"
        table = Table(title=title)
        for column in ("编号", "标题", "责任事项", "责任单位", "期限", "督办"):
            table.add_column(column, no_wrap=column in ("编号", "期限"))
        for o in result["items"]:
            due = (o["due_date"] or "—") + ("（已逾期）" if o["overdue"] else "")
            table.add_row(o["number"], o["title"], o["label"], o["unit_name"], due, o["level_label"])
        console().print(table)
        if result["waiting_on_others"]:
            waiting = Table(title=f"等待其他单位（{len(result['waiting_on_others'])} 项）")
            for column in ("编号", "责任事项", "责任单位", "期限", "督办"):
                waiting.add_column(column)
            for o in result["waiting_on_others"]:
                waiting.add_row(o["number"], o["label"], o["unit_name"], o["due_date"] or "—", o["level_label"])
            console().print(waiting)


def _output(view: dict[str, Any], as_json: bool, message: str) -> None:
    if as_json:
        print_json(view)
    else:
        click.echo(message)


def _print_case(app: "App", view: dict[str, Any]) -> None:
    spec = app.definitions.specs.get(view["type"])
    out = console()
    out.print(f"{view['number']}  {view['title']}", style="bold")
    out.print(
        f"类型：{view['type_label']}    状态：{view['state_label']}（{view['state']}）    版本：{view['version']}"
    )
    level = LEVEL_LABELS.get(view["supervision"], view["supervision"])
    due = view["due_date"] or "—"
    out.print(f"期限：{due}{'（暂定）' if view['due_provisional'] else ''}    督办：{level}")
    table = Table(show_header=False, box=None)
    shown_fields = view["fields"]
    ordered = [k for k in (spec.fields if spec else ()) if k in shown_fields] + [k for k in shown_fields if not spec or k not in spec.fields]
    for key in ordered:  # in the definition's order, values as people read them
        value = shown_fields[key]
        if spec and key in spec.fields:
            table.add_row(spec.fields[key].label, value_text(spec, app.org, key, value))
        else:
            table.add_row(key, "、".join(map(str, value)) if isinstance(value, list) else str(value))
    out.print(table)
    if view["items"]:
        items = Table(title="事项")
        items.add_column("事项", no_wrap=True)
        for column in ("名称", "执行单位", "状态", "完成人", "时间", "材料"):
            items.add_column(column)
        for i in view["items"]:
            items.add_row(
                i["key"], i["label"], app.org.name(i["executor"] or ""), i.get("status_label") or "",
                i["done_by"] or "", (i["done_at"] or "")[:16], str(len(i["evidence"])),
            )  # fmt: skip
        out.print(items)
    for o in view.get("opinions") or []:
        given = f"{o['text'] or ''}（{o['unit_name']} {o['by']}，{(o['at'] or '')[:16].replace('T', ' ')}）"
        out.print(f"{o['label']}：{given if o['given'] else '尚未提出'}")
    allowed = "、".join(view["allowed_triggers"]) or "无"
    out.print(f"可执行的操作：{allowed}")
    if view["allowed_items"]:
        out.print(f"可办理的事项：{'、'.join(view['allowed_items'])}（caseflow case item {view['number']} ITEM …）")
    for d in view.get("item_decisions") or []:
        command = next(name for name, decision in ITEM_COMMANDS.items() if decision == d["decision"])
        out.print(f"可决定：caseflow case {command} {view['number']} {d['item']} …")
