"""Ledger (台账) import and export: a clerk's workbook in, cases out, and back — for any case type.

``LedgerService`` is the one service the CLI, the API, the pages and the bench use. It composes
the import (``ledger.importer.LedgerImport``), the export (``ledger.export.LedgerExport``) and the
template (``ledger.template``), which share one ``ledger.catalog.Catalog`` (each definition
version's ledger and replay paths). Import reads the sheet, validates every row and *replays* it
through the definition's own ``Rulebook`` at the historical instants the row gives, as
``CaseService`` would have done at the time; nothing is written unless every row is valid (or
``valid_only``), and all cases are written in ONE transaction. Imported history sends no
notifications. Export writes the ledger (one sheet per type), a template with an explanation
sheet and dropdowns, one case's history, and an annotated copy of a ledger with problems. Files
are written to a temporary file and renamed at the end; an interrupted import rolls back.
``progress(phase, done, total)`` is called as work advances.

A type's ledger comes from its definition (``ledger.derive``), shaped by the optional ``ledger:``
section of its YAML (``ledger.definition``); ``check_definition(spec, org)`` refuses a section
the ledger cannot serve. The package sits above ``cases`` (it uses its database, repository and
services) and below ``web`` and ``caseflow``; nothing in ``cases`` imports it.

Tunable limits live with the code that reads them (``ledger.importer.CHUNK``,
``ledger.importer.BACKGROUND_XML_BYTES`` from ``ledger.sheet``, ``ledger.annotate.FULL_ANNOTATE_ROWS``)
and are not re-exported here, so that a test patching them here fails instead of doing nothing.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore
from ledger.annotate import annotated_copy
from ledger.catalog import Catalog
from ledger.context import Planned
from ledger.definition import check_definition
from ledger.export import LedgerExport
from ledger.importer import LedgerImport
from ledger.report import ImportReport, LedgerRejected, Problem, Progress
from ledger.template import write_template
from ledger.workbook import atomic_file
from workflow.calendar import WorkingCalendar
from workflow.clock import Clock
from workflow.org import Actor

__all__ = [
    "ImportReport",
    "LedgerRejected",
    "LedgerService",
    "Planned",
    "Problem",
    "Progress",
    "atomic_file",
    "check_definition",
]


class LedgerService:
    """Ledger import, the exports (ledger, template, history) and the annotated copy of a ledger
    with problems, over every type the definitions hold."""

    def __init__(
        self,
        db: Database,
        definitions: Definitions,
        clock: Clock,
        evidence: EvidenceStore,
        calendar: Callable[[Connection], WorkingCalendar],
    ) -> None:
        self.definitions = definitions
        self.clock = clock
        self.catalog = Catalog()
        self.importer = LedgerImport(db, definitions, clock, evidence, calendar, self.catalog)
        self.exporter = LedgerExport(db, definitions, self.catalog)

    @property
    def background(self) -> bool:
        """Whether large sheets are parsed in a child process (``ledger.sheet.LedgerSheet``)."""
        return self.importer.background

    @background.setter
    def background(self, value: bool) -> None:
        self.importer.background = value

    def import_ledger(self, path: Path, case_type: str, actor: Actor, *, dry_run: bool = False,
                      valid_only: bool = False, progress: Progress | None = None) -> ImportReport:  # fmt: skip
        """See ``LedgerImport.import_ledger``."""
        return self.importer.import_ledger(
            path, case_type, actor, dry_run=dry_run, valid_only=valid_only, progress=progress
        )

    def export_ledger(self, target: Path, **options: Any) -> dict[str, Any]:
        """See ``LedgerExport.export_ledger`` (case_type, state, department, visible_to, progress)."""
        return self.exporter.export_ledger(target, **options)

    def selection(self, case_type: str | None, state: str | None) -> list[tuple[str, str | None]]:
        """The (type, state) pairs an export of ``case_type``/``state`` selects (InvalidInput when none)."""
        return self.exporter.selection(case_type, state)

    def export_template(self, case_type: str, target: Path) -> dict[str, Any]:
        """The import template of one type (see ``ledger.template.write_template``)."""
        spec = self.definitions.current(case_type).spec
        return write_template(self.catalog.of(spec), self.definitions.org, self.clock.now(), Path(target))

    def export_history(self, ref: str | int, target: Path) -> dict[str, Any]:
        """Every event of one case: seq, time, actor, trigger, from → to, comment, hash."""
        return self.exporter.export_history(ref, target)

    def annotate(self, report: ImportReport, source: Path, target: Path) -> Path:
        """A copy of the ledger with every problem marked: the cell filled red with a comment,
        a 问题说明 column, and a 问题清单 sheet listing them all (``ledger.annotate``)."""
        return annotated_copy(report, source, target)
