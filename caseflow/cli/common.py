"""Shared pieces of the command line: building the app, error-to-exit-code mapping, output.

Every command imports this module: it imports only click and the error tree at the top; the app
(SQLAlchemy, the services), settings (pydantic) and rich are imported when a command uses them.
"""

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from workflow.clock import SHANGHAI
from workflow.errors import CaseflowError, InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from caseflow.app import App
    from config.settings import Settings

log = logging.getLogger("caseflow.cli")
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2

json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）")
as_option = click.option("--as", "as_user", metavar="USER", help="以该用户身份操作")


def console() -> "Console":
    """Standard output; wide when not a terminal, so that piped tables are not cut. Markup is
    off: text people typed (a title with ``[/b]``) is shown as it is, never interpreted."""
    from rich.console import Console

    out = Console(highlight=False, markup=False)
    return out if out.is_terminal else Console(highlight=False, markup=False, width=200)


def err_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def load_settings() -> "Settings":
    """The settings from the environment; a bad ``CASEFLOW_*`` value is refused (exit 2)."""
    from pydantic import ValidationError

    from config.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"CASEFLOW_{str(first['loc'][0]).upper()}", _setting_error(first)) from None


def _setting_error(error: Any) -> str:
    """Pydantic's complaint about a setting, in Chinese where it has a usual form."""
    kind, context = error.get("type"), error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"不能小于 {context['ge']}（现为 {error.get('input')}）"
    if kind == "less_than_equal":
        return f"不能大于 {context['le']}（现为 {error.get('input')}）"
    if kind == "int_parsing":
        return f"应为整数（现为 {error.get('input')!r}）"
    if kind == "bool_parsing":
        return f"应为 true 或 false（现为 {error.get('input')!r}）"
    return str(error["msg"])


@contextmanager
def open_app(*, needs_schema: bool = True) -> Iterator["App"]:
    """Build the app from the environment; refuse (exit 2) if the database is not initialised
    (a SQLite file that does not exist is not created by asking)."""
    from caseflow.app import build
    from cases import migrate

    settings = load_settings()
    app = build(settings)
    try:
        if needs_schema and not migrate.is_current(app.db):
            raise CaseflowError(
                f"数据库 {settings.database_url} 尚未初始化或版本过旧，请先运行 caseflow init",
                {"database_url": settings.database_url},
            )
        yield app
    finally:
        app.close()


def _default(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(SHANGHAI).isoformat()  # people read Asia/Shanghai, never UTC
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=_default))


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` pairs; a malformed or repeated key is refused."""
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput("field", f"“{pair}”格式不对，应为 KEY=VALUE")
        if key in fields:
            raise InvalidInput(key, f"字段“{key}”重复给出")
        fields[key] = value
    return fields


def run_guarded(command: click.Command, args: list[str] | None = None) -> int:
    """Run the click command; map refusals to exit 2 and surprises to exit 1."""
    if os.environ.get("CASEFLOW_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    wants_json = "--json" in (args if args is not None else sys.argv[1:])
    try:
        command.main(args=args, prog_name="caseflow", standalone_mode=False)
        return EXIT_OK
    except CaseflowError as exc:
        if wants_json and not getattr(exc, "reported", False):
            print_json(exc.to_dict())
        click.echo(f"错误：{exc.message}", err=True)
        return EXIT_REFUSED
    except click.exceptions.Abort:
        click.echo("已取消", err=True)
        return EXIT_REFUSED
    except click.ClickException as exc:
        click.echo(f"错误：{exc.format_message()}", err=True)
        return EXIT_REFUSED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say what failed
        log.debug("unexpected failure", exc_info=True)
        click.echo(f"意外错误（{type(exc).__name__}）：{exc}", err=True)
        return EXIT_FAILED
