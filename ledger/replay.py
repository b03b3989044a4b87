"""One ledger (台账) row's history replayed through the rulebook.

``Replay`` registers the case, then the steps of the shortest path from the initial state to the
row's current state (``ledger.catalog``; a flag column's value excludes the steps of its other
values) are decided by the definition's own ``Rulebook`` at the historical instants the row
gives, with ``cases.supervision`` computing the deadlines, exactly as ``CaseService`` would have
done at the time. Items done before the import (断电 on a date …) are completed by the rulebook
too; where a checklist requires evidence, the evidence is the source ledger itself (its SHA-256).
Every event carries ``"imported": true``; the first one has the trigger ``import`` with the
source file's SHA-256, sheet and row.

Nothing here names a step or a state: what a replay needs beyond the graph (the steps a ledger
does not list, which column a refusing guard points at) is in the ledger definition. Reading the
row's cells is ``ledger.planner``'s; writing the cases is ``ledger.importer``'s.
"""

from datetime import UTC, date, datetime, time
from typing import Any

from cases import staffing, supervision
from ledger.cells import as_text
from ledger.context import DAY_START, ITEMS_HINT, ImportContext, Planned, RowFault, is_open, title_of
from ledger.model import Column
from ledger.report import Problem
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied, TransitionNotAllowed
from workflow.org import SYSTEM_ROLE, Actor
from workflow.spec import ActorRule

_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


def _utc(day: date, at: time | None) -> datetime:
    return datetime.combine(day, at or DAY_START, SHANGHAI).astimezone(UTC)


def _local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


class Replay:
    """One row replayed through the rulebook: registration, then the path to its state."""

    def __init__(self, ctx: ImportContext, row: int, parsed: dict[str, Any], raw_of: dict[str, Any]) -> None:
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
        chosen = {col.key: self._flag(col, target) for col in ctx.definition.flags}
        path = ctx.catalog.path(ctx.spec, target, ctx.definition.excluded(chosen))
        if path is None:
            raise RowFault("state", f"无法从初始状态到达“{ctx.spec.states[target].label}”")
        if path and not ctx.importer.has("dispatcher"):
            raise RowFault("state", "导入已在办理中的案件（当前状态不是初始状态）须由联席办调度员操作")
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
            raise RowFault("state", f"未知状态“{as_text(self.parsed['state'])}”；可选：{allowed}")
        return found

    def _flag(self, col: Column, target: str) -> str | None:
        """The value of a flag column (整治类别) for the row: implied by the states its steps lead
        to, given (or inferred from the columns filled) for the states after them."""
        graph = self.ctx.catalog.flag_states(self.ctx.spec, col)
        labels = [v.label for v in col.values]
        given = self.parsed.get(col.key)
        if given is not None and given not in {v.value for v in col.values}:
            raise RowFault(col.key, f"{col.header}“{as_text(self.raw_of[col.key])}”无效；可选：{'、'.join(labels)}")
        implied = graph.implied.get(target)
        if implied is not None:
            if given is not None and given != implied:
                label = self.ctx.spec.states[target].label
                wanted = next(v.label for v in col.values if v.value == implied)
                raise RowFault(col.key, f"状态为“{label}”时{col.header}应为“{wanted}”")
            if given is not None:
                self.used.add(col.key)
            return implied
        if target not in graph.after:
            return None  # a value given here is reported as not used by this state
        self.used.add(col.key)
        if given is not None:
            return str(given)
        for value in reversed(col.values):  # when several are implied, the later value listed wins
            if any(k in self.parsed for k in graph.known_by[value.value]):
                return value.value
        reason = (
            col.when_missing or f"“{self.ctx.spec.states[target].label}”状态须填写{col.header}（{'或'.join(labels)}）"
        )
        raise RowFault(col.key, reason)

    def _instant(self, key: str | None) -> datetime:
        """The instant of an event whose day is in column ``key`` (default: the previous one)."""
        if key is None or key not in self.parsed:
            return self.last_at
        self.used.add(key)
        day, clock = self.parsed[key]
        now = self.ctx.now
        if day > _local_day(now):
            raise RowFault(key, f"日期 {day} 晚于今天（{_local_day(now)}）")
        if day < _local_day(self.last_at):
            before = self.ctx.cols[self.last_key].header if self.last_key in self.ctx.cols else "登记日期"
            raise RowFault(key, f"日期 {day} 早于{before}（{_local_day(self.last_at)}），办理日期须按先后顺序")
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
            raise RowFault(
                "town" if "town" in inputs else None,
                f"无权登记该案件：登记{spec.name}只能由{ctx.rulebook.describe(spec.create.actors)}办理",
            )
        try:  # registration's own rules (a subsidy under 200 万元), and the computed fields
            ctx.rulebook.register(draft, inputs)
        except GuardFailed as refused:
            raise RowFault(None, refused.reason) from None
        inputs = dict(draft.fields)
        meta: dict[str, Any] = {
            "type": spec.type, "definition_version": spec.version, "state": draft.state, "version": 1,
            "title": title_of(spec, inputs), "lead_unit": None,
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
                given[col.field or col.key] = value
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
            if branches and all(r.role == SYSTEM_ROLE for r in branches[0].actors):
                at = self._scheduled(branches[0].dest)
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
            raise RowFault(self._input_key(trigger, name), reason) from None
        except GuardFailed as exc:
            key = self._guard_key(exc.guard, trigger)
            hint = ITEMS_HINT if key in self.ctx.cols and self.ctx.cols[key].role in ("item", "items_all") else ""
            raise RowFault(key, exc.reason + hint) from None
        except (PermissionDenied, TransitionNotAllowed) as exc:
            raise RowFault("state", exc.message) from None
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

    def _scheduled(self, dest: str | None) -> datetime:
        """A step of the system happens when the case's deadline passes (回头看到期)."""
        due = self.meta.get("due_at")
        if due is None or due > self.ctx.now:
            label = self.ctx.spec.states[dest].label if dest else self.ctx.spec.states[self.draft.state].label
            raise RowFault("state", f"“{label}”尚未到期（到期时间 {due}）")
        self.last_at = max(self.last_at, due)
        return self.last_at

    def _record(
        self, trigger: str, actor: str, from_state: str, payload: dict[str, Any], at: datetime, columns_: dict[str, Any]
    ) -> None:
        draft, meta, spec = self.draft, self.meta, self.ctx.spec
        payload["imported"] = True
        payload["row"] = self.row
        closing = spec.states[draft.state].is_closed
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
        """What must have happened before ``trigger`` that a ledger does not list (the ledger
        definition's ``before``: co-units' acceptance and feedback before the lead unit's answer),
        fired by each unit the step's actor rule names, at the instant of ``trigger``."""
        steps = self.ctx.definition.before.get(trigger)
        if not steps or not self.ctx.spec.branches(trigger, self.draft.state):
            return
        at = self._instant(self._date_key(trigger))
        for unit, (step, role) in self._units_for(steps):
            actor = Actor(self.ctx.importer.username, unit, frozenset({role}))
            try:
                self._fire(step.trigger, dict(step.inputs), actor, at)
            except RowFault:
                continue  # refused (done before): the step that needs it says what is missing

    def _units_for(self, steps: Any) -> list[tuple[str, Any]]:
        """(unit, (step, role)) in the order a unit does its steps: unit by unit, step by step."""
        ctx, draft = self.ctx, self.draft
        result = []
        by_step = []
        for step in steps:
            branches = ctx.spec.branches(step.trigger, draft.state)
            rules = branches[0].actors if branches else ()
            units: list[tuple[str, str]] = []
            for rule in rules:
                if rule.department is not None:
                    units.append((rule.department, rule.role))
                elif rule.unit is not None:
                    units += [(u, rule.role) for u in sorted(ctx.rulebook.units(draft, rule.unit))]
            by_step.append((step, units))
        for unit in sorted({u for _, units in by_step for u, _ in units}):
            for step, units in by_step:
                for code, role in units:
                    if code == unit:
                        result.append((unit, (step, role)))
                        break
        return result

    def _items_of_state(self) -> None:
        """Complete, in the order of their days, the items of the current stage the row dates."""
        ctx, draft = self.ctx, self.draft
        dated = []
        for checklist in ctx.spec.checklists.values():
            if checklist.state != draft.state:
                continue
            for item in draft.items_of(checklist.name):
                key = ctx.item_column.get(item.key)
                if item.done or key is None or key not in self.parsed:
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
                given[col.field or k] = self.parsed[k]
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
            raise RowFault(column, reason) from None
        except (GuardFailed, PermissionDenied) as exc:
            raise RowFault(key, exc.message) from None
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
        """The column a refusing guard points at: the definition's choice, else the first item
        of the current stage not done (a step waiting for its checklist), else the step's day."""
        ctx = self.ctx
        if guard in ctx.definition.guards:
            return ctx.definition.guards[guard]
        stage = {c.name for c in ctx.spec.checklists.values() if c.state == self.draft.state}
        for item in sorted(self.draft.items.values(), key=lambda i: i.position):
            if not item.done and item.checklist in stage and item.key in ctx.item_column:
                return ctx.item_column[item.key]
        return self._date_key(trigger) or "state"

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
        if not ctx.unstaffed or self.target is None or not is_open(self.target, ctx.spec):
            return []
        problems = []
        for key, units in (("lead_unit", [fields.get("lead_unit")]), ("co_units", fields.get("co_units") or [])):
            missing = [u for u in units if u in ctx.unstaffed]
            if missing:
                reason = f"{staffing.message(ctx.org, missing)}，然后重新导入"
                problems.append(ctx.problem(self.row, key, reason, self.raw_of.get(key)))
        return problems

    def planned(self, number: str | None, year: int, key: tuple[str, ...] | None) -> Planned:
        executors = {k: self.ctx.rulebook.executor(k, self.draft) for k in self.draft.items}
        return Planned(self.row, number, year, self.meta, self.draft, executors, self.events, key)
