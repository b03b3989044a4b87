"""One ledger (台账) row planned: its cells read and its history replayed through the rulebook.

``RowPlanner`` holds what one import knows (the sheet's columns, the vocabulary, the numbers and
open cases already taken) and turns each row into a ``Planned`` case (its columns, checklist items
and events) or into the ``Problem``s that stop it. ``_Replay`` registers the case, then the
triggers of the shortest path from the initial state to the row's current state are decided by
the definition's own ``Rulebook`` at the historical instants the row gives, with
``cases.supervision`` computing the deadlines, exactly as ``CaseService`` would have done at the
time. Items done before the import (断电 on a date …) are completed by the rulebook too; where a
checklist requires evidence, the evidence is the source ledger itself (its SHA-256). Every event
carries ``"imported": true``; the first one has the trigger ``import`` with the source file's
SHA-256, sheet and row.

Nothing here reads a file or touches the database: reading the sheet, loading what is taken and
writing the cases is ``cases.ledger_import``'s.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from cases import staffing, supervision
from cases.ledger_columns import (
    LOST_DIGITS,
    RECTIFICATION,
    CellError,
    Column,
    Vocabulary,
    as_text,
    blank,
    columns,
    fold,
    loose,
    lossy,
    read_code,
    read_date,
)
from cases.ledger_report import ImportReport, Problem
from cases.ledger_sheet import Layout
from cases.views import CLOSED_STATES, is_open
from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.durations import Duration
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied, TransitionNotAllowed
from workflow.fields import check_inputs, normalise
from workflow.org import SYSTEM_ROLE, Actor
from workflow.rulebook import Rulebook
from workflow.spec import ActorRule, WorkflowSpec
from workflow.uscc import check_uscc

if TYPE_CHECKING:
    from cases.ledger_import import LedgerImport

DAY_START = time(9, 0)
"""The time of day of an event given by a date only (office hours start)."""
GUARD_COLUMNS = {
    "co_units_exclude_lead": "co_units", "lead_unit_changes": "lead_unit", "before_due": "date:request_extension",
    "extension_limits": "extension_days", "other_item_described": "other_item",
    "rectify_deadline_within_limit": "deadline", "all_co_units_fed_back": "co_units",
}  # fmt: skip


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


class RowPlanner:
    """The state of one import: the sheet's columns, the vocabulary, what the rows hold; ``plan``
    turns one row into a ``Planned`` case or its problems."""

    def __init__(self, service: "LedgerImport", spec: WorkflowSpec, rulebook: Rulebook, importer: Actor,
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
        self.unstaffed: set[str] = set()
        """Units without an active handler (loaded by the import): an open case may not name them."""
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
        problems += replay.leftovers() + replay.unstaffed()
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

    def __init__(self, ctx: RowPlanner, row: int, parsed: dict[str, Any], raw_of: dict[str, Any]) -> None:
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
        self.target: str | None = None

    # --- the walk ------------------------------------------------------------------------------

    def run(self, inputs: dict[str, Any]) -> None:
        ctx = self.ctx
        target = self.target = self._target()
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
        confirming = item.status == "awaiting_confirmation"
        if confirming:
            payload["confirm_by"] = ctx.rulebook.confirmer(item_key, draft)
        self._record("complete_item", actor.username, draft.state, payload, at, {})
        if confirming:  # the ledger's day is the day the item was done: its department confirmed it then
            confirmer = self._actor(item_spec.confirmed_by)
            recorded = ctx.rulebook.decide_item(draft, item_key, "confirm", confirmer, None, at, [])
            decision = {"item": item_key, "decision": "confirm", **recorded, "unit": confirmer.department}
            self._record("confirm_item", confirmer.username, draft.state, decision, at, {})
        item.data = {**item.data, "imported": True}

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

    def unstaffed(self) -> list[Problem]:
        """A row whose case stays open may not name a lead unit or co-units without an active
        handler (nobody could act on it). A closed case waits on nobody: its history is kept."""
        ctx, fields = self.ctx, self.draft.fields
        if not ctx.unstaffed or self.target is None or not is_open(self.target, ctx.rulebook):
            return []
        problems = []
        for key, units in (("lead_unit", [fields.get("lead_unit")]), ("co_units", fields.get("co_units") or [])):
            missing = [u for u in units if u in ctx.unstaffed]
            if missing:
                reason = f"{staffing.message(ctx.org, missing)}，然后重新导入"
                problems.append(ctx.problem(self.row, key, reason, self.raw_of.get(key)))
        return problems

    def planned(self, number: str | None, year: int, key: tuple[str, str] | None) -> Planned:
        executors = {k: self.ctx.rulebook.executor(k, self.draft) for k in self.draft.items}
        return Planned(self.row, number, year, self.meta, self.draft, executors, self.events, key)


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
