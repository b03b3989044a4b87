"""Case services: every call is one transaction that locks the case, asks ``workflow`` what
follows, and writes the case, its items, one hash-chained event and the evidence rows.

Permissions are enforced here (through the rulebook's actor rules), not only at the edges. A
stale ``expected_version`` is a ``VersionConflict``; a refused call changes nothing. Deadlines,
the supervision ladder and the outbox are added by later layers through the same transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row

from cases import audit
from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.evidence import EvidenceStore, StoredFile
from cases.views import CLOSED_STATES, case_view, event_view
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI, Clock
from workflow.errors import InvalidInput, PermissionDenied, VersionConflict
from workflow.fields import check_inputs
from workflow.org import Actor
from workflow.rulebook import Rulebook

MAX_COMMENT = 2000
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Upload:
    """A file handed in with an action: the name people gave it and its bytes."""

    name: str
    data: bytes


def _comment(comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    text = comment.strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput("comment", f"备注最多{MAX_COMMENT}个字，实际{len(text)}个字")
    return text


class CaseService:
    def __init__(self, db: Database, definitions: Definitions, clock: Clock, evidence: EvidenceStore) -> None:
        self.db = db
        self.definitions = definitions
        self.org = definitions.org
        self.clock = clock
        self.evidence = evidence

    # --- commands ------------------------------------------------------------------------------

    def create(self, case_type: str, actor: Actor, fields: dict[str, Any], *, comment: str | None = None) -> dict[str, Any]:
        """Register a new case in its workflow's initial state."""
        rulebook = self.definitions.current(case_type)
        spec = rulebook.spec
        inputs = check_inputs(spec.fields, fields, spec.create.required, spec.create.optional, self.org, what="登记")
        note = _comment(comment)
        draft = CaseDraft(type=spec.type, number="", state=spec.initial, fields=inputs)
        if not rulebook.permitted(spec.create.actors, actor, draft):
            raise PermissionDenied(f"登记{spec.name}只能由{rulebook.describe(spec.create.actors)}办理")
        now = self.clock.now()
        with self.db.write() as conn:
            self.definitions.register(conn, now)
            draft.number = repo.next_number(conn, spec.type, spec.number_prefix, now.astimezone(SHANGHAI).year)
            payload = {"fields": inputs, "unit": actor.department, "definition_version": spec.version}
            content = audit.event_content(draft.number, 1, now, actor.username, "create", None, draft.state, note, payload)
            head = audit.chain_hash(audit.GENESIS, content)
            meta = {
                "number": draft.number,
                "type": spec.type,
                "definition_version": spec.version,
                "state": draft.state,
                "version": 1,
                "title": str(inputs.get("title") or inputs.get("site_name") or ""),
                "lead_unit": None,
                "town": inputs.get("town"),
                "uscc": inputs.get("uscc"),
                "fields": inputs,
                "counters": {},
                "co_units": {},
                "flags": {},
                "due_at": None,
                "due_date": None,
                "due_provisional": False,
                "ladder_level": "normal",
                "deadline_seq": 0,
                "next_check_at": None,
                "created_by": actor.username,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
                "event_seq": 1,
                "head_hash": head,
            }
            meta["id"] = repo.insert_case(conn, meta)
            repo.append_event(
                conn,
                {
                    "case_id": meta["id"], "seq": 1, "at": now, "actor": actor.username, "trigger": "create",
                    "from_state": None, "to_state": draft.state, "comment": note, "payload": payload,
                    "prev_hash": audit.GENESIS, "hash": head,
                },
            )  # fmt: skip
        return case_view(meta, draft, rulebook, actor)

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
        stored = self._store_files(evidence)
        now = self.clock.now()
        with self.db.write() as conn:
            row, rulebook, items, draft = self._load(conn, ref, expected_version)
            decision = rulebook.decide(draft, trigger, actor, fields or {}, now, [f.sha256 for f in stored])
            payload: dict[str, Any] = {"fields": decision.inputs, "unit": actor.department}
            return self._commit(conn, row, items, draft, rulebook, actor, trigger, note, payload, stored)

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
        stored = self._store_files(evidence)
        now = self.clock.now()
        with self.db.write() as conn:
            row, rulebook, items, draft = self._load(conn, ref, expected_version)
            inputs = rulebook.complete_item(draft, item, actor, fields or {}, now, [f.sha256 for f in stored])
            payload = {"item": item, "fields": inputs, "unit": actor.department}
            return self._commit(conn, row, items, draft, rulebook, actor, "complete_item", note, payload, stored)

    # --- queries -------------------------------------------------------------------------------

    def show(self, ref: str | int, actor: Actor | None = None) -> dict[str, Any]:
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            rulebook = self.definitions.pinned(conn, row.definition_version)
            draft = repo.to_draft(row, repo.items_of(conn, row.id))
        return case_view(row._mapping, draft, rulebook, actor)

    def history(self, ref: str | int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            row = repo.find_case(conn, ref)
            return [event_view(e) for e in repo.history(conn, row.id)]

    def list_cases(
        self,
        *,
        case_type: str | None = None,
        state: str | None = None,
        department: str | None = None,
        overdue: bool = False,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """A page of cases (newest first) with the total; filters are validated."""
        if case_type is not None:
            rulebook = self.definitions.current(case_type)
            if state is not None and state not in rulebook.spec.states:
                raise InvalidInput("state", f"{rulebook.spec.name}没有状态“{state}”；可选：{'、'.join(rulebook.spec.states)}")
        elif state is not None:
            known = {s for spec in self.definitions.specs.values() for s in spec.states}
            if state not in known:
                raise InvalidInput("state", f"未知状态“{state}”；可选：{'、'.join(sorted(known))}")
        code = self.org.resolve(department, "department") if department else None
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput("page", f"页码从1开始，每页1到{MAX_PAGE_SIZE}条")
        with self.db.read() as conn:
            rows, total = repo.list_cases(
                conn,
                case_type=case_type,
                state=state,
                department=code,
                overdue_at=self.clock.now() if overdue else None,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
            items = []
            for row in rows:
                rulebook = self.definitions.pinned(conn, row.definition_version)
                draft = repo.to_draft(row)
                view = case_view(row._mapping, draft, rulebook, None)
                del view["items"]
                items.append(view)
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    # --- internals -----------------------------------------------------------------------------

    def _store_files(self, uploads: Sequence[Upload]) -> list[StoredFile]:
        # Every file is checked before any is written; content-addressed, so a file written for
        # a call that is then refused is harmless (and found again if the call is retried).
        for upload in uploads:
            self.evidence.check(upload.data, upload.name)
        return [self.evidence.put(upload.data, upload.name) for upload in uploads]

    def _load(
        self, conn: Connection, ref: str | int, expected_version: int | None
    ) -> tuple[Row[Any], Rulebook, list[Row[Any]], CaseDraft]:
        row = repo.find_case(conn, ref, lock=True)
        if expected_version is not None and row.version != expected_version:
            raise VersionConflict(row.number, expected_version, row.version)
        rulebook = self.definitions.pinned(conn, row.definition_version)
        items = repo.items_of(conn, row.id) if rulebook.spec.checklists else []
        return row, rulebook, items, repo.to_draft(row, items)

    def _commit(
        self,
        conn: Connection,
        row: Row[Any],
        items: list[Row[Any]],
        draft: CaseDraft,
        rulebook: Rulebook,
        actor: Actor,
        trigger: str,
        note: str | None,
        payload: dict[str, Any],
        stored: list[StoredFile],
    ) -> dict[str, Any]:
        now = self.clock.now()
        if stored:
            payload["evidence"] = [f.sha256 for f in stored]
        if draft.signals:
            payload["signals"] = list(draft.signals)
        seq = row.event_seq + 1
        content = audit.event_content(row.number, seq, now, actor.username, trigger, row.state, draft.state, note, payload)
        head = audit.chain_hash(row.head_hash, content)
        closing = rulebook.spec.states[draft.state].terminal or draft.state in CLOSED_STATES
        changes = {
            "state": draft.state,
            "version": row.version + 1,
            "lead_unit": draft.fields.get("lead_unit"),
            "fields": draft.fields,
            "counters": draft.counters,
            "co_units": draft.co_units,
            "flags": draft.flags,
            "updated_at": now,
            "closed_at": (row.closed_at or now) if closing else None,
            "event_seq": seq,
            "head_hash": head,
        }
        # Only what changed is written: unchanged indexed columns keep their index entries.
        written = {k: v for k, v in changes.items() if getattr(row, k) != v or k == "version"}
        if not repo.update_case(conn, row.id, row.version, written):
            raise VersionConflict(row.number, row.version, row.version + 1)
        if items or draft.items:
            executors = {key: rulebook.executor(key, draft) for key in draft.items}
            repo.save_items(conn, row.id, items, draft, executors)
        for f in stored:
            repo.save_evidence(
                conn,
                {"sha256": f.sha256, "size": f.size, "media_type": f.media_type, "original_name": f.original_name,
                 "created_by": actor.username, "created_at": now},
            )  # fmt: skip
        repo.append_event(
            conn,
            {
                "case_id": row.id, "seq": seq, "at": now, "actor": actor.username, "trigger": trigger,
                "from_state": row.state, "to_state": draft.state, "comment": note, "payload": payload,
                "prev_hash": row.head_hash, "hash": head,
            },
        )  # fmt: skip
        return case_view({**row._mapping, **changes}, draft, rulebook, actor)
