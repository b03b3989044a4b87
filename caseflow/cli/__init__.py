"""The ``caseflow`` command line: tables for people, ``--json`` for scripts.

Exit status: 0 done; 2 refused (bad input, not allowed, not found, conflict) with a one-line
reason on stderr and nothing changed; 1 unexpected failure. Commands call services only.

Commands are imported when they are run (``caseflow.cli.lazy``): starting ``caseflow`` imports
click and this package, a command only what it needs (the web server, the scheduler, Excel…).
"""

import sys

import click

from caseflow.cli.lazy import LazyCommand, LazyGroup

COMMANDS = {
    "init": LazyCommand("caseflow.cli.admin:init", "创建或升级数据库结构，载入配置。"),
    "user": LazyCommand("caseflow.cli.admin:user_group", "用户管理。"),
    "case": LazyCommand("caseflow.cli.cases:case_group", "案件：登记、办理、查看。"),
    "todo": LazyCommand("caseflow.cli.cases:todo", "我的待办：本单位此刻可以办理的责任事项，最紧急的在前。"),
    "audit": LazyCommand("caseflow.cli.admin:audit_group", "审计。"),
    "workflow": LazyCommand("caseflow.cli.admin:workflow_group", "流程定义。"),
    "sweep": LazyCommand(
        "caseflow.cli.ops:sweep", "执行此刻到期的一切：督办升级（临期→逾期→督办→挂牌）、回头看到期等。"
    ),
    "scheduler": LazyCommand(
        "caseflow.cli.ops:scheduler", "单独运行调度器（生产环境，PostgreSQL）；多台机器同时运行时只有一台在巡检。"
    ),
    "housekeeping": LazyCommand(
        "caseflow.cli.ops:housekeeping", "清理过期数据：幂等记录、失效令牌、超过保留期的登录记录、孤立的证明材料文件。"
    ),
    "serve": LazyCommand("caseflow.cli.ops:serve", "运行网页和 HTTP API；在 SQLite 上同时在本进程内运行调度器。"),
    "notify": LazyCommand("caseflow.cli.notify:notify_group", "通知：收件箱、发送队列、死信。"),
    "report": LazyCommand("caseflow.cli.notify:report_group", "报表。"),
    "templates": LazyCommand("caseflow.cli.templates:templates_group", "通知模板：校验与预览。"),
    "calendar": LazyCommand("caseflow.cli.calendar:calendar_group", "工作日历：节假日与调休上班日。"),
    "import": LazyCommand("caseflow.cli.ledger:import_group", "导入：台账（Excel）。"),
    "export": LazyCommand("caseflow.cli.ledger:export_group", "导出：台账模板、台账、办理记录（Excel）。"),
}
"""Command name → where it lives and its summary (the first paragraph of its help)."""


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """caseflow —— 闭环督办案件引擎（企业问题交办、散乱污整治）。"""


def main() -> None:
    from caseflow.cli.common import run_guarded

    sys.exit(run_guarded(cli))
