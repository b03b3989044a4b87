"""``caseflow init``, ``user``, ``audit`` and ``workflow`` commands."""

import sys
from pathlib import Path

import click
from rich.table import Table

from caseflow.cli.common import console, err_console, json_option, load_settings, open_app, print_json
from caseflow.cli.workflow_migrate import workflow_migrate
from workflow.errors import CaseflowError, InvalidInput
from workflow.graph import mermaid
from workflow.loader import load_workflow, load_workflow_files
from workflow.org import load_organisation

PROGRESS_THRESHOLD = 2000


@click.command("init")
@click.option("--demo", is_flag=True, help="同时添加演示用户和演示案件（可重复执行）")
def init(demo: bool) -> None:
    """创建或升级数据库结构，载入配置。"""
    from caseflow.demo import DEMO_PASSWORD, load_demo

    with open_app(needs_schema=False) as app:
        app.migrate()
        with app.db.write() as conn:
            app.definitions.register(conn, app.clock.now())
        click.echo(f"数据库已就绪：{app.settings.database_url}")
        click.echo(f"流程定义：{'、'.join(f'{s.type}@{s.version[:12]}' for s in app.definitions.specs.values())}")
        if demo:
            created = load_demo(app)
            click.echo(f"演示数据：新建用户 {created['users']} 个、案件 {created['cases']} 件（已存在的不重复创建）")
            click.echo(
                f"演示用户的密码均为：{DEMO_PASSWORD}（如 office、power_handler、kongcheng_handler、supervisor）"
            )
            click.echo("试试：caseflow case list    caseflow case show QY-2026-00001 --as power_handler")


@click.group("user")
def user_group() -> None:
    """用户管理。"""


@user_group.command("add")
@click.argument("name")
@click.option("--department", required=True, metavar="DEPT", help="单位代码或中文名称")
@click.option("--role", "roles", multiple=True, required=True, metavar="ROLE", help="角色，可重复")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码")
@click.option("--email", metavar="ADDRESS")
@click.option("--phone", metavar="NUMBER")
@click.option("--display-name", metavar="NAME", help="显示名称（如中文姓名）")
@click.option("--channel", "channels", multiple=True, metavar="CHANNEL", help="通知渠道 inapp/email/sms，可重复（默认 inapp、email）")
@json_option
def user_add(
    name: str, department: str, roles: tuple[str, ...], password_stdin: bool, email: str | None,
    phone: str | None, display_name: str | None, channels: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """添加用户。"""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("password", "标准输入中没有读到密码")
    with open_app() as app:
        view = app.users.add(
            name, department, list(roles), password=password, email=email, phone=phone, display_name=display_name,
            channels=list(channels) if channels else None,
        )
        if as_json:
            print_json(view)
        else:
            click.echo(f"已添加用户 {view['username']}（{view['department_name']}，角色：{'、'.join(view['roles'])}）")


@user_group.command("channels")
@click.argument("name")
@click.option("--channel", "channels", multiple=True, required=True, metavar="CHANNEL", help="inapp/email/sms，可重复")
@json_option
def user_channels(name: str, channels: tuple[str, ...], as_json: bool) -> None:
    """设置用户接收通知的渠道（站内信始终开启）。"""
    with open_app() as app:
        view = app.users.set_channels(name, list(channels))
        if as_json:
            print_json(view)
        else:
            click.echo(f"{view['username']} 的通知渠道：{'、'.join(view['channels'])}")


def _set_active(name: str, active: bool, as_json: bool) -> None:
    with open_app() as app:
        view = app.users.set_active(name, active)
    if as_json:
        print_json(view)
    elif not view["changed"]:
        click.echo(f"用户 {view['username']} 已是{'启用' if active else '停用'}状态，未作改动")
    elif active:
        click.echo(f"已启用用户 {view['username']}（{view['department_name']}）")
    else:
        click.echo(
            f"已停用用户 {view['username']}（{view['department_name']}），注销其登录凭据 {view['revoked_tokens']} 个；"
            "该用户不能再登录、办理案件或接收通知"
        )


@user_group.command("deactivate")
@click.argument("name")
@json_option
def user_deactivate(name: str, as_json: bool) -> None:
    """停用用户：注销其全部登录凭据，不能再登录、办理或接收通知（可重复执行）。"""
    _set_active(name, False, as_json)


@user_group.command("activate")
@click.argument("name")
@json_option
def user_activate(name: str, as_json: bool) -> None:
    """重新启用已停用的用户（需重新登录）。"""
    _set_active(name, True, as_json)


@user_group.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """列出用户。"""
    with open_app() as app:
        users = app.users.all()
        if as_json:
            print_json(users)
            return
        table = Table(title=f"用户（{len(users)}）")
        for column in ("用户名", "姓名", "单位", "角色", "状态", "可登录"):
            table.add_column(column)
        for u in users:
            table.add_row(
                u["username"],
                u["display_name"],
                u["department_name"],
                "、".join(u["roles"]),
                "启用" if u["active"] else "停用",
                "是" if u["can_sign_in"] and u["active"] else "否",
            )
        console().print(table)


@click.group("audit")
def audit_group() -> None:
    """审计。"""


@audit_group.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """逐案重算哈希链；全部完好时退出码为 0，否则为 2 并指出第一处断点。"""
    from rich.progress import Progress

    from cases import audit

    with open_app() as app, app.db.read() as conn:
        total = audit.count_cases(conn)
        show_progress = not as_json and total >= PROGRESS_THRESHOLD
        with Progress(console=err_console(), transient=True, disable=not show_progress) as progress:
            task = progress.add_task("核验哈希链", total=total)
            result = audit.verify(conn, lambda n: progress.advance(task, n))
    broken = result.first_break
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "cases": result.cases,
                "events": result.events,
                "first_break": None
                if broken is None
                else {"case": broken.case, "seq": broken.seq, "reason": broken.reason},
            }
        )
    elif broken is None:
        click.echo(f"哈希链完好：{result.cases} 件案件，{result.events} 条记录")
    if broken is not None:
        error = CaseflowError(
            f"哈希链断裂：案件 {broken.case} 第 {broken.seq} 条记录（{broken.reason}）",
            {"case": broken.case, "seq": broken.seq, "reason": broken.reason},
        )
        error.reported = True  # type: ignore[attr-defined]  # the --json report above says it already
        raise error


@click.group("workflow")
def workflow_group() -> None:
    """流程定义。"""


workflow_group.add_command(workflow_migrate)


@workflow_group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def workflow_check(directory: Path | None) -> None:
    """校验流程定义（默认为当前配置；DIR 可为含 workflows/ 的配置目录或定义文件所在目录）。
    只读取定义文件，不需要数据库。"""
    settings = load_settings()  # definitions only: no database is opened (or created)
    org = load_organisation(settings.departments_file())
    if directory is None:
        files = settings.workflow_files()
    else:
        if not directory.is_dir():
            raise InvalidInput("DIR", f"目录不存在：{directory}")
        base = directory / "workflows" if (directory / "workflows").is_dir() else directory
        files = sorted(base.glob("*.yaml"))
        org_file = directory / "departments.yaml"
        if org_file.is_file():
            org = load_organisation(org_file)
        if not files:
            raise InvalidInput("DIR", f"{base} 中没有 *.yaml 流程定义")
    from cases.bulletin_parts import check_definition as bulletin_serves
    from ledger import check_definition as ledger_serves
    from notifications import check_definition as notifications_serve

    override = settings.template_override_dir()
    for path in files:
        spec = load_workflow(path, org)
        # every consumer says whether it can serve the type: the ledger, the notices, the 通报
        ledger_serves(spec, org)
        bulletin_serves(spec, org)
        notifications_serve(spec, org, [override] if override is not None else [])
        click.echo(
            f"通过 {path}：{spec.type}（{spec.name}）{len(spec.states)} 个状态，{len(spec.triggers)} 个操作，版本 {spec.version[:12]}"
        )


@workflow_group.command("graph")
@click.argument("case_type", metavar="TYPE")
def workflow_graph(case_type: str) -> None:
    """输出 Mermaid 状态图（只读取定义文件，不需要数据库）。"""
    settings = load_settings()
    specs = load_workflow_files(settings.workflow_files(), load_organisation(settings.departments_file()))
    if case_type not in specs:  # the message of Definitions.current, without building rulebooks
        raise InvalidInput("type", f"未知案件类型“{case_type}”；可选：{'、'.join(specs)}")
    click.echo(mermaid(specs[case_type]))
