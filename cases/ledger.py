"""Ledger (台账) import and export: a clerk's workbook in, cases out, and back.

Import (``LedgerService.import_ledger``) reads the sheet (``cases.ledger_columns``), validates every
row and *replays* it: the case is registered, then the triggers of the shortest path from the
initial state to the row's current state are decided by the definition's own ``Rulebook`` at the
historical instants the row gives, with ``cases.supervision`` computing the deadlines, exactly as
``CaseService`` would have done at the time. Each event is hash-chained as ``cases.audit`` does
it and carries ``"imported": true``; the first one has the trigger ``import`` with the source
file's SHA-256, sheet and row. Items done before the import (断电 on a date …) are completed by the
rulebook too; where a checklist requires evidence, the evidence is the source ledger itself,
stored content-addressed like any evidence file (the live rule is unchanged: no item is done
without a stored document). Nothing is written unless every row is valid (or ``valid_only``);
all cases are written in ONE transaction with batched inserts. Rows are planned outside the
write lock; duplicates are checked again inside it.

Imported history sends no notifications (they would announce events of the past); the next
sweep climbs the supervision ladder of imported cases whose deadlines have passed.

Export writes the ledger (one sheet per type, frozen header, widths, dates), a template with an
explanation sheet and dropdowns, and one case's history. Files are written to a temporary file
and renamed at the end, so an interrupted export leaves nothing behind; an interrupted import
rolls back. ``progress(phase, done, total)`` is called as work advances.
"""

import hashlib
import json
import os
import re
import signal
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import MergedCell, WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Connection, and_, case, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cases import audit, supervision
from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore
from cases.ledger_columns import (
    BACKGROUND_XML_BYTES,
    CATEGORY_LABELS,
    EXAMPLE_MARK,
    LOST_DIGITS,
    RECTIFICATION,
    CellError,
    Column,
    Layout,
    LedgerSheet,
    Vocabulary,
    as_text,
    blank,
    columns,
    fold,
    largest_sheet_bytes,
    loose,
    lossy,
    open_workbook,
    read_code,
    read_date,
)
from cases.views import CLOSED_STATES, is_open
from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI, Clock
from workflow.durations import Duration
from workflow.errors import CaseflowError, GuardFailed, InvalidInput, PermissionDenied, TransitionNotAllowed
from workflow.fields import check_inputs, normalise
from workflow.ladder import LEVEL_LABELS
from workflow.org import SYSTEM_ROLE, Actor
from workflow.rulebook import Rulebook
from workflow.spec import ActorRule, WorkflowSpec
from workflow.uscc import check_uscc

Progress = Callable[[str, int, int | None], None]
_SPACES = re.compile(r"\s+")
CHUNK = 1000
DAY_START = time(9, 0)
"""The time of day of an event given by a date only (office hours start)."""
FOOTER_WORDS = ("制表", "填表", "填报", "审核人", "负责人", "注:", "注：", "说明:", "说明：", "备注:", "备注：")
GUARD_COLUMNS = {
    "co_units_exclude_lead": "co_units", "lead_unit_changes": "lead_unit", "before_due": "date:request_extension",
    "extension_limits": "extension_days", "other_item_described": "other_item",
    "rectify_deadline_within_limit": "deadline", "all_co_units_fed_back": "co_units",
}  # fmt: skip


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
    key: tuple[str, str] | None
    """Duplicate key when the case is open."""


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


class _MemoCalendar(WorkingCalendar):
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


class _CommitGuard:
    """Holds Ctrl-C (SIGINT) back from just before a commit until the caller has recorded it,
    so that an interrupt never leaves "committed but reported as not" (main thread only)."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None
        self._held = False

    def hold(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._held = True

    def _note(self, signum: int, frame: Any) -> None:
        self.received = True

    def release(self) -> None:
        if self._held:
            signal.signal(signal.SIGINT, self._previous)
            self._held = False


class _RowFault(Exception):
    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


def _utc(day: date, at: time | None) -> datetime:
    return datetime.combine(day, at or DAY_START, SHANGHAI).astimezone(UTC)


def _local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


class _Import:
    """The state of one import: the sheet's columns, the vocabulary, what the rows hold."""

    def __init__(self, service: "LedgerService", spec: WorkflowSpec, rulebook: Rulebook, importer: Actor,
                 layout: Layout, report: ImportReport, calendar: WorkingCalendar) -> None:  # fmt: skip
        self.service = service
        self.spec = spec
        self.rulebook = rulebook
        self.importer = importer
        self.layout = layout
        self.report = report
        self.calendar = calendar
        self.org = rulebook.org
        self.vocab = Vocabulary(spec, self.org)
        self.now = service.clock.now()
        self.cols = {c.key: c for c in columns(spec.type)}
        self.found = layout.found
        self.missing_fields = {k for k in spec.create.required if k in self.cols and k not in self.found}
        self.number_pattern = f"{spec.number_prefix}-"
        self.seen: dict[tuple[str, str], int] = {}
        self.numbers: dict[str, int] = {}
        self.open_keys: dict[tuple[str, str], str] = {}
        """Duplicate key → number of the open case in the database."""
        self.taken: set[str] = set()
        self.readers = [
            (k, f.index, self.reader(f.column)) for k, f in self.found.items() if f.column.role not in ("seq", "export")
        ]
        self.inputs_of: dict[str, list[Column]] = {}
        self.date_of: dict[str, str] = {}
        for col in self.cols.values():
            for trigger in col.triggers:
                if col.role == "input":
                    self.inputs_of.setdefault(trigger, []).append(col)
                elif col.role == "date":
                    self.date_of.setdefault(trigger, col.key)

    # --- cells ---------------------------------------------------------------------------------

    def problem(self, row: int, key: str | None, reason: str, value: Any = None) -> Problem:
        key = key or "state"
        found = self.found.get(key)
        shown = None if blank(value) else as_text(value)[:200]
        if found is not None:
            return Problem(row, found.letter, found.header, reason, shown)
        return Problem(row, None, f"{self.cols[key].header}（表中无此列）", reason, shown)

    def reader(self, col: Column) -> Callable[[Any], Any]:
        """How a cell of this column is read (``CellError`` when it cannot be)."""
        kind, key, vocab = col.kind, col.field or col.key, self.vocab
        if kind == "code" and key in self.spec.fields and self.spec.fields[key].type == "uscc":
            return _read_uscc
        if kind == "code":
            return read_code
        if kind == "date":
            return read_date
        if kind == "enum" and col.role != "state":
            return lambda raw: vocab.choice(key, raw)
        if kind == "enum_list":
            return lambda raw: vocab.choice_list(key, raw)
        if kind == "dept":
            spec_field = self.spec.fields.get(key)
            kinds = spec_field.kinds if spec_field else ()
            return lambda raw: vocab.department(raw, kinds)
        if kind == "dept_list":
            return vocab.department_list
        if kind == "integer":
            return _integer
        if kind == "decimal":
            return lambda raw: fold(as_text(raw))
        return lambda raw: raw if col.role == "state" else as_text(raw)

    # --- one row -------------------------------------------------------------------------------

    def plan(self, row: int, values: list[Any]) -> tuple[Planned | None, list[Problem]]:
        problems: list[Problem] = []
        parsed: dict[str, Any] = {}
        raw_of: dict[str, Any] = {}
        width = len(values)
        for key, index, read in self.readers:
            raw = values[index] if index < width else None
            if raw is None or (raw.__class__ is str and not raw.strip()):
                continue
            raw_of[key] = raw
            try:
                parsed[key] = read(raw)
            except CellError as exc:
                problems.append(self.problem(row, key, str(exc), raw))
        cell_errors = bool(problems)
        inputs, registration_ok = self._registration(row, parsed, raw_of, problems, set(raw_of) - set(parsed))
        replay = _Replay(self, row, parsed, raw_of)
        # after a bad cell, later faults are often its consequences: report only new columns
        replay.quiet = cell_errors or not registration_ok
        try:
            replay.run(inputs)
        except _RowFault as fault:
            found = self.problem(row, fault.key, fault.reason, raw_of.get(fault.key or "state"))
            consequence = fault.key in (None, "state") or found.header in {p.header for p in problems}
            if not (replay.quiet and consequence):
                problems.append(found)
            replay.quiet = True  # what the walk did not reach is no contradiction of its own
        problems += replay.leftovers()
        key = self._duplicate(row, inputs, replay, problems)
        number = self._number(row, parsed, raw_of, problems)
        if problems:
            return None, _unique(problems)
        year = replay.created_at.astimezone(SHANGHAI).year
        if number is not None:
            year = int(number.split("-")[1])
        return replay.planned(number, year, key), []

    def _registration(self, row: int, parsed: dict[str, Any], raw_of: dict[str, Any], problems: list[Problem],
                      unreadable: set[str]) -> tuple[dict[str, Any], bool]:  # fmt: skip
        create = self.spec.create
        given = {c.key: parsed[c.key] for c in self.cols.values() if c.role == "field" and c.key in parsed}
        try:
            return check_inputs(self.spec.fields, given, create.required, create.optional, self.org, what="登记"), True
        except InvalidInput as exc:
            for name, reason in exc.errors.items():
                if name not in self.missing_fields and name not in unreadable:
                    problems.append(self.problem(row, name, reason, raw_of.get(name)))
        partial: dict[str, Any] = {}
        for name, value in given.items():
            try:
                partial[name] = normalise(self.spec.fields[name], value, self.org)
            except InvalidInput:
                continue
        return partial, False

    def _duplicate(
        self, row: int, inputs: dict[str, Any], replay: "_Replay", problems: list[Problem]
    ) -> tuple[str, str] | None:
        if self.spec.type == "enterprise_issue":
            first, second, column = inputs.get("uscc"), inputs.get("title"), "title"
            what = "同一企业（统一社会信用代码相同）的同一问题"
        else:
            first, second, column = inputs.get("site_name"), inputs.get("address"), "site_name"
            what = "同名同址的散乱污场所"
        if not first or not second or not is_open(replay.state, self.rulebook):
            return None
        key = (loose(str(first)), loose(str(second)))
        earlier = self.seen.get(key)
        if earlier is not None:
            problems.append(self.problem(row, column, f"与第{earlier}行重复：{what}在表中出现两次", second))
        else:
            self.seen[key] = row
        existing = self.open_keys.get(key)
        if existing is not None:
            problems.append(self.problem(row, column, f"重复：{what}已有未办结案件 {existing}", second))
        return key

    def _number(self, row: int, parsed: dict[str, Any], raw_of: dict[str, Any], problems: list[Problem]) -> str | None:
        text = fold(as_text(parsed["number"])).upper() if "number" in parsed else ""
        parts = text.split("-")
        ours = len(parts) == 3 and parts[0] == self.spec.number_prefix and len(parts[1]) == 4 and parts[1].isdigit()
        if not (ours and len(parts[2]) >= 5 and parts[2].isdigit()):
            return None
        earlier = self.numbers.get(text)
        if earlier is not None:
            problems.append(self.problem(row, "number", f"编号与第{earlier}行重复", raw_of.get("number")))
        self.numbers.setdefault(text, row)
        if text in self.taken:
            problems.append(
                self.problem(
                    row, "number", f"编号 {text} 已被系统中的案件使用（该案件可能已导入过）", raw_of.get("number")
                )
            )
        return text


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    result = []
    for p in problems:
        key = (p.row, p.column, p.header, p.reason)
        if key not in seen:
            seen.add(key)
            result.append(p)
    return result


class _Replay:
    """One row replayed through the rulebook: registration, then the path to its state."""

    def __init__(self, ctx: _Import, row: int, parsed: dict[str, Any], raw_of: dict[str, Any]) -> None:
        self.ctx = ctx
        self.row = row
        self.parsed = parsed
        self.raw_of = raw_of
        self.used: set[str] = {k for k in parsed if ctx.cols[k].role in ("field", "number", "state", "seq", "export")}
        self.events: list[tuple[Any, ...]] = []
        self.quiet = False
        self.state = ctx.spec.initial
        self.meta: dict[str, Any] = {}
        self.draft = CaseDraft(ctx.spec.type, "", ctx.spec.initial)
        self.last_at = _EPOCH
        self.last_key: str | None = None
        self.created_at = ctx.now

    # --- the walk ------------------------------------------------------------------------------

    def run(self, inputs: dict[str, Any]) -> None:
        ctx = self.ctx
        target = self._target()
        category = self._category(target)
        path = ctx.service.path(ctx.spec, target, category)
        if path is None:
            raise _RowFault("state", f"无法从初始状态到达“{ctx.spec.states[target].label}”")
        if path and not ctx.importer.has("dispatcher"):
            raise _RowFault("state", "导入已在办理中的案件（当前状态不是初始状态）须由联席办调度员操作")
        self._register(inputs)
        for trigger in path:
            self._items_of_state()
            self._before(trigger)
            self._fire(trigger)
        self._items_of_state()

    def _target(self) -> str:
        if "state" not in self.parsed:
            return self.ctx.spec.initial
        found = self.ctx.vocab.state(self.parsed["state"])
        if found is None:
            allowed = "、".join(s.label for s in self.ctx.spec.states.values())
            raise _RowFault("state", f"未知状态“{as_text(self.parsed['state'])}”；可选：{allowed}")
        return found

    def _category(self, target: str) -> str | None:
        """取缔关闭 (ban) or 整顿规范 (rectify) for a site: implied by clearing and rectifying,
        given (or inferred from the dated items) for the states after them."""
        if self.ctx.spec.type != "scattered_polluting":
            return None
        given = self.parsed.get("category")
        if given is not None and given not in ("ban", "rectify"):
            raise _RowFault("category", f"整治类别“{as_text(self.raw_of['category'])}”无效；可选：取缔关闭、整顿规范")
        implied = {"clearing": "ban", "rectifying": "rectify"}.get(target)
        if implied is not None:
            if given is not None and given != implied:
                label = self.ctx.spec.states[target].label
                raise _RowFault(
                    "category", f"状态为“{label}”时整治类别应为“{'取缔关闭' if implied == 'ban' else '整顿规范'}”"
                )
            if given is not None:
                self.used.add("category")
            return implied
        if target not in ("acceptance", "closed", "revisit_due", "archived"):
            return None  # a category given here is reported as not used by this state
        self.used.add("category")
        if given is not None:
            return str(given)
        if any(k in self.parsed for k in ("items", "deadline", "item:rectification")):
            return "rectify"
        if any(k in self.parsed for k in ("item:cut_water", "item:cut_power", "item:clear_materials")):
            return "ban"
        raise _RowFault("category", "验收及以后的状态须填写整治类别（取缔关闭或整顿规范）")

    def _instant(self, key: str | None) -> datetime:
        """The instant of an event whose day is in column ``key`` (default: the previous one)."""
        if key is None or key not in self.parsed:
            return self.last_at
        self.used.add(key)
        day, clock = self.parsed[key]
        now = self.ctx.now
        if day > _local_day(now):
            raise _RowFault(key, f"日期 {day} 晚于今天（{_local_day(now)}）")
        if day < _local_day(self.last_at):
            before = self.ctx.cols[self.last_key].header if self.last_key in self.ctx.cols else "登记日期"
            raise _RowFault(key, f"日期 {day} 早于{before}（{_local_day(self.last_at)}），办理日期须按先后顺序")
        at = min(max(_utc(day, clock), self.last_at), now)
        self.last_key, self.last_at = key, at
        return at

    def _register(self, inputs: dict[str, Any]) -> None:
        ctx, spec = self.ctx, self.ctx.spec
        if "date:create" in self.parsed:
            self.last_at = _EPOCH
            at = self._instant("date:create")
        else:
            days = [
                v for k, v in self.parsed.items() if ctx.cols[k].kind == "date" and ctx.cols[k].role in ("date", "item")
            ]
            at = min((_utc(d, c) for d, c in days), default=ctx.now)
            at = min(at, ctx.now)
        self.last_at = self.created_at = at
        draft = self.draft
        draft.fields = dict(inputs)
        if not ctx.rulebook.permitted(spec.create.actors, ctx.importer, draft):
            raise _RowFault(
                "town" if "town" in inputs else None,
                f"无权登记该案件：登记{spec.name}只能由{ctx.rulebook.describe(spec.create.actors)}办理",
            )
        meta: dict[str, Any] = {
            "type": spec.type, "definition_version": spec.version, "state": draft.state, "version": 1,
            "title": str(inputs.get("title") or inputs.get("site_name") or ""), "lead_unit": None,
            "town": inputs.get("town"), "uscc": inputs.get("uscc"), "fields": draft.fields, "counters": {},
            "co_units": {}, "flags": {}, "due_at": None, "due_date": None, "due_provisional": False,
            "ladder_level": "normal", "deadline_seq": 0, "next_check_at": None, "created_by": ctx.importer.username,
            "created_at": at, "updated_at": at, "closed_at": None,
        }  # fmt: skip
        clock = supervision.after_decision(spec, draft, meta, spec.initial, False, at, ctx.calendar)
        source = {"file": ctx.report.file, "sha256": ctx.report.sha256, "sheet": ctx.report.sheet, "row": self.row}
        payload: dict[str, Any] = {
            "fields": dict(inputs), "unit": ctx.importer.department, "definition_version": spec.version,
            "imported": True, "source": source,
        }  # fmt: skip
        if "number" in self.parsed:
            payload["ledger_number"] = as_text(self.raw_of["number"])
        if clock.note is not None:
            payload["deadline"] = clock.note
        meta.update(clock.columns, flags=draft.flags)
        draft.due_at = meta["due_at"]
        self.meta = meta
        comment = f"台账导入：{ctx.report.file} 第{self.row}行"
        self.events.append((at, ctx.importer.username, "import", None, draft.state, comment, payload))

    def _actor(self, rules: tuple[ActorRule, ...]) -> Actor:
        """The importer when the rule allows them; else the importer acting for the unit the
        rule names (the ledger records that unit's act)."""
        ctx, draft = self.ctx, self.draft
        if ctx.rulebook.permitted(rules, ctx.importer, draft):
            return ctx.importer
        for rule in rules:
            if rule.role == SYSTEM_ROLE:
                return Actor.system()
            dept = rule.department
            if dept is None and rule.unit is not None:
                units = sorted(ctx.rulebook.units(draft, rule.unit))
                dept = units[0] if units else None
            if dept is None and rule.role == "dispatcher":
                dept = ctx.org.office
            if dept is not None:
                return Actor(ctx.importer.username, dept, frozenset({rule.role}))
        return ctx.importer

    def _given(self, trigger: str) -> dict[str, Any]:
        given = {}
        for col in self.ctx.inputs_of.get(trigger, ()):
            if col.key in self.parsed:
                value = self.parsed[col.key]
                if col.kind == "date":
                    value = value[0].isoformat()
                given[col.field] = value
                self.used.add(col.key)
        return given

    def _date_key(self, trigger: str) -> str | None:
        return self.ctx.date_of.get(trigger)

    def _fire(
        self, trigger: str, given: dict[str, Any] | None = None, actor: Actor | None = None, at: datetime | None = None
    ) -> None:
        ctx, draft = self.ctx, self.draft
        spec = ctx.spec
        branches = spec.branches(trigger, draft.state)
        if at is None:
            if trigger in ("revisit",):
                at = self._scheduled(trigger)
            else:
                at = self._instant(self._date_key(trigger))
        if given is None:
            given = self._given(trigger)
        actor = actor or self._actor(branches[0].actors if branches else ())
        evidence = [ctx.report.sha256] if branches and branches[0].evidence == "required" else []
        try:
            decision = ctx.rulebook.decide(draft, trigger, actor, given, at, evidence)
        except InvalidInput as exc:
            name, reason = next(iter(exc.errors.items()))
            raise _RowFault(self._input_key(trigger, name), reason) from None
        except GuardFailed as exc:
            hint = "；请填写各事项的完成日期" if exc.guard in ("checklist_complete", "signoffs_complete") else ""
            raise _RowFault(self._guard_key(exc.guard, trigger), exc.reason + hint) from None
        except (PermissionDenied, TransitionNotAllowed) as exc:
            raise _RowFault("state", exc.message) from None
        payload: dict[str, Any] = {"fields": decision.inputs, "unit": actor.department}
        if draft.signals:
            payload["signals"] = list(draft.signals)
        internal = decision.transition.dest is None
        clock = supervision.after_decision(spec, draft, self.meta, decision.from_state, internal, at, ctx.calendar)
        if clock.note is not None:
            payload["deadline"] = clock.note
        if evidence:
            payload["evidence"] = evidence
        self._record(trigger, actor.username, decision.from_state, payload, at, clock.columns)

    def _scheduled(self, trigger: str) -> datetime:
        due = self.meta.get("due_at")
        if due is None or due > self.ctx.now:
            raise _RowFault("state", f"“{self.ctx.spec.states['revisit_due'].label}”尚未到期（到期时间 {due}）")
        self.last_at = max(self.last_at, due)
        return self.last_at

    def _record(
        self, trigger: str, actor: str, from_state: str, payload: dict[str, Any], at: datetime, columns_: dict[str, Any]
    ) -> None:
        draft, meta, spec = self.draft, self.meta, self.ctx.spec
        payload["imported"] = True
        payload["row"] = self.row
        closing = spec.states[draft.state].terminal or draft.state in CLOSED_STATES
        meta.update(
            state=draft.state, lead_unit=draft.fields.get("lead_unit"), fields=draft.fields, counters=draft.counters,
            co_units=draft.co_units, flags=draft.flags, closed_at=(meta["closed_at"] or at) if closing else None,
            **columns_,
        )  # fmt: skip
        meta["version"] += 1
        meta["updated_at"] = at
        draft.due_at = meta["due_at"]
        self.state = draft.state
        self.events.append((at, actor, trigger, from_state, draft.state, None, payload))

    def _before(self, trigger: str) -> None:
        """What must have happened before ``trigger`` that a ledger does not list: co-units'
        acceptance and feedback before the lead unit's answer."""
        draft = self.draft
        branches = self.ctx.spec.branches(trigger, draft.state)
        if not branches or "all_co_units_fed_back" not in branches[0].guards:
            return
        at = self._instant(self._date_key(trigger))
        reply = "（台账导入：协办单位已反馈，反馈内容见原台账）"
        for code in sorted(draft.co_units):
            actor = Actor(self.ctx.importer.username, code, frozenset({"handler"}))
            if not draft.co_units[code].get("accepted_at"):
                self._fire("co_accept", {}, actor, at)
            if not draft.co_units[code].get("feedback_at"):
                self._fire("co_feedback", {"reply": reply}, actor, at)

    def _items_of_state(self) -> None:
        """Complete, in the order of their days, the items of the current stage the row dates."""
        ctx, draft = self.ctx, self.draft
        dated = []
        for checklist in ctx.spec.checklists.values():
            if checklist.state != draft.state:
                continue
            for item in draft.items_of(checklist.name):
                key = f"item:{item.key}" if f"item:{item.key}" in ctx.cols else "item:rectification"
                column = ctx.cols.get(key)
                if item.done or column is None or key not in self.parsed:
                    continue
                if column.item not in (item.key, RECTIFICATION):
                    continue
                day, clock = self.parsed[key]
                dated.append((_utc(day, clock), item.position, item.key, key))
        for _, _, item_key, key in sorted(dated):
            self._item(item_key, key)

    def _item(self, item_key: str, key: str) -> None:
        ctx, draft = self.ctx, self.draft
        found = ctx.spec.item(item_key)
        assert found is not None
        checklist, item_spec = found
        at = self._instant(key)
        given = {}
        for k, col in ctx.cols.items():
            if col.role == "item_input" and col.item == item_key and k in self.parsed:
                given[col.field] = self.parsed[k]
                self.used.add(k)
        evidence = [ctx.report.sha256] if checklist.evidence == "required" else []
        actor = self._actor(item_spec.actors)
        try:
            inputs = ctx.rulebook.complete_item(draft, item_key, actor, given, at, evidence)
        except InvalidInput as exc:
            name, reason = next(iter(exc.errors.items()))
            column = next(
                (k for k, c in ctx.cols.items() if c.role == "item_input" and c.item == item_key and c.field == name),
                key,
            )
            raise _RowFault(column, reason) from None
        except (GuardFailed, PermissionDenied) as exc:
            raise _RowFault(key, exc.message) from None
        item = draft.items[item_key]
        payload: dict[str, Any] = {"item": item_key, "fields": dict(inputs), "unit": actor.department}
        if evidence:
            payload["evidence"] = evidence
        item.data = {**inputs, "imported": True}
        self._record("complete_item", actor.username, draft.state, payload, at, {})

    # --- what went wrong -----------------------------------------------------------------------

    def _input_key(self, trigger: str, name: str) -> str | None:
        for key, col in self.ctx.cols.items():
            if col.role == "input" and trigger in col.triggers and col.field == name:
                return key
        return "state"

    def _guard_key(self, guard: str, trigger: str) -> str | None:
        if guard in ("checklist_complete", "signoffs_complete"):
            for item in sorted(self.draft.items.values(), key=lambda i: i.position):
                if item.done or (item.checklist == "signoffs") != (guard == "signoffs_complete"):
                    continue
                key = f"item:{item.key}"
                return key if key in self.ctx.cols else "item:rectification"
        return GUARD_COLUMNS.get(guard, self._date_key(trigger) or "state")

    def leftovers(self) -> list[Problem]:
        """Days and inputs the row gives that its state does not use: the row contradicts itself."""
        if self.quiet:
            return []
        label = self.ctx.spec.states[self.state].label
        problems = []
        for key in self.parsed:
            if key not in self.used:
                header = self.ctx.cols[key].header
                reason = f"当前状态为“{label}”，不应填写“{header}”（该步骤不在此状态之前）"
                problems.append(self.ctx.problem(self.row, key, reason, self.raw_of.get(key)))
        return problems

    def planned(self, number: str | None, year: int, key: tuple[str, str] | None) -> Planned:
        executors = {k: self.ctx.rulebook.executor(k, self.draft) for k in self.draft.items}
        return Planned(self.row, number, year, self.meta, self.draft, executors, self.events, key)


# --- the service ----------------------------------------------------------------------------------


class _ImportService:
    """The import half of ``LedgerService``."""

    def __init__(
        self,
        db: Database,
        definitions: Definitions,
        clock: Clock,
        evidence: EvidenceStore,
        calendar: Callable[[Connection], WorkingCalendar],
    ) -> None:
        self.db = db
        self.definitions = definitions
        self.org = definitions.org
        self.clock = clock
        self.evidence = evidence
        self.calendar = calendar
        self._paths: dict[tuple[str, str, str | None], list[str] | None] = {}
        self.background = True
        """Parse large sheets in a child process (see ``ledger_columns.background_rows``)."""

    # --- paths ---------------------------------------------------------------------------------

    def path(self, spec: WorkflowSpec, target: str, category: str | None = None) -> list[str] | None:
        """The triggers of the shortest path from the initial state to ``target`` (breadth
        first, in definition order); a site's category picks 取缔关闭 or 整顿规范."""
        memo_key = (spec.version, target, category)
        if memo_key in self._paths:
            return self._paths[memo_key]
        excluded = {"ban": {"classify_rectify"}, "rectify": {"classify_ban"}}.get(category or "", set())
        queue: deque[tuple[str, list[str]]] = deque([(spec.initial, [])])
        seen = {spec.initial}
        found: list[str] | None = None
        while queue:
            state, path = queue.popleft()
            if state == target:
                found = path
                break
            for t in spec.transitions:
                if state in t.sources and t.dest is not None and t.dest not in seen and t.trigger not in excluded:
                    seen.add(t.dest)
                    queue.append((t.dest, [*path, t.trigger]))
        self._paths[memo_key] = found
        return found

    # --- import --------------------------------------------------------------------------------

    def import_ledger(
        self,
        path: Path,
        case_type: str,
        actor: Actor,
        *,
        dry_run: bool = False,
        valid_only: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Validate every row and, unless ``dry_run``, store the cases in one transaction (all
        rows valid, or ``valid_only``). The report lists every problem; ``stored`` says whether
        anything was written."""
        rulebook = self.definitions.current(case_type)
        spec = rulebook.spec
        if not any(actor.has(rule.role) for rule in spec.create.actors):
            raise PermissionDenied(f"导入{spec.name}台账只能由{rulebook.describe(spec.create.actors)}办理")
        path = Path(path)
        data = _read_file(path)
        report = ImportReport(
            path.name, hashlib.sha256(data).hexdigest(), case_type, dry_run=dry_run, valid_only=valid_only
        )
        plans = self._plan_file(path, spec, rulebook, actor, report, progress)
        report.valid_rows = len(plans)
        if dry_run or not plans or (report.problems and not valid_only):
            report.preview = [_preview(p, spec) for p in plans][:1000] if dry_run else []
            return report
        self._store(plans, data, path.name, actor, report, valid_only, progress)
        return report

    def _plan_file(self, path: Path, spec: WorkflowSpec, rulebook: Rulebook, actor: Actor,
                   report: ImportReport, progress: Progress | None) -> list[Planned]:  # fmt: skip
        background = self.background and largest_sheet_bytes(path) > BACKGROUND_XML_BYTES
        with _open(path, spec, background) as source:
            layout = source.layout
            if layout is None:
                examples = "、".join(c.header for c in columns(spec.type)[2:6])
                raise InvalidInput("file", f"在“{path.name}”中找不到{spec.name}台账的表头行（如：{examples}）")
            report.sheet, report.header_row = layout.sheet, layout.header_row
            columns_missing = self._header_problems(spec, layout, report)
            total = max(0, source.size_hint - layout.header_row) if source.size_hint else None
            with self.db.read() as conn:
                calendar = _MemoCalendar(self.calendar(conn))
                ctx = _Import(self, spec, rulebook, actor, layout, report, calendar)
                ctx.open_keys = self._open_keys(conn, spec)
                plans = self._plan_rows(conn, ctx, source.rows(), layout, report, progress, total)
        # Rows are still checked (every fault is reported at once), but without a required
        # column no row is complete: none may be stored, not even with valid_only.
        return [] if columns_missing else plans

    def _header_problems(self, spec: WorkflowSpec, layout: Layout, report: ImportReport) -> bool:
        """Report missing required columns (True if any) and ignored ones."""
        missing = False
        for col in columns(spec.type):
            if col.role == "field" and col.key in spec.create.required and col.key not in layout.found:
                report.problems.append(Problem(layout.header_row, None, col.header, f"缺少必填列“{col.header}”"))
                missing = True
        for letter, header in layout.unknown:
            report.notices.append(f"{letter}列“{header}”不是台账的列，已忽略")
        for letter, header in layout.repeated:
            report.notices.append(f"{letter}列“{header}”与前面的列重复，已忽略")
        return missing

    def _plan_rows(self, conn: Connection, ctx: _Import, rows: Iterator[tuple[int, list[Any]]], layout: Layout, report: ImportReport,
                   progress: Progress | None, total: int | None) -> list[Planned]:  # fmt: skip
        plans: list[Planned] = []
        batch: list[tuple[int, list[Any]]] = []
        headers = [(f.index, f.header) for f in layout.found.values()][:3]

        def flush() -> None:
            self._load_existing(conn, ctx, batch)
            for number, values in batch:
                plan, problems = ctx.plan(number, values)
                if plan is not None:
                    plans.append(plan)
                report.problems.extend(problems)
            report.rows += len(batch)
            if progress is not None:
                progress("read", len(batch), total)
            batch.clear()

        for number, values in rows:
            if _skip_row(values, ctx, headers, report, number):
                continue
            batch.append((number, values))
            if len(batch) >= CHUNK:
                flush()
        flush()
        report.problems.sort(key=lambda p: (p.row, p.column is not None, len(p.column or ""), p.column or ""))
        return plans

    def _load_existing(self, conn: Connection, ctx: _Import, batch: list[tuple[int, list[Any]]]) -> None:
        """Numbers of this batch already taken in the database."""
        numbers = set()
        number_col = ctx.found.get("number")
        for _, values in batch:
            if number_col is not None and number_col.index < len(values) and not blank(values[number_col.index]):
                numbers.add(fold(as_text(values[number_col.index])).upper())
        if numbers:
            found = conn.execute(select(repo.CASES.c.number).where(repo.CASES.c.number.in_(sorted(numbers))))
            ctx.taken.update(r.number for r in found)

    def _open_keys(self, conn: Connection, spec: WorkflowSpec) -> dict[tuple[str, str], str]:
        """Duplicate key → number of every open case of the type (enterprise: credit code and
        title; site: name and address; compared loosely)."""
        cases_ = repo.CASES
        closed = [s for s, st in spec.states.items() if st.terminal] + list(CLOSED_STATES)
        wanted = [cases_.c.number, cases_.c.title, cases_.c.uscc, cases_.c.state, cases_.c.definition_version]
        if spec.type != "enterprise_issue":
            wanted.append(cases_.c.fields)
        rows = conn.execute(select(*wanted).where(and_(cases_.c.type == spec.type, cases_.c.state.notin_(closed))))
        result = {}
        for r in rows:
            if not is_open(r.state, self.definitions.pinned(conn, r.definition_version)):
                continue
            if spec.type == "enterprise_issue":
                key = (loose(str(r.uscc or "")), loose(r.title))
            else:
                key = (loose(r.title), loose(str(r.fields.get("address", ""))))
            result[key] = r.number
        return result

    # --- writing -------------------------------------------------------------------------------

    def _store(self, plans: list[Planned], data: bytes, name: str, actor: Actor, report: ImportReport,
               valid_only: bool, progress: Progress | None) -> None:  # fmt: skip
        now = self.clock.now()
        guard = _CommitGuard()
        try:
            created = self._write(plans, data, name, actor, report, valid_only, progress, now, guard)
            if created is not None:
                report.created, report.stored = created, True
        finally:
            guard.release()
        if guard.received:
            report.notices.append("提交时收到了中断请求（Ctrl-C）：导入已经完成，没有中断")

    def _write(self, plans: list[Planned], data: bytes, name: str, actor: Actor, report: ImportReport,
               valid_only: bool, progress: Progress | None, now: datetime, guard: "_CommitGuard") -> list[dict[str, Any]] | None:  # fmt: skip
        """The one write transaction; the created cases, or None when nothing was written."""
        with self.db.write() as conn:
            conflicts = self._recheck(conn, plans)
            if conflicts:
                report.problems.extend(conflicts)
                report.problems.sort(key=lambda p: p.row)
                bad = {p.row for p in conflicts}
                plans = [p for p in plans if p.row not in bad]
                report.valid_rows = len(plans)
                if not valid_only or not plans:
                    return None
            self.definitions.register(conn, now)
            stored = self._keep_source(data, name)
            repo.save_evidence(conn, {"sha256": stored.sha256, "size": stored.size, "media_type": stored.media_type,
                                      "original_name": stored.original_name, "created_by": actor.username, "created_at": now})  # fmt: skip
            numbers = self._numbers(conn, plans)
            for start in range(0, len(plans), CHUNK):
                chunk = plans[start : start + CHUNK]
                self._insert(conn, chunk, numbers)
                if progress is not None:
                    progress("write", len(chunk), len(plans))
            created = [{"row": p.row, "number": numbers[id(p)], "state": p.meta["state"]} for p in plans]
            guard.hold()  # from the commit until it is recorded, Ctrl-C waits
        return created

    def _recheck(self, conn: Connection, plans: list[Planned]) -> list[Problem]:
        """Inside the write transaction: a case registered or numbered meanwhile wins."""
        if not plans:
            return []
        spec = self.definitions.current(plans[0].meta["type"]).spec
        problems = []
        open_keys = self._open_keys(conn, spec)
        kept = [p.number for p in plans if p.number]
        taken: set[str] = set()
        for start in range(0, len(kept), 500):
            found = conn.execute(select(repo.CASES.c.number).where(repo.CASES.c.number.in_(kept[start : start + 500])))
            taken.update(r.number for r in found)
        for p in plans:
            if p.key is not None and p.key in open_keys:
                problems.append(Problem(p.row, None, "—", f"导入期间已有人登记了相同的未办结案件 {open_keys[p.key]}"))
            if p.number in taken:
                problems.append(Problem(p.row, None, "编号", f"编号 {p.number} 已在导入期间被占用"))
        return problems

    def _keep_source(self, data: bytes, name: str) -> Any:
        """Store the ledger as an evidence file: imported items cite it, events name its hash."""
        store = (
            self.evidence
            if len(data) <= self.evidence.max_bytes
            else EvidenceStore(self.evidence.root.parent, len(data))
        )
        return store.put(data, name)

    def _numbers(self, conn: Connection, plans: list[Planned]) -> dict[int, str]:
        """Kept ledger numbers raise their counters; the others take blocks per year."""
        spec_type = plans[0].meta["type"]
        prefix = self.definitions.current(spec_type).spec.number_prefix
        result: dict[int, str] = {}
        highest: dict[int, int] = {}
        for p in plans:
            if p.number is not None:
                year, seq = int(p.number.split("-")[1]), int(p.number.split("-")[2])
                highest[year] = max(highest.get(year, 0), seq)
                result[id(p)] = p.number
        for year, seq in sorted(highest.items()):
            _counter(conn, spec_type, year, at_least=seq)
        by_year: dict[int, list[Planned]] = {}
        for p in plans:
            if p.number is None:
                by_year.setdefault(p.year, []).append(p)
        for year, group in sorted(by_year.items()):
            last = _counter(conn, spec_type, year, count=len(group))
            for offset, p in enumerate(group):
                result[id(p)] = f"{prefix}-{year}-{last - len(group) + 1 + offset:05d}"
        return result

    def _insert(self, conn: Connection, plans: list[Planned], numbers: dict[int, str]) -> None:
        case_rows, chains = [], []
        for p in plans:
            number = numbers[id(p)]
            prev, events = audit.GENESIS, []
            for seq, (at, actor, trigger, from_state, to_state, comment, payload) in enumerate(p.events, start=1):
                content = audit.event_content(number, seq, at, actor, trigger, from_state, to_state, comment, payload)
                digest = audit.chain_hash(prev, content)
                events.append({"seq": seq, "at": at, "actor": actor, "trigger": trigger, "from_state": from_state,
                               "to_state": to_state, "comment": comment, "payload": payload, "prev_hash": prev, "hash": digest})  # fmt: skip
                prev = digest
            case_rows.append({**p.meta, "number": number, "event_seq": len(events), "head_hash": prev})
            chains.append(events)
        try:
            conn.execute(insert(repo.CASES), case_rows)  # executemany; ids are read back by number
        except IntegrityError:
            raise CaseflowError("编号冲突：导入期间有其他案件使用了相同编号，请重新导入；数据库未作任何改动") from None
        by_number = dict(
            conn.execute(
                select(repo.CASES.c.number, repo.CASES.c.id).where(
                    repo.CASES.c.number.in_([r["number"] for r in case_rows])
                )
            ).all()
        )
        ids = [by_number[r["number"]] for r in case_rows]
        event_rows, item_rows = [], []
        for case_id, p, events in zip(ids, plans, chains, strict=True):
            event_rows += [{**e, "case_id": case_id} for e in events]
            for key, item in p.draft.items.items():
                item_rows.append({
                    "case_id": case_id, "checklist": item.checklist, "key": key, "label": item.label,
                    "position": item.position, "executor": p.executors.get(key), "done": item.done,
                    "done_by": item.done_by, "done_at": item.done_at, "evidence": list(item.evidence), "data": dict(item.data),
                })  # fmt: skip
        if item_rows:
            conn.execute(insert(repo.ITEMS), item_rows)
        conn.execute(insert(repo.EVENTS), event_rows)


def _counter(conn: Connection, case_type: str, year: int, *, count: int = 0, at_least: int = 0) -> int:
    """Take ``count`` numbers (or make sure ``at_least`` is taken) atomically; the last one."""
    table = repo.COUNTERS
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if count:
        stmt = dialect_insert(table).values(type=case_type, year=year, last=count)
        update = {"last": table.c.last + count}
    else:
        stmt = dialect_insert(table).values(type=case_type, year=year, last=at_least)
        update = {"last": case((table.c.last < at_least, at_least), else_=table.c.last)}
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.type, table.c.year], set_=update).returning(table.c.last)
    return int(conn.execute(stmt).scalar_one())


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        raise InvalidInput("file", f"文件不存在：{path}")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise InvalidInput("file", f"只能导入 .xlsx 工作簿；“{path.name}”请先在 Excel 或 WPS 中另存为 .xlsx")
    return path.read_bytes()


@contextmanager
def _open(path: Path, spec: WorkflowSpec, background: bool) -> Iterator[LedgerSheet]:
    source = LedgerSheet(path, spec.type, spec.name, background=background)
    try:
        source.__enter__()
    except Exception as exc:  # noqa: BLE001 - zipfile, openpyxl and XML errors all mean "not a workbook"
        source.close()
        raise InvalidInput("file", f"“{path.name}”不是有效的 .xlsx 工作簿（{type(exc).__name__}）") from None
    try:
        yield source
    finally:
        source.close()


def _skip_row(
    values: list[Any], ctx: _Import, headers: list[tuple[int, str]], report: ImportReport, number: int
) -> bool:
    """Empty rows, the template's example row, a footer (制表人：…) and a repeated header."""
    filled = [v for v in values if v is not None and (v.__class__ is not str or v.strip())]
    if not filled:
        return True
    seq = ctx.found.get("seq")
    if seq is not None and seq.index < len(values) and values[seq.index] == EXAMPLE_MARK:
        report.notices.append(f"第{number}行是示例行，已跳过")
        return True
    if len(filled) == 1 and isinstance(filled[0], str) and fold(filled[0]).startswith(FOOTER_WORDS):
        report.notices.append(f"第{number}行“{filled[0].strip()[:20]}”不是数据行，已跳过")
        return True
    same = sum(
        1 for i, h in headers if i < len(values) and isinstance(values[i], str) and _SPACES.sub("", values[i]) == h
    )
    if same >= 2:
        report.notices.append(f"第{number}行是重复的表头，已跳过")
        return True
    return False


def _read_uscc(raw: Any) -> str:
    text = read_code(raw)
    if lossy(raw):
        try:
            check_uscc(text)
        except InvalidInput:
            raise CellError(LOST_DIGITS.format(shown=text)) from None
    return text


def _integer(raw: Any) -> Any:
    text = fold(as_text(raw))
    return int(text) if text.isdigit() else text


def _preview(p: Planned, spec: WorkflowSpec) -> dict[str, Any]:
    return {"row": p.row, "number": p.number, "title": p.meta["title"], "state": p.meta["state"],
            "state_label": spec.states[p.meta["state"]].label, "events": len(p.events),
            "due_date": p.meta["due_date"].isoformat() if p.meta["due_date"] else None}  # fmt: skip


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path next to ``target``, renamed onto it when the block ends without error
    (also on Ctrl-C the temporary file is removed and ``target`` is untouched)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".xlsx.part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# --- export ---------------------------------------------------------------------------------------

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FONT = Font(bold=True)
PROBLEM_FONT = Font(color="9C0006")
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
FULL_ANNOTATE_ROWS = 20_000
"""Up to this many rows the clerk's own workbook is annotated; above, a streamed copy."""
VALIDATION_ROWS = 5000
TRIGGER_WORDS = {
    "create": "登记", "import": "台账导入", "complete_item": "完成事项", "warn": "临期预警",
    "mark_overdue": "逾期催办", "supervise": "督办", "list": "挂牌督办",
}  # fmt: skip
HISTORY_HEADERS = (("序号", 6), ("时间", 20), ("操作人", 14), ("操作", 18), ("操作名称", 18), ("原状态", 20),
                   ("新状态", 20), ("备注", 30), ("台账导入", 8), ("内容", 60), ("哈希", 66), ("前一哈希", 66))  # fmt: skip


def _naive(at: datetime | None) -> datetime | None:
    """An instant as Asia/Shanghai wall time (Excel has no time zones)."""
    return at.astimezone(SHANGHAI).replace(tzinfo=None) if at is not None else None


def _cell(
    ws: Any,
    value: Any,
    *,
    number_format: str | None = None,
    fill: Any = None,
    font: Any = None,
    comment: str | None = None,
) -> Any:
    cell = WriteOnlyCell(ws, value=value)
    if number_format:
        cell.number_format = number_format
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    if comment:
        cell.comment = Comment(comment, "caseflow", width=320, height=120)
    return cell


def _header_row(ws: Any, headers: list[tuple[str, int]]) -> None:
    """Widths, a frozen bold header row (a write-only sheet: before any other row)."""
    for index, (_, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append([_cell(ws, h, fill=HEADER_FILL, font=HEADER_FONT) for h, _ in headers])


class _Exporter:
    """Rows of one type's ledger sheet from the stored cases."""

    def __init__(self, service: "LedgerService", spec: WorkflowSpec) -> None:
        self.service = service
        self.spec = spec
        self.vocab = Vocabulary(spec, service.org)
        self.cols = [c for c in columns(spec.type)]
        self.stored_by = {f for t in spec.transitions for f in t.store}

    def row(self, seq: int, case_row: Any, events: list[Any], items: list[Any]) -> list[Any]:
        spec, org = self.spec, self.service.org
        fields = case_row.fields
        category = (case_row.flags or {}).get("category")
        path = set(self.service.path(spec, case_row.state, category) or ())
        last: dict[str, Any] = {}
        for e in events:
            last[e.trigger] = e
        by_item = {i.key: i for i in items}
        values: list[Any] = []
        for col in self.cols:
            values.append(self._value(col, seq, case_row, fields, category, path, last, by_item, org))
        return values

    def _value(self, col: Column, seq: int, case_row: Any, fields: dict[str, Any], category: str | None,
               path: set[str], last: dict[str, Any], by_item: dict[str, Any], org: Any) -> Any:  # fmt: skip
        role = col.role
        if role == "seq":
            return seq
        if role == "number":
            return case_row.number
        if role == "state":
            return self.spec.states[case_row.state].label
        if role == "export":
            if col.key == "due_date":
                return case_row.due_date
            return LEVEL_LABELS.get(case_row.ladder_level, case_row.ladder_level)
        if role == "category":
            shown = path & {"classify_ban", "classify_rectify"}
            return CATEGORY_LABELS.get(category or "") if shown else None
        if role == "field":
            return self._shown(col, fields.get(col.key), org)
        if role == "date":
            if col.key == "date:create":
                return _naive(case_row.created_at).date()  # type: ignore[union-attr]
            hits = [last[t] for t in col.triggers if t in path and t in last]
            return _naive(max(hits, key=lambda e: e.seq).at).date() if hits else None  # type: ignore[union-attr]
        if role == "input":
            if not path & set(col.triggers):
                return None
            assert col.field is not None
            if col.field in self.stored_by and col.field in fields:
                return self._shown(col, fields.get(col.field), org)
            hits = [last[t] for t in col.triggers if t in last]
            if not hits:
                return None
            event = max(hits, key=lambda e: e.seq)
            return self._shown(col, (event.payload.get("fields") or {}).get(col.field), org)
        if role == "item":
            return self._item_day(col, by_item)
        if role == "item_input":
            item = by_item.get(col.item or "")
            return self._shown(
                col, (item.data or {}).get(col.field or "") if item is not None and item.done else None, org
            )
        return None

    def _item_day(self, col: Column, by_item: dict[str, Any]) -> Any:
        if col.item == RECTIFICATION:
            chosen = [i for i in by_item.values() if i.checklist == "rectification"]
            if not chosen or not all(i.done for i in chosen):
                return None
            return max(_naive(i.done_at).date() for i in chosen)  # type: ignore[union-attr]
        item = by_item.get(col.item or "")
        return _naive(item.done_at).date() if item is not None and item.done else None  # type: ignore[union-attr]

    def _shown(self, col: Column, value: Any, org: Any) -> Any:
        if value is None or value == "" or value == []:
            return None
        key = col.field or col.key
        if col.kind == "dept":
            return org.name(str(value))
        if col.kind == "dept_list":
            return "、".join(org.name(str(v)) for v in value)
        if col.kind == "date":
            return date.fromisoformat(str(value)) if isinstance(value, str) else value
        if col.kind == "integer":
            return int(value)
        if isinstance(value, list):
            return "、".join(self.vocab.label(key, v) for v in value)
        return self.vocab.label(key, value)


def _conditions(
    spec_type: str, state: str | None, department: str | None, visible_to: tuple[str, str] | None = None
) -> list[Any]:
    """Filters as ``case list`` has them: the department is the lead unit, the town, or the
    executor of an open item; ``visible_to`` (unit, username) keeps what that user may see."""
    cases_, items = repo.CASES, repo.ITEMS
    conditions = [cases_.c.type == spec_type]
    if visible_to is not None:
        unit, username = visible_to
        mine = cases_.c.id.in_(select(repo.UNITS.c.case_id).where(repo.UNITS.c.unit == unit))
        conditions.append(or_(mine, cases_.c.created_by == username))
    if state:
        conditions.append(cases_.c.state == state)
    if department:
        open_items = select(items.c.case_id).where(and_(items.c.executor == department, items.c.done.is_(False)))
        conditions.append(
            or_(cases_.c.lead_unit == department, cases_.c.town == department, cases_.c.id.in_(open_items))
        )
    return conditions


def _export_batches(
    conn: Connection, conditions: list[Any]
) -> Iterator[tuple[list[Any], dict[int, list[Any]], dict[int, list[Any]]]]:
    """Pages of (case rows, events by case, items by case), in id order."""
    cases_, events_, items_ = repo.CASES, repo.EVENTS, repo.ITEMS
    last = 0
    while True:
        rows = list(
            conn.execute(select(cases_).where(and_(*conditions, cases_.c.id > last)).order_by(cases_.c.id).limit(500))
        )
        if not rows:
            return
        ids = [r.id for r in rows]
        events: dict[int, list[Any]] = {i: [] for i in ids}
        wanted = (events_.c.case_id, events_.c.seq, events_.c.at, events_.c.trigger, events_.c.payload)
        for e in conn.execute(
            select(*wanted).where(events_.c.case_id.in_(ids)).order_by(events_.c.case_id, events_.c.seq)
        ):
            events[e.case_id].append(e)
        items: dict[int, list[Any]] = {i: [] for i in ids}
        for i in conn.execute(select(items_).where(items_.c.case_id.in_(ids))):
            items[i.case_id].append(i)
        yield rows, events, items
        last = ids[-1]


class LedgerService(_ImportService):
    """Ledger import (see ``_ImportService``) and the exports: ledger, template, history, and
    the annotated copy of a ledger with problems."""

    # --- the ledger ----------------------------------------------------------------------------

    def export_ledger(
        self,
        target: Path,
        *,
        case_type: str | None = None,
        state: str | None = None,
        department: str | None = None,
        visible_to: tuple[str, str] | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """The current ledger, one sheet per type (or the one type asked for); ``visible_to``
        (unit, username) limits it to the cases that user may see, as ``CaseService`` does."""
        selected = self.selection(case_type, state)
        code = self.org.resolve(department, "department") if department else None
        sheets = []
        with self.db.read() as conn:
            totals = {t: int(conn.execute(select(func.count()).select_from(repo.CASES).where(and_(*_conditions(t, s, code, visible_to)))).scalar_one())
                      for t, s in selected}  # fmt: skip
            grand = sum(totals.values())
            with atomic_file(Path(target)) as tmp, _streamed_workbook() as workbook:
                for spec_type, wanted_state in selected:
                    spec = self.definitions.current(spec_type).spec
                    exporter = _Exporter(self, spec)
                    ws = workbook.create_sheet(spec.name)
                    _header_row(ws, [(c.header, c.width) for c in exporter.cols])
                    formats = [_format(c) for c in exporter.cols]
                    seq = 0
                    for rows, events, items in _export_batches(
                        conn, _conditions(spec_type, wanted_state, code, visible_to)
                    ):
                        for r in rows:
                            seq += 1
                            values = exporter.row(seq, r, events[r.id], items[r.id])
                            ws.append(
                                [
                                    _cell(ws, v, number_format=f) if f else v
                                    for v, f in zip(values, formats, strict=True)
                                ]
                            )
                        if progress is not None:
                            progress("export", len(rows), grand)
                    ws.auto_filter.ref = f"A1:{get_column_letter(len(exporter.cols))}{seq + 1}"
                    sheets.append({"type": spec_type, "sheet": spec.name, "rows": seq})
                workbook.save(tmp)
        return {"file": str(target), "sheets": sheets, "rows": sum(s["rows"] for s in sheets)}

    def selection(self, case_type: str | None, state: str | None) -> list[tuple[str, str | None]]:
        types = [case_type] if case_type else list(self.definitions.types)
        result = []
        for spec_type in types:
            spec = self.definitions.current(spec_type).spec
            if state is None:
                result.append((spec_type, None))
                continue
            found = Vocabulary(spec, self.org).state(state)
            if found is not None:
                result.append((spec_type, found))
            elif case_type:
                allowed = "、".join(f"{k}（{s.label}）" for k, s in spec.states.items())
                raise InvalidInput("state", f"{spec.name}没有状态“{state}”；可选：{allowed}")
        if not result:
            raise InvalidInput("state", f"没有哪类案件有状态“{state}”")
        return result

    # --- the template --------------------------------------------------------------------------

    def export_template(self, case_type: str, target: Path) -> dict[str, Any]:
        """The import template: header, one example row (skipped on import), an explanation of
        every column and its allowed values, and dropdowns for enumerations and towns."""
        spec = self.definitions.current(case_type).spec
        vocab = Vocabulary(spec, self.org)
        cols = [c for c in columns(spec.type) if c.role != "export"]
        required = {c.header for c in cols if c.required}
        workbook = Workbook()
        ws = workbook.active
        ws.title = spec.name
        for index, col in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(index)].width = col.width
            cell = ws.cell(1, index, col.header)
            cell.font, cell.fill = HEADER_FONT, REQUIRED_FILL if col.required else HEADER_FILL
            cell.comment = Comment(
                ("必填。" if col.required else "") + (col.help or "文本"), "caseflow", width=300, height=100
            )
        example = _example_row(spec, vocab, self.clock.now())
        for index, col in enumerate(cols, start=1):
            cell = ws.cell(2, index, example.get(col.key))
            if col.kind == "date":
                cell.number_format = DATE_FORMAT
            elif col.kind == "code":
                cell.number_format = "@"
        ws.freeze_panes = "A2"
        choices = _choice_lists(spec, vocab, cols)
        lists = workbook.create_sheet("可选值")
        ranges: dict[str, str] = {}
        for index, (key, (title, values)) in enumerate(choices.items(), start=1):
            letter = get_column_letter(index)
            lists.column_dimensions[letter].width = max(12, max((len(v) for v in values), default=4) * 2)
            lists.cell(1, index, title).font = HEADER_FONT
            for row, value in enumerate(values, start=2):
                lists.cell(row, index, value)
            ranges[key] = f"'可选值'!${letter}$2:${letter}${len(values) + 1}"
        for index, col in enumerate(cols, start=1):
            if col.key not in ranges:
                continue
            several = col.kind in ("enum_list", "dept_list")
            dv = DataValidation(type="list", formula1=ranges[col.key], allow_blank=True, showErrorMessage=not several,
                                errorTitle="不在可选范围内", error=f"“{col.header}”请从下拉列表中选择", promptTitle=col.header,
                                prompt="可多选，用顿号分隔" if several else "请从下拉列表中选择", showInputMessage=True)  # fmt: skip
            letter = get_column_letter(index)
            dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
            ws.add_data_validation(dv)
        _explanations(workbook.create_sheet("填写说明"), spec, cols, choices)
        workbook.move_sheet("填写说明", offset=-1)
        with atomic_file(Path(target)) as tmp:
            workbook.save(tmp)
        return {
            "file": str(target),
            "type": case_type,
            "columns": [c.header for c in cols],
            "required": sorted(required),
        }

    # --- one case's history --------------------------------------------------------------------

    def export_history(self, ref: str | int, target: Path) -> dict[str, Any]:
        """Every event of one case: seq, time, actor, trigger, from → to, comment, hash."""
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            spec = self.definitions.pinned(conn, row.definition_version).spec
            events = repo.history(conn, row.id)
        labels = {**TRIGGER_WORDS, **{t.trigger: t.label for t in reversed(spec.transitions)}}
        states = {k: f"{s.label}（{k}）" for k, s in spec.states.items()}
        with atomic_file(Path(target)) as tmp, _streamed_workbook() as workbook:
            ws = workbook.create_sheet("办理记录")
            _header_row(ws, list(HISTORY_HEADERS))
            for e in events:
                payload = e.payload or {}
                name = labels.get(e.trigger, e.trigger)
                if e.trigger == "complete_item" and payload.get("item"):
                    found = spec.item(payload["item"])
                    name = f"完成事项：{found[1].label if found else payload['item']}"
                ws.append([
                    e.seq, _cell(ws, _naive(e.at), number_format=TIME_FORMAT), e.actor, e.trigger, name,
                    states.get(e.from_state, e.from_state) if e.from_state else "—", states.get(e.to_state, e.to_state),
                    e.comment, "是" if payload.get("imported") else None,
                    json.dumps(payload, ensure_ascii=False, sort_keys=True), e.hash, e.prev_hash,
                ])  # fmt: skip
            info = workbook.create_sheet("案件信息")
            info.column_dimensions["A"].width, info.column_dimensions["B"].width = 12, 70
            for key, value in (
                ("编号", row.number), ("类型", spec.name), ("标题", row.title), ("当前状态", states[row.state]),
                ("办理期限", row.due_date), ("督办等级", LEVEL_LABELS.get(row.ladder_level, row.ladder_level)),
                ("登记人", row.created_by), ("登记时间", _naive(row.created_at)), ("事件数", row.event_seq),
                ("链头哈希", row.head_hash),
            ):  # fmt: skip
                fmt = DATE_FORMAT if isinstance(value, date) and not isinstance(value, datetime) else TIME_FORMAT
                info.append(
                    [
                        _cell(info, key, font=HEADER_FONT),
                        _cell(info, value, number_format=fmt) if isinstance(value, date) else value,
                    ]
                )
            workbook.save(tmp)
        return {"file": str(target), "case": row.number, "events": len(events)}

    # --- the annotated copy --------------------------------------------------------------------

    def annotate(self, report: ImportReport, source: Path, target: Path) -> Path:
        """A copy of the ledger with every problem marked: the cell filled red with a comment,
        a 问题说明 column, and a 问题清单 sheet listing them all. Small workbooks keep their own
        formatting; large ones are copied value by value (streaming)."""
        by_row: dict[int, list[Problem]] = {}
        for p in report.problems:
            by_row.setdefault(p.row, []).append(p)
        with atomic_file(Path(target)) as tmp:
            if report.rows <= FULL_ANNOTATE_ROWS:
                _annotate_in_place(Path(source), tmp, report, by_row)
            else:
                _annotate_streaming(Path(source), tmp, report, by_row)
        report.annotated = str(target)
        return Path(target)


@contextmanager
def _streamed_workbook() -> Iterator[Any]:
    """A write-only workbook; if the block fails (or Ctrl-C), its half-written sheets are closed
    and their temporary files removed."""
    workbook = Workbook(write_only=True)
    try:
        yield workbook
    except BaseException:
        for ws in workbook.worksheets:
            writer = getattr(ws, "_writer", None)
            with suppress(Exception):
                if not ws.closed:
                    ws.close()
            if writer is not None:
                with suppress(OSError):
                    os.remove(writer.out)
        raise


def _format(col: Column) -> str | None:
    if col.kind == "date":
        return DATE_FORMAT
    if col.kind == "code" or col.role == "number":
        return "@"
    return None


def _example_row(spec: WorkflowSpec, vocab: Vocabulary, now: datetime) -> dict[str, Any]:
    today = _local_day(now)
    towns = vocab.towns()
    town = "孔城镇" if "孔城镇" in towns else towns[0]
    if spec.type == "enterprise_issue":
        return {
            "seq": EXAMPLE_MARK, "title": "园区企业用电增容审批慢", "description": "企业新上生产线，申请用电增容三个月未办结。",
            "category": "生产要素", "source": "走访", "enterprise_name": "桐城市示例包装有限公司",
            "uscc": "914403001922038216", "town": town, "industry": "绿色包装", "contact": "王经理 13800000000",
            "class": "一般", "state": spec.states["assigned"].label if "assigned" in spec.states else None,
            "date:create": today, "lead_unit": "市供电公司", "instructions": "请于规定时限内答复企业", "date:assign": today,
        }  # fmt: skip
    return {
        "seq": EXAMPLE_MARK, "site_name": "孔城镇某塑料颗粒加工点", "operator": "经营者甲", "address": "孔城镇桐梓村三组",
        "town": town, "village": "桐梓村", "power_account": "340881000123", "source": "网格巡查",
        "violations": "环境违法、无证无照", "state": spec.states["clearing"].label if "clearing" in spec.states else None,
        "date:create": today, "date:start_verification": today, "category": "取缔关闭", "date:classify": today,
        "plan": "依法取缔，实施两断三清", "cut_gas": "否", "item:cut_power": today, "meter_reading": "12345.6",
    }  # fmt: skip


def _choice_lists(spec: WorkflowSpec, vocab: Vocabulary, cols: list[Column]) -> dict[str, tuple[str, list[str]]]:
    """Column key → (title, values) of every enumeration the template offers in a dropdown."""
    result: dict[str, tuple[str, list[str]]] = {}
    for col in cols:
        if col.kind in ("enum", "enum_list", "yes_no"):
            key = "state" if col.role == "state" else (col.field or col.key)
            values = list(vocab.choices(key))
            if values:
                result[col.key] = (col.header, values)
        elif col.kind == "dept" and col.key == "town":
            result[col.key] = (col.header, vocab.towns())
        elif col.kind in ("dept", "dept_list"):
            result[col.key] = (col.header, vocab.department_names())
    return result


def _explanations(ws: Any, spec: WorkflowSpec, cols: list[Column], choices: dict[str, tuple[str, list[str]]]) -> None:
    headers = [("列名", 18), ("是否必填", 10), ("填写说明", 60), ("可选值", 80)]
    for index, (title, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
        cell = ws.cell(1, index, title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    ws.freeze_panes = "A2"
    for row, col in enumerate(cols, start=2):
        allowed = "、".join(choices[col.key][1]) if col.key in choices else ""
        ws.cell(row, 1, col.header)
        ws.cell(row, 2, "必填" if col.required else "")
        ws.cell(row, 3, col.help or ("日期" if col.kind == "date" else "文本"))
        ws.cell(row, 4, allowed)
    notes = (
        f"本模板用于导入{spec.name}台账。表头可以不在第一行（上方可有标题行），列的顺序不限，可删去不用的列。",
        "“当前状态”不是初始状态时，系统按流程规则从登记起逐步补记各环节（以填写的日期为准，只填日期的按当天 9:00 计），"
        "期限按当时的工作日历计算，办理记录标注为台账导入。",
        "序号填“示例”的行不会导入。导入前可先用 --dry-run 校验；有问题时会生成标注了问题的副本（*.errors.xlsx）。",
    )
    start = len(cols) + 3
    for offset, text in enumerate(notes):
        ws.cell(start + offset, 1, text)


def _problem_sheet(workbook: Any, report: ImportReport, write_only: bool) -> None:
    ws = workbook.create_sheet("问题清单")
    headers = [("行号", 8), ("列", 6), ("列名", 20), ("问题", 80), ("原值", 30)]
    if write_only:
        _header_row(ws, headers)
    else:
        for index, (title, width) in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
            cell = ws.cell(1, index, title)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        ws.freeze_panes = "A2"
    for p in report.problems:
        ws.append([p.row, p.column or "—", p.header, p.reason, p.value])
    for note in report.notices:
        ws.append([None, None, "提示", note, None])


def _row_note(problems: list[Problem]) -> str:
    return "；".join(f"{p.column + '列' if p.column else ''}{p.header}：{p.reason}" for p in problems)


def _annotate_in_place(source: Path, target: Path, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = load_workbook(source)
    ws = workbook[report.sheet]
    note_col = ws.max_column + 1
    header = ws.cell(report.header_row, note_col, "问题说明")
    header.font, header.fill = HEADER_FONT, PROBLEM_FILL
    ws.column_dimensions[get_column_letter(note_col)].width = 60
    for row, problems in by_row.items():
        texts: dict[str, list[str]] = {}
        for p in problems:
            if p.column:
                texts.setdefault(p.column, []).append(p.reason)
        for letter, reasons in texts.items():
            cell = ws[f"{letter}{row}"]
            if isinstance(cell, MergedCell):
                cell = next(ws.cell(r.min_row, r.min_col) for r in ws.merged_cells.ranges if cell.coordinate in r)
            cell.fill, cell.font = PROBLEM_FILL, PROBLEM_FONT
            cell.comment = Comment("\n".join(reasons), "caseflow", width=320, height=120)
        note = ws.cell(row, note_col, _row_note(problems))
        note.font = PROBLEM_FONT
    _problem_sheet(workbook, report, write_only=False)
    workbook.save(target)


def _annotate_streaming(source: Path, target: Path, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    original = open_workbook(source)
    try:
        ws_in = original[report.sheet]
        ws_in.reset_dimensions()
        with _streamed_workbook() as workbook:
            _copy_marked(ws_in, workbook, report, by_row)
            _problem_sheet(workbook, report, write_only=True)
            workbook.save(target)
    finally:
        original.close()


def _copy_marked(ws_in: Any, workbook: Any, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    """Copy the sheet value by value; problem cells red with a comment, notes in a last column."""
    ws = workbook.create_sheet(report.sheet)
    note_at = 0
    rows = ws_in.iter_rows(values_only=True)
    try:
        for number, values in enumerate(rows, start=1):
            problems = by_row.get(number, [])
            reasons: dict[str, list[str]] = {}
            for p in problems:
                if p.column:
                    reasons.setdefault(p.column, []).append(p.reason)
            cells: list[Any] = []
            for index, value in enumerate(values, start=1):
                letter = get_column_letter(index)
                if letter in reasons:
                    cells.append(
                        _cell(ws, value, fill=PROBLEM_FILL, font=PROBLEM_FONT, comment="\n".join(reasons[letter]))
                    )
                else:
                    cells.append(value)
            if number == report.header_row:
                note_at = len(values)
                cells.append("问题说明")
            elif problems:
                cells += [None] * max(0, note_at - len(values)) + [_row_note(problems)]
            ws.append(cells)
    finally:
        rows.close()
