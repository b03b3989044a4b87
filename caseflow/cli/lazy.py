"""A click group whose subcommands are imported when they are run, not when ``caseflow`` starts
(the pattern of click's documentation, "Lazily Loading Subcommands"): ``caseflow --help`` imports
no command module, ``caseflow case show`` only ``caseflow.cli.cases``. The listing in ``--help``
shows each command's summary as registered here, so that asking for help imports nothing;
``tests/unit/test_cli_lazy.py`` checks that these summaries are the commands' own.
"""

import importlib
from collections.abc import Mapping
from gettext import gettext as _
from typing import NamedTuple

import click


class LazyCommand(NamedTuple):
    target: str
    """``module:attribute`` of the click command."""
    summary: str
    """The first paragraph of the command's help (shown by ``caseflow --help``)."""


class LazyGroup(click.Group):
    def __init__(self, *args: object, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(self.load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def load(self, cmd_name: str) -> click.Command:
        """Import a registered command (once: ``get_command`` keeps it)."""
        module_name, _, attribute = self.lazy_commands[cmd_name].target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name].target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of ``--help``, from the registered summaries of the commands not
        imported yet (the same text click would take from their help)."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None and name in self.lazy_commands:
                command = click.Command(name, help=self.lazy_commands[name].summary)
            if command is None or command.hidden:
                continue
            rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])
