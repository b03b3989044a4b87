"""``caseflow workflow migrate TYPE --to VERSION [--map old=new …] [--dry-run] [--as USER]``:
move the running cases of a type to another definition version (``cases.definition_migration``
does the work; this module parses the options and prints the plan)."""

import getpass

import click

from caseflow.cli.common import json_option, open_app, print_json


@click.command("migrate")
@click.argument("case_type", metavar="TYPE")
@click.option("--to", "to", required=True, metavar="VERSION",
              help="目标版本：版本号（或其至少8位的前缀），或 current（当前配置中的定义）")  # fmt: skip
@click.option(
    "--map", "pairs", multiple=True, metavar="OLD=NEW", help="把旧版本的状态 OLD 映射到目标版本的状态 NEW，可重复"
)
@click.option("--dry-run", is_flag=True, help="只列出将迁移的案件，不作改动")
@click.option("--as", "as_user", metavar="USER", help="以该系统管理员的身份操作（记入每件案件的迁移记录）")
@json_option
def workflow_migrate(
    case_type: str, to: str, pairs: tuple[str, ...], dry_run: bool, as_user: str | None, as_json: bool
) -> None:
    """把某类案件中办理中的案件迁移到另一个流程定义版本（已办结的不迁移）。

    目标版本中有同名状态的案件保持原状态，其余状态须用 --map 指定；任何一件办理中的案件无处可去时
    整个迁移被拒绝，不作任何改动。每件迁移的案件记一条“迁移流程版本”记录（哈希链），
    其责任清单按新版本重新核定；全部案件在一个事务中迁移。"""
    from cases.definition_migration import DefinitionMigration, parse_mapping

    mapping = parse_mapping(pairs)
    with open_app() as app:
        actor = app.users.actor(as_user) if as_user else None
        requested_by = actor.username if actor is not None else f"命令行（{getpass.getuser()}）"
        migration = DefinitionMigration(app.db, app.definitions, app.clock, app.calendar.calendar)
        plan = migration.migrate(case_type, to, mapping, dry_run=dry_run, actor=actor, requested_by=requested_by)
    if as_json:
        print_json(plan.to_dict())
        return
    version = plan.to_version[:12]
    if not plan.moves:
        click.echo(f"没有需要迁移的案件：{case_type} 办理中的案件都已在版本 {version}")
    else:
        head = "试运行（未作任何改动）：将迁移" if dry_run else "已迁移"
        click.echo(f"{head} {plan.total} 件 {case_type} 案件到版本 {version}：")
        for move in plan.moves:
            click.echo(
                f"  版本 {move.from_version[:12]}  {move.from_state}（{move.from_label}）→ "
                f"{move.to_state}（{move.to_label}）  {len(move.cases)} 件：{'、'.join(move.cases)}"
            )
    if plan.closed_left:
        click.echo(f"已办结的 {plan.closed_left} 件留在原版本，不迁移")
    if plan.already:
        click.echo(f"已在版本 {version} 的办理中案件 {plan.already} 件，无需迁移")
