"""The command line imports a command when it runs it (``caseflow.cli.lazy``): ``caseflow --help``
lists every command with its own summary without importing any, and a command imports only
what it needs (no web server, scheduler or Excel for ``case show``; no database for ``--help`` or
``workflow graph``). Each check runs in a fresh interpreter."""

import json
import subprocess
import sys
import textwrap

import click
import pytest

from caseflow.cli import COMMANDS, cli

NEVER_FOR_HELP = ("sqlalchemy", "pydantic", "rich", "yaml", "cases", "notifications", "jinja2", "openpyxl",
                  "fastapi", "uvicorn", "apscheduler", "alembic", "httpx", "caseflow.app")  # fmt: skip
NOT_FOR_CASE_COMMANDS = ("openpyxl", "fastapi", "starlette", "uvicorn", "apscheduler", "alembic", "httpx",
                         "web", "scheduling", "caseflow.cli.ledger", "caseflow.cli.ops", "caseflow.cli.admin")  # fmt: skip


def modules_after(args: list[str]) -> set[str]:
    """The modules imported by running ``caseflow ARGS`` (up to parsing, and ``--help``)."""
    script = textwrap.dedent(f"""
        import json, sys
        from caseflow.cli import cli
        try:
            cli.main({args!r}, prog_name="caseflow", standalone_mode=False)
        except BaseException:
            pass
        print(json.dumps(sorted(sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_help_imports_no_command_and_no_heavy_library() -> None:
    modules = modules_after(["--help"])
    assert loaded(modules, NEVER_FOR_HELP) == []
    assert not [m for m in modules if m.startswith("caseflow.cli.") and m not in ("caseflow.cli.lazy",)]


def test_case_commands_import_their_module_only() -> None:
    modules = modules_after(["case", "show", "--help"])
    assert "caseflow.cli.cases" in modules
    assert loaded(modules, NOT_FOR_CASE_COMMANDS) == []


def test_workflow_graph_needs_no_database_library() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "caseflow", "workflow", "graph", "enterprise_issue"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.startswith("stateDiagram-v2")
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert loaded(imported, ("sqlalchemy", "sqlmodel", "alembic", "transitions", "jinja2")) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_registered_summary_is_the_commands_own(name: str) -> None:
    command = cli.load(name)
    assert command.name == name
    stand_in = click.Command(name, help=COMMANDS[name].summary)
    for limit in (20, 45, 60, 80, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_listing_is_the_one_click_would_print_with_every_command_imported(width: int) -> None:
    lazy = cli.get_help(click.Context(cli, info_name="caseflow", terminal_width=width, max_content_width=width))
    eager = click.Group(cli.name, help=cli.help, context_settings=cli.context_settings)
    for name in COMMANDS:
        eager.add_command(cli.load(name), name)
    context = click.Context(eager, info_name="caseflow", terminal_width=width, max_content_width=width)
    assert lazy == eager.get_help(context)
    assert sorted(COMMANDS) == cli.list_commands(click.Context(cli))
