"""The ``caseflow`` command line: tables for people, ``--json`` for scripts.

Exit status: 0 done; 2 refused (bad input, not allowed, not found, conflict) with a one-line
reason on stderr and nothing changed; 1 unexpected failure. Commands call services only.
"""

import sys

import click

from caseflow.cli.admin import audit_group, init, user_group, workflow_group
from caseflow.cli.calendar import calendar_group
from caseflow.cli.cases import case_group
from caseflow.cli.common import run_guarded
from caseflow.cli.ledger import export_group, import_group
from caseflow.cli.notify import notify_group, report_group
from caseflow.cli.ops import scheduler, serve, sweep
from caseflow.cli.templates import templates_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """caseflow —— 闭环督办案件引擎（企业问题交办、散乱污整治）。"""


cli.add_command(init)
cli.add_command(user_group)
cli.add_command(case_group)
cli.add_command(audit_group)
cli.add_command(workflow_group)
cli.add_command(sweep)
cli.add_command(scheduler)
cli.add_command(serve)
cli.add_command(notify_group)
cli.add_command(report_group)
cli.add_command(templates_group)
cli.add_command(calendar_group)
cli.add_command(import_group)
cli.add_command(export_group)


def main() -> None:
    sys.exit(run_guarded(cli))
