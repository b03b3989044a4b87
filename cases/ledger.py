"""Ledger (台账) import and export: a clerk's workbook in, cases out, and back.

``LedgerService`` is the one service the CLI, the API, the pages and the bench use; it combines
the import half (``LedgerImport``) and the export half (``LedgerExport``). Import
(``LedgerService.import_ledger``) reads the sheet, validates every row and *replays* it through
the definition's own ``Rulebook`` at the historical instants the row gives, as ``CaseService``
would have done at the time; nothing is written unless every row is valid (or ``valid_only``),
and all cases are written in ONE transaction. Imported history sends no notifications. Export
writes the ledger (one sheet per type), a template with an explanation sheet and dropdowns, one
case's history, and an annotated copy of a ledger with problems. Files are written to a
temporary file and renamed at the end, so an interrupted export leaves nothing behind; an
interrupted import rolls back. ``progress(phase, done, total)`` is called as work advances.

The work is done in these modules; this one only combines them and re-exports their public names:

- ``cases.ledger_columns``: the columns of a ledger and how a clerk's cells are read;
- ``cases.ledger_sheet``: finding the sheet and its header row, reading its rows (large sheets
  in a child process);
- ``cases.ledger_report``: ``Problem``, ``ImportReport``, ``LedgerRejected``, ``Progress``;
- ``cases.ledger_replay``: one row planned, its history replayed through the rulebook;
- ``cases.ledger_import``: the import half: reading, planning, the one write transaction;
- ``cases.ledger_workbook``: writing workbooks atomically and streamed, the shared styles;
- ``cases.ledger_export``: the export half: ledger, template, one case's history;
- ``cases.ledger_annotate``: the annotated copy of a ledger with problems.

Tunable limits live with the code that reads them (``ledger_import.CHUNK``,
``ledger_import.BACKGROUND_XML_BYTES`` from ``ledger_sheet``, ``ledger_annotate.FULL_ANNOTATE_ROWS``)
and are not re-exported here, so that a test patching them here fails instead of doing nothing.
"""

from cases.ledger_export import LedgerExport
from cases.ledger_import import LedgerImport
from cases.ledger_replay import Planned
from cases.ledger_report import ImportReport, LedgerRejected, Problem, Progress
from cases.ledger_workbook import atomic_file

__all__ = [
    "ImportReport",
    "LedgerExport",
    "LedgerImport",
    "LedgerRejected",
    "LedgerService",
    "Planned",
    "Problem",
    "Progress",
    "atomic_file",
]


class LedgerService(LedgerImport, LedgerExport):
    """Ledger import (see ``LedgerImport``) and the exports (see ``LedgerExport``): ledger,
    template, history, and the annotated copy of a ledger with problems."""
