"""What one ledger (台账) import knows while it plans rows, and what a planned row is.

``ImportContext`` holds the type's ledger definition, the sheet's columns, who imports and when,
and what the database already holds (numbers, open cases, units without handlers);
``problem`` turns a fault into a ``Problem`` naming the cell. ``Planned`` is one valid row ready
to be written; ``RowFault`` stops a row. Planning is ``ledger.planner``'s, the replay
``ledger.replay``'s, writing ``ledger.importer``'s.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ledger.catalog import Catalog
from ledger.cells import as_text, blank
from ledger.definition import LedgerDefinition
from ledger.model import Column
from ledger.report import ImportReport, Problem
from ledger.sheet import Layout
from ledger.vocabulary import Vocabulary
from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.durations import Duration
from workflow.org import Actor
from workflow.rulebook import Rulebook
from workflow.spec import WorkflowSpec

DAY_START = time(9, 0)
"""The time of day of an event given by a date only (office hours start)."""
ITEMS_HINT = "；请填写各事项的完成日期"


def is_open(state: str, spec: WorkflowSpec) -> bool:
    return not spec.states[state].is_closed


def title_of(spec: WorkflowSpec, inputs: dict[str, Any]) -> str:
    """The case's title: the definition's title field when it names one, else the first text
    field registration requires (as ``CaseService`` titles a case)."""
    name = getattr(spec, "title_field", None)
    if name not in spec.fields:
        name = next((f for f in spec.create.required if spec.fields[f].type == "text"), None)
    return str(inputs.get(name) or "") if name else ""


@dataclass
class Planned:
    """One valid row, ready to be written."""

    row: int
    number: str | None
    """The ledger's own number when it is kept (our format, free), else None."""
    year: int
    meta: dict[str, Any]
    draft: CaseDraft
    executors: dict[str, str | None]
    events: list[tuple[Any, ...]]
    """(at, actor, trigger, from_state, to_state, comment, payload)."""
    key: tuple[str, ...] | None
    """Duplicate key when the case is open."""


class MemoCalendar(WorkingCalendar):
    """The same calendar, remembering deadlines: ledger rows share their days."""

    def __init__(self, base: WorkingCalendar) -> None:
        super().__init__(base.data)
        self.base = base
        self._memo: dict[tuple[date, Duration], Deadline] = {}

    def add(self, start: date, duration: Duration) -> Deadline:
        key = (start, duration)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = super().add(start, duration)
        return found


class RowFault(Exception):
    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


@dataclass
class ImportContext:
    """What one import knows: the type's ledger, the sheet's columns, who imports, when."""

    definition: LedgerDefinition
    catalog: Catalog
    rulebook: Rulebook
    importer: Actor
    layout: Layout
    report: ImportReport
    calendar: WorkingCalendar
    now: datetime
    open_keys: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Duplicate key → number of the open case in the database."""
    taken: set[str] = field(default_factory=set)
    """Numbers already used in the database."""
    unstaffed: set[str] = field(default_factory=set)
    """Units without an active handler (loaded by the import): an open case may not name them."""

    def __post_init__(self) -> None:
        self.spec = self.definition.spec
        self.org = self.rulebook.org
        self.vocab = Vocabulary(self.definition, self.org)
        self.cols: dict[str, Column] = {c.key: c for c in self.definition.columns}
        self.found = self.layout.found
        self.inputs_of: dict[str, list[Column]] = {}
        self.date_of: dict[str, str] = {}
        for col in self.cols.values():
            for trigger in col.triggers:
                if col.role == "input":
                    self.inputs_of.setdefault(trigger, []).append(col)
                elif col.role == "date":
                    self.date_of.setdefault(trigger, col.key)
        self.item_column: dict[str, str] = {}
        """Item → the column that dates it (its own, or the column of its whole checklist)."""
        for checklist in self.spec.checklists.values():
            whole = next((c.key for c in self.cols.values() if c.checklist == checklist.name), None)
            for key in checklist.items:
                own = f"item:{key}"
                column = own if own in self.cols and self.cols[own].role == "item" else whole
                if column is not None:
                    self.item_column[key] = column

    def problem(self, row: int, key: str | None, reason: str, value: Any = None) -> Problem:
        key = key or "state"
        found = self.found.get(key)
        shown = None if blank(value) else as_text(value)[:200]
        if found is not None:
            return Problem(row, found.letter, found.header, reason, shown)
        return Problem(row, None, f"{self.cols[key].header}（表中无此列）", reason, shown)
