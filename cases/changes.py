"""Writing one change of a case inside the caller's transaction: the case row (only if its
version is still the one read), its items, evidence rows and one hash-chained event.

Used by every path that changes a case (actions, item completion, ladder steps, the sweep,
deadline recomputation) so that the chain, the version and the head are kept in one place.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from cases import audit, obligations
from cases import repository as repo
from cases.evidence import StoredFile
from workflow.calendar import WorkingCalendar
from workflow.case import CaseDraft
from workflow.errors import VersionConflict
from workflow.rulebook import Rulebook


@dataclass(frozen=True)
class ChangeRecord:
    """One written change, as sinks (the notification outbox) see it."""

    row: dict[str, Any]
    """The case row as now stored."""
    draft: CaseDraft
    rulebook: Rulebook
    trigger: str
    actor: str
    from_state: str | None
    note: str | None
    payload: dict[str, Any]
    seq: int
    now: datetime


class ChangeSink(Protocol):
    def on_change(self, conn: Connection, change: ChangeRecord) -> None:
        """Called inside the case's transaction, after the event is written."""
        ...


def write_change(
    conn: Connection,
    row: dict[str, Any],
    items_before: Sequence[Any],
    draft: CaseDraft,
    rulebook: Rulebook,
    *,
    trigger: str,
    actor: str,
    note: str | None,
    payload: dict[str, Any],
    now: datetime,
    calendar: WorkingCalendar,
    columns: dict[str, Any] | None = None,
    stored: Sequence[StoredFile] = (),
    sinks: Sequence[ChangeSink] = (),
) -> dict[str, Any]:
    """Write the draft (plus ``columns``), its obligations and one event; return the case row as
    now stored. The obligations a decision closes are closed by ``actor`` (of the unit
    ``payload['unit']``)."""
    if stored:
        payload["evidence"] = [f.sha256 for f in stored]
    result = obligations.reconcile(
        conn, rulebook, draft, {**row, **(columns or {}), "flags": draft.flags},
        actor=actor, actor_unit=payload.get("unit"), trigger=trigger, now=now, calendar=calendar,
    )  # fmt: skip
    unit_marks = obligations.marks(rulebook, draft, result.owed)
    if unit_marks != (row["flags"] or {}).get("units"):
        repo.set_units(conn, row["id"], (row["flags"] or {}).get("units") or {}, unit_marks)
        draft.flags["units"] = unit_marks
    seq = row["event_seq"] + 1
    content = audit.event_content(row["number"], seq, now, actor, trigger, row["state"], draft.state, note, payload)
    head = audit.chain_hash(row["head_hash"], content)
    closing = rulebook.spec.states[draft.state].is_closed
    changes = {
        "state": draft.state,
        "lead_unit": draft.fields.get("lead_unit"),
        "fields": draft.fields,
        "counters": draft.counters,
        "co_units": draft.co_units,
        "flags": draft.flags,
        "closed_at": (row["closed_at"] or now) if closing else None,
        **(columns or {}),
    }
    changes["supervision"] = obligations.shown_level(changes.get("ladder_level", row["ladder_level"]), result.level)
    # Only what changed is written: unchanged indexed columns keep their index entries.
    written = {k: v for k, v in changes.items() if row[k] != v}
    written.update(version=row["version"] + 1, updated_at=now, event_seq=seq, head_hash=head)
    if not repo.update_case(conn, row["id"], row["version"], written):
        raise VersionConflict(row["number"], row["version"], row["version"] + 1)
    if items_before or draft.items:
        executors = {key: rulebook.executor(key, draft) for key in draft.items}
        repo.save_items(conn, row["id"], items_before, draft, executors)
    for f in stored:
        repo.save_evidence(
            conn,
            {"sha256": f.sha256, "size": f.size, "media_type": f.media_type, "original_name": f.original_name,
             "created_by": actor, "created_at": now},
        )  # fmt: skip
    repo.append_event(
        conn,
        {
            "case_id": row["id"], "seq": seq, "at": now, "actor": actor, "trigger": trigger,
            "from_state": row["state"], "to_state": draft.state, "comment": note, "payload": payload,
            "prev_hash": row["head_hash"], "hash": head,
        },
    )  # fmt: skip
    new_row = {**row, **changes, **written}
    if sinks:
        record = ChangeRecord(new_row, draft, rulebook, trigger, actor, row["state"], note, payload, seq, now)
        for sink in sinks:
            sink.on_change(conn, record)
    return new_row
