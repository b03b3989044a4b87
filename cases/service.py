"""Case services: every call is one transaction that locks the case, asks ``workflow`` what
follows, and writes the case, its items, one hash-chained event and the evidence rows.

Permissions are enforced here (through the rulebook's actor rules), not only at the edges. A
stale ``expected_version`` is a ``VersionConflict``; a refused call changes nothing. Deadlines,
the supervision ladder and the outbox are added by later layers through the same transaction.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row

from cases import audit, obligations, responsibility, staffing, supervision
from cases import repository as repo
from cases.changes import ChangeRecord, ChangeSink, write_change
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore, StoredFile
from cases.views import case_view, event_view, is_open
from workflow import ladder
from workflow.calendar import WorkingCalendar
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI, Clock
from workflow.errors import (
    GuardFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    VersionConflict,
)
from workflow.fields import check_inputs
from workflow.obligations import owed
from workflow.org import Actor
from workflow.rulebook import Rulebook

MAX_COMMENT = 2000
ALL_SEEING = frozenset({"dispatcher", "supervisor", "convenor", "admin", "system"})
"""Roles that see every case; other users see the cases of their unit and those they registered."""
MAX_PAGE_SIZE = 500
ITEM_TRIGGERS = {
    "waive": "waive_item",
    "approve_waiver": "approve_waiver",
    "reject_waiver": "reject_waiver",
    "confirm": "confirm_item",
    "reject": "reject_item",
}
"""Decision on an item (``Rulebook.decide_item``) → the trigger its event is recorded under."""


@dataclass(frozen=True)
class Upload:
    """A file handed in with an action: the name people gave it and its bytes."""

    name: str
    data: bytes


def _total(shown: int, limit: int | None, offset: int, count: Callable[[], int]) -> int:
    """All the entries of a paged list: counted only when the page may not hold the last one."""
    if limit is None or (shown < limit and (shown or not offset)):
        return offset + shown
    return count()


def _comment(comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    text = comment.strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput("comment", f"备注最多{MAX_COMMENT}个字，实际{len(text)}个字")
    return text


class CaseService:
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
        self.sinks: list[ChangeSink] = []
        """Called in each change's transaction (the notification outbox); set by the root."""

    # --- commands ------------------------------------------------------------------------------

    def create(
        self, case_type: str, actor: Actor, fields: dict[str, Any], *, comment: str | None = None
    ) -> dict[str, Any]:
        """Register a new case in its workflow's initial state."""
        rulebook = self.definitions.current(case_type)
        spec = rulebook.spec
        inputs = check_inputs(spec.fields, fields, spec.create.required, spec.create.optional, self.org, what="登记")
        note = _comment(comment)
        draft = CaseDraft(type=spec.type, number="", state=spec.initial, fields=inputs)
        if not rulebook.permitted(spec.create.actors, actor, draft):
            raise PermissionDenied(f"登记{spec.name}只能由{rulebook.describe(spec.create.actors)}办理")
        rulebook.register(draft, inputs)
        inputs = draft.fields
        now = self.clock.now()
        with self.db.write() as conn:
            self.definitions.register(conn, now)
            draft.number = repo.next_number(conn, spec.type, spec.number_prefix, now.astimezone(SHANGHAI).year)
            meta: dict[str, Any] = {
                "number": draft.number, "type": spec.type, "definition_version": spec.version,
                "state": draft.state, "version": 1, "title": str(inputs.get(spec.title_field) or ""),
                "lead_unit": None, "town": inputs.get("town"), "uscc": inputs.get("uscc"),
                "fields": inputs, "counters": {}, "co_units": {}, "flags": {},
                "due_at": None, "due_date": None, "due_provisional": False,
                "ladder_level": "normal", "supervision": "normal", "deadline_seq": 0, "next_check_at": None,
                "created_by": actor.username, "created_at": now, "updated_at": now, "closed_at": None,
            }  # fmt: skip
            calendar = self.calendar(conn)
            clock = supervision.after_decision(spec, draft, meta, spec.initial, False, now, calendar)
            wanted = owed(rulebook, draft)
            draft.flags["units"] = obligations.marks(rulebook, draft, wanted)
            payload = {"fields": inputs, "unit": actor.department, "definition_version": spec.version}
            if clock.note is not None:
                payload["deadline"] = clock.note
            content = audit.event_content(
                draft.number, 1, now, actor.username, "create", None, draft.state, note, payload
            )
            head = audit.chain_hash(audit.GENESIS, content)
            meta.update(clock.columns, flags=draft.flags, event_seq=1, head_hash=head)
            meta["id"] = repo.insert_case(conn, meta)
            repo.set_units(conn, meta["id"], {}, draft.flags["units"])
            obligations.reconcile(
                conn, rulebook, draft, meta, actor=actor.username, actor_unit=actor.department, trigger="create",
                now=now, calendar=calendar, fresh=True, wanted=wanted,
            )  # fmt: skip
            repo.append_event(
                conn,
                {
                    "case_id": meta["id"], "seq": 1, "at": now, "actor": actor.username, "trigger": "create",
                    "from_state": None, "to_state": draft.state, "comment": note, "payload": payload,
                    "prev_hash": audit.GENESIS, "hash": head,
                },
            )  # fmt: skip
            record = ChangeRecord(meta, draft, rulebook, "create", actor.username, None, note, payload, 1, now)
            for sink in self.sinks:
                sink.on_change(conn, record)
            return self._view(meta, draft, rulebook, actor, conn)

    def advance(
        self,
        ref: str | int,
        trigger: str,
        actor: Actor,
        fields: dict[str, Any] | None = None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
        evidence: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """Fire ``trigger`` on the case as ``actor`` with the given input fields."""
        note = _comment(comment)
        checked = [self.evidence.check(u.data, u.name) for u in evidence]
        now = self.clock.now()
        with self.db.write() as conn:
            row, rulebook, items, draft = self._load(conn, ref, expected_version, actor)
            if trigger in ladder.MANUAL_TRIGGERS:
                if checked:
                    raise InvalidInput("evidence", "督办操作不接受证明材料")
                return self._raise_by_hand(conn, row, items, draft, rulebook, trigger, actor, fields or {}, note, now)
            try:
                decision = rulebook.decide(draft, trigger, actor, fields or {}, now, [f.sha256 for f in checked])
            except TransitionNotAllowed as refused:  # list what this actor may do, the ladder included
                allowed = self._view(row, draft, rulebook, actor)["allowed_triggers"]
                raise TransitionNotAllowed(refused.trigger, refused.state, allowed) from None
            named = staffing.newly_named(row["fields"], draft.fields)
            staffing.require_staffed(conn, self.org, named, decision.transition.label)
            payload: dict[str, Any] = {"fields": decision.inputs, "unit": actor.department}
            if decision.transition.cites:  # the views the decision rests on (认定: town, 生态环境分局)
                payload["views"] = {name: draft.flags.get(name) for name in decision.transition.cites}
            if draft.signals:
                payload["signals"] = list(draft.signals)
            computed = _computed_changes(rulebook, row["fields"] or {}, draft.fields)
            if computed:  # the history shows a recomputed amount with the inputs it follows from
                payload["computed"] = computed
            internal = decision.transition.dest is None
            calendar = self.calendar(conn)
            clock = supervision.after_decision(rulebook.spec, draft, row, decision.from_state, internal, now, calendar)
            stored = self._store_files(conn, evidence)
            if clock.note is not None:
                payload["deadline"] = clock.note
            new_row = write_change(
                conn, row, items, draft, rulebook, trigger=trigger, actor=actor.username, note=note,
                payload=payload, now=now, calendar=calendar, sinks=self.sinks, columns=clock.columns, stored=stored,
            )  # fmt: skip
            return self._view(new_row, draft, rulebook, actor, conn)

    def complete_item(
        self,
        ref: str | int,
        item: str,
        actor: Actor,
        fields: dict[str, Any] | None = None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
        evidence: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """Complete a checklist item, rectification item or acceptance sign-off."""
        note = _comment(comment)
        checked = [self.evidence.check(u.data, u.name) for u in evidence]
        now = self.clock.now()
        with self.db.write() as conn:
            row, rulebook, items, draft = self._load(conn, ref, expected_version, actor)
            inputs = rulebook.complete_item(draft, item, actor, fields or {}, now, [f.sha256 for f in checked])
            payload = {"item": item, "fields": inputs, "unit": actor.department}
            if draft.items[item].status == "awaiting_confirmation":  # a permit, for its department to confirm
                payload["confirm_by"] = rulebook.confirmer(item, draft)
            stored = self._store_files(conn, evidence)
            new_row = write_change(
                conn, row, items, draft, rulebook, trigger="complete_item", actor=actor.username, note=note,
                payload=payload, now=now, calendar=self.calendar(conn), sinks=self.sinks, stored=stored,
            )  # fmt: skip
            return self._view(new_row, draft, rulebook, actor, conn)

    def decide_item(
        self,
        ref: str | int,
        item: str,
        decision: str,
        actor: Actor,
        reason: str | None = None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
        evidence: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """Declare an item 不适用 (``waive``, with a reason), approve or reject the declaration
        (``approve_waiver``, ``reject_waiver``), confirm or reject a reported permit (``confirm``,
        ``reject``); one audited event (``ITEM_TRIGGERS``)."""
        if decision not in ITEM_TRIGGERS:
            raise InvalidInput("decision", f"未知决定“{decision}”；可选：{'、'.join(ITEM_TRIGGERS)}")
        note = _comment(comment)
        checked = [self.evidence.check(u.data, u.name) for u in evidence]
        now = self.clock.now()
        with self.db.write() as conn:
            row, rulebook, items, draft = self._load(conn, ref, expected_version, actor)
            recorded = rulebook.decide_item(draft, item, decision, actor, reason, now, [f.sha256 for f in checked])
            payload = {"item": item, "decision": decision, **recorded, "unit": actor.department}
            stored = self._store_files(conn, evidence)
            new_row = write_change(
                conn, row, items, draft, rulebook, trigger=ITEM_TRIGGERS[decision], actor=actor.username,
                note=note, payload=payload, now=now, calendar=self.calendar(conn), sinks=self.sinks, stored=stored,
            )  # fmt: skip
            return self._view(new_row, draft, rulebook, actor, conn)

    def backfill_obligations(self, batch: int = 500) -> int:
        """Give every open case made before obligations existed the obligations its current
        state owes (opened now, deadlines from its running clock), and its units' 待办 marks.
        Derived data: no event, no new version; the audit chain is untouched. Returns how many
        cases got obligations; run by ``caseflow init`` after the schema upgrade (idempotent)."""
        done, seen = 0, set[int]()
        now = self.clock.now()
        while True:
            with self.db.write() as conn:
                rows = [r for r in obligations.cases_without_obligations(conn, batch) if r.id not in seen]
                calendar = self.calendar(conn)
                for found in rows:
                    seen.add(found.id)
                    row = dict(found._mapping)
                    rulebook = self.definitions.pinned(conn, row["definition_version"])
                    draft = repo.to_draft(row, repo.items_of(conn, row["id"]) if rulebook.spec.checklists else [])
                    wanted = obligations.reconcile(
                        conn, rulebook, draft, row, actor="system", actor_unit=None, trigger="backfill", now=now,
                        calendar=calendar, fresh=True,
                    ).owed  # fmt: skip
                    marks = obligations.marks(rulebook, draft, wanted)
                    before = (row["flags"] or {}).get("units") or {}
                    if marks != before:
                        repo.set_units(conn, row["id"], before, marks)
                        repo.set_flags(conn, row["id"], {**(row["flags"] or {}), "units": marks})
                    done += bool(wanted)
            if not rows:
                return done

    # --- queries -------------------------------------------------------------------------------

    def show(self, ref: str | int, actor: Actor | None = None) -> dict[str, Any]:
        """The case as ``actor`` may see it (``NotFound`` when it may not: no existence leak),
        with its obligations (责任清单), open and closed."""
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            rulebook = self.definitions.pinned(conn, row.definition_version)
            draft = repo.to_draft(row, repo.items_of(conn, row.id))
            self._check_visible(actor, row._mapping, draft, rulebook, ref)
            owed = obligations.of_case(conn, row.id)
        now = self.clock.now()
        view = self._view(row._mapping, draft, rulebook, actor)
        view["obligations"] = [responsibility.view(o, self.org, now) for o in owed]
        return view

    def todo(
        self, actor: Actor, *, limit: int | None = responsibility.MAX_TODO, offset: int = 0
    ) -> dict[str, Any]:
        """``actor``'s 待办: the open obligations of their unit they can act on now, most urgent
        first; and what the cases their unit leads wait on from others. Each list is the page of
        ``limit`` entries (None: all) from ``offset``; ``total`` and ``waiting_total`` count them all."""
        now = self.clock.now()
        unit = actor.department
        with self.db.read() as conn:
            mine = responsibility.todo(conn, unit, actor.roles, self.org, now, limit, offset)
            total = _total(len(mine), limit, offset, lambda: responsibility.count_todo(conn, unit, actor.roles))
            others = responsibility.waiting_on_others(conn, unit, self.org, now, limit, offset)
            waiting = _total(len(others), limit, offset, lambda: responsibility.count_waiting_on_others(conn, unit))
        return {"unit": unit, "unit_name": self.org.name(unit), "items": mine, "total": total,
                "waiting_on_others": others, "waiting_total": waiting}  # fmt: skip

    def history(self, ref: str | int, actor: Actor | None = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            if actor is not None:
                rulebook = self.definitions.pinned(conn, row.definition_version)
                self._check_visible(actor, row._mapping, repo.to_draft(row, repo.items_of(conn, row.id)), rulebook, ref)
            return [event_view(e) for e in repo.history(conn, row.id)]

    def evidence_file(self, sha256: str, actor: Actor | None = None) -> tuple[dict[str, Any], bytes]:
        """An evidence file and its description, if ``actor`` may see a case it belongs to."""
        with self.db.read() as conn:
            meta = repo.find_evidence(conn, sha256)
            if meta is None:
                raise NotFound("证明材料", sha256)
            if actor is not None and not actor.roles & ALL_SEEING:
                numbers = repo.cases_with_evidence(conn, sha256)
                if not any(self._can_see_number(conn, actor, n) for n in numbers):
                    raise NotFound("证明材料", sha256)
        return dict(meta._mapping), self.evidence.read(sha256)

    def list_cases(
        self,
        *,
        actor: Actor | None = None,
        case_type: str | None = None,
        state: str | None = None,
        department: str | None = None,
        town: str | None = None,
        supervision: str | None = None,
        overdue: bool = False,
        query: str | None = None,
        waiting_for: str | None = None,
        sort: str = "newest",
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """A page of the cases ``actor`` may see, filtered, with the total; ``waiting_for`` (a
        unit) keeps the cases waiting on that unit now (its to-do list)."""
        filters = self._filters(case_type, state, department, town, supervision, query, sort, page, page_size)
        with self.db.read() as conn:
            rows, total = repo.list_cases(
                conn,
                **filters,
                visible_unit=None if actor is None or actor.roles & ALL_SEEING else actor.department,
                visible_creator=None if actor is None else actor.username,
                waiting_unit=self.org.resolve(waiting_for, "department") if waiting_for else None,
                overdue_at=self.clock.now() if overdue else None,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
            items = []
            for row in rows:
                rulebook = self.definitions.pinned(conn, row.definition_version)
                view = self._view(row._mapping, repo.to_draft(row), rulebook, actor)
                del view["items"]
                items.append(view)
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def _filters(
        self, case_type: str | None, state: str | None, department: str | None, town: str | None,
        supervision: str | None, query: str | None, sort: str, page: int, page_size: int,
    ) -> dict[str, Any]:  # fmt: skip
        if case_type is not None:
            rulebook = self.definitions.current(case_type)
            if state is not None and state not in rulebook.spec.states:
                raise InvalidInput(
                    "state", f"{rulebook.spec.name}没有状态“{state}”；可选：{'、'.join(rulebook.spec.states)}"
                )
        elif state is not None:
            known = {s for spec in self.definitions.specs.values() for s in spec.states}
            if state not in known:
                raise InvalidInput("state", f"未知状态“{state}”；可选：{'、'.join(sorted(known))}")
        if supervision is not None and supervision not in ladder.LEVELS:
            raise InvalidInput("supervision", f"未知督办级别“{supervision}”；可选：{'、'.join(ladder.LEVELS)}")
        if sort not in repo.SORTS:
            raise InvalidInput("sort", f"未知排序“{sort}”；可选：{'、'.join(repo.SORTS)}")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput("page", f"页码从1开始，每页1到{MAX_PAGE_SIZE}条")
        if query is not None and len(query) > 100:
            raise InvalidInput("q", "搜索词最多100个字")
        return {
            "case_type": case_type,
            "state": state,
            "department": self.org.resolve(department, "department") if department else None,
            "town": self.org.resolve(town, "town", ("street", "town", "park")) if town else None,
            "supervision": supervision,
            "query": query.strip() if query and query.strip() else None,
            "sort": sort,
        }

    def _check_visible(
        self, actor: Actor | None, row: Any, draft: CaseDraft, rulebook: Rulebook, ref: str | int
    ) -> None:
        if actor is None or actor.roles & ALL_SEEING or row["created_by"] == actor.username:
            return
        if actor.department not in rulebook.related_units(draft):
            raise NotFound("案件", str(ref))

    def _can_see_number(self, conn: Connection, actor: Actor, number: str) -> bool:
        row = repo.find_case(conn, number)
        rulebook = self.definitions.pinned(conn, row.definition_version)
        draft = repo.to_draft(row, repo.items_of(conn, row.id))
        try:
            self._check_visible(actor, row._mapping, draft, rulebook, number)
        except NotFound:
            return False
        return True

    # --- internals -----------------------------------------------------------------------------

    def _store_files(self, conn: Connection, uploads: Sequence[Upload]) -> list[StoredFile]:
        # Called once the decision has passed, inside the transaction: a refused call writes no
        # file. Should the commit itself fail, the content-addressed file is harmless. The locks
        # keep a failing ledger import from removing a file this transaction relies on.
        for sha256 in sorted({hashlib.sha256(upload.data).hexdigest() for upload in uploads}):
            repo.lock_evidence(conn, sha256)
        return [self.evidence.put(upload.data, upload.name) for upload in uploads]

    def _load(
        self, conn: Connection, ref: str | int, expected_version: int | None, actor: Actor
    ) -> tuple[dict[str, Any], Rulebook, list[Row[Any]], CaseDraft]:
        row = repo.find_case(conn, ref, lock=True)
        rulebook = self.definitions.pinned(conn, row.definition_version)
        items = repo.items_of(conn, row.id) if rulebook.spec.checklists else []
        draft = repo.to_draft(row, items)
        self._check_visible(actor, row._mapping, draft, rulebook, ref)
        if expected_version is not None and row.version != expected_version:
            raise VersionConflict(row.number, expected_version, row.version)
        return dict(row._mapping), rulebook, items, draft

    def _raise_by_hand(
        self, conn: Connection, row: dict[str, Any], items: list[Row[Any]], draft: CaseDraft, rulebook: Rulebook,
        trigger: str, actor: Actor, fields: dict[str, Any], note: str | None, now: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A dispatcher raises the supervision level (督办 / 挂牌督办) with a reason."""
        if not actor.has("dispatcher"):
            raise PermissionDenied("只有联席办调度员可以手动督办或挂牌督办", {"trigger": trigger})
        if not is_open(row["state"], rulebook):
            raise GuardFailed("ladder_open", "案件已办结，不能再督办")
        unknown = set(fields) - {"reason"}
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "督办只接受字段 reason（督办理由）")
        reason = str(fields.get("reason") or "").strip()
        if not reason:
            raise InvalidInput("reason", "手动督办须填写理由（reason）")
        if len(reason) > 2000:
            raise InvalidInput("reason", "理由最多2000个字")
        level = ladder.fire(row["ladder_level"], trigger)
        calendar = self.calendar(conn)
        moments = supervision.current_schedule(rulebook.spec, row, calendar)
        if ladder.skips_overdue(row["ladder_level"], level) and ladder.overdue_moment(moments) is not None:
            draft.flags[supervision.OVERDUE_UNRECORDED] = row["deadline_seq"]  # recorded by the sweep at due_at
        unrecorded = supervision.overdue_unrecorded(draft.flags, row["deadline_seq"])
        columns = {"ladder_level": level, "next_check_at": supervision.next_check(level, moments, unrecorded)}
        repo.record_ladder_step(conn, row["id"], row["deadline_seq"], level, now, actor.username)
        payload = {
            "fields": {"reason": reason},
            "unit": actor.department,
            "level": level,
            "from_level": row["ladder_level"],
        }
        new_row = write_change(
            conn, row, items, draft, rulebook, trigger=trigger, actor=actor.username, note=note,
            payload=payload, now=now, calendar=calendar, sinks=self.sinks, columns=columns,
        )  # fmt: skip
        return self._view(new_row, draft, rulebook, actor, conn)

    def _view(
        self, row: Any, draft: CaseDraft, rulebook: Rulebook, actor: Actor | None, conn: Connection | None = None
    ) -> dict[str, Any]:
        """The case view; with ``conn``, its obligations too (the shape ``show`` returns)."""
        view = case_view(row, draft, rulebook, actor)
        if conn is not None:
            now = self.clock.now()
            view["obligations"] = [responsibility.view(o, self.org, now) for o in obligations.of_case(conn, row["id"])]
        if view["open"] and (actor is None or actor.has("dispatcher")):
            view["allowed_triggers"] += [
                t for t in ladder.MANUAL_TRIGGERS
                if ladder.rank(ladder.LEVEL_OF_TRIGGER[t]) > ladder.rank(row["ladder_level"])
            ]  # fmt: skip
        return view


def _computed_changes(rulebook: Rulebook, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The computed fields a decision changed (a 一事一议 amount once the convenors set it)."""
    names = [n for n, f in rulebook.spec.fields.items() if f.compute is not None]
    return {n: after.get(n) for n in names if before.get(n) != after.get(n)}
