"""What a ledger (台账) import reports: its problems, the report itself, and the refusal.

``Problem`` is one fault of a row (a cell, or a required column missing from the sheet);
``ImportReport`` is everything one import found and did (``to_dict`` for the CLI and the API);
``LedgerRejected`` is what callers raise to refuse a ledger with problems, the whole report as
its ``details``. ``Progress`` is the callback imports and exports call as work advances. Filling
a report is ``ledger.importer``'s; marking its problems in a copy of the workbook is
``ledger.annotate``'s.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflow.errors import CaseflowError

Progress = Callable[[str, int, int | None], None]


class LedgerRejected(CaseflowError):
    """The ledger has problems and nothing was stored; ``details`` is the whole report."""

    code = "invalid_input"
    http_status = 422


@dataclass(frozen=True)
class Problem:
    row: int
    """Sheet row number as Excel shows it (the header row for a missing column)."""
    column: str | None
    """Column letter, or None when the column is missing from the sheet."""
    header: str
    reason: str
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "header": self.header,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass
class ImportReport:
    file: str
    sha256: str
    type: str
    sheet: str = ""
    header_row: int = 0
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    valid_rows: int = 0
    dry_run: bool = False
    valid_only: bool = False
    stored: bool = False
    created: list[dict[str, Any]] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    annotated: str | None = None

    @property
    def invalid_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "sha256": self.sha256, "type": self.type, "sheet": self.sheet,
            "header_row": self.header_row, "rows": self.rows, "valid_rows": self.valid_rows,
            "invalid_rows": self.invalid_rows, "problems": [p.to_dict() for p in self.problems],
            "notices": self.notices, "dry_run": self.dry_run, "valid_only": self.valid_only,
            "stored": self.stored, "created": self.created, "preview": self.preview, "annotated": self.annotated,
        }  # fmt: skip
