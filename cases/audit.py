"""The audit chain: each case's events are hash-chained, and ``verify`` recomputes every chain.

``hash = sha256(prev_hash || canonical JSON of the event)`` with a contiguous ``seq`` starting at
1 and the genesis ``prev_hash`` of 64 zeros. The case row keeps the head (``event_seq``,
``head_hash``) so that a deleted last event is noticed too. Appending is done by the services
inside their transaction; the database refuses UPDATE and DELETE of events (migration 0001).
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from cases.models import Case, CaseEvent

GENESIS = "0" * 64
BATCH = 500


def canonical(event: dict[str, Any]) -> str:
    """The exact text that is hashed: sorted keys, no spaces, UTF-8, instants in UTC ISO form."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_content(
    case_number: str,
    seq: int,
    at: datetime,
    actor: str,
    trigger: str,
    from_state: str | None,
    to_state: str,
    comment: str | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "case": case_number,
        "seq": seq,
        "at": _instant(at),
        "actor": actor,
        "trigger": trigger,
        "from": from_state,
        "to": to_state,
        "comment": comment,
        "payload": payload,
    }


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(content)).encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first place a chain does not hold."""

    case: str
    seq: int
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    cases: int
    events: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _check_case(case: Any, events: list[Any]) -> Break | None:
    prev, expected_seq = GENESIS, 1
    for e in events:
        if e.seq != expected_seq:
            return Break(case.number, expected_seq, f"event seq {expected_seq} is missing (found {e.seq})")
        if e.prev_hash != prev:
            return Break(case.number, e.seq, "prev_hash does not match the previous event's hash")
        content = event_content(
            case.number, e.seq, e.at, e.actor, e.trigger, e.from_state, e.to_state, e.comment, e.payload
        )
        if chain_hash(prev, content) != e.hash:
            return Break(case.number, e.seq, "hash does not match the event's content")
        prev, expected_seq = e.hash, expected_seq + 1
    if case.event_seq != expected_seq - 1 or case.head_hash != prev:
        return Break(case.number, expected_seq, f"the case's head (seq {case.event_seq}) is not its last event")
    return None


def verify(conn: Connection, progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Recompute every chain in case-id order; stop at the first break."""
    case_table, event_table = Case.__table__, CaseEvent.__table__
    checked_cases = checked_events = 0
    last_id = 0
    while True:
        cases = conn.execute(
            select(case_table.c.id, case_table.c.number, case_table.c.event_seq, case_table.c.head_hash)
            .where(case_table.c.id > last_id)
            .order_by(case_table.c.id)
            .limit(BATCH)
        ).all()
        if not cases:
            return VerifyResult(checked_cases, checked_events, None)
        ids = [c.id for c in cases]
        by_case: dict[int, list[Any]] = {i: [] for i in ids}
        for e in conn.execute(
            select(event_table).where(event_table.c.case_id.in_(ids)).order_by(event_table.c.case_id, event_table.c.seq)
        ):
            by_case[e.case_id].append(e)
        for case in cases:
            broken = _check_case(case, by_case[case.id])
            if broken is not None:
                return VerifyResult(checked_cases, checked_events, broken)
            checked_cases += 1
            checked_events += len(by_case[case.id])
        if progress is not None:
            progress(len(cases))
        last_id = ids[-1]


def count_cases(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(Case.__table__)).scalar_one())


def iter_history(conn: Connection, case_id: int) -> Iterator[Any]:
    event_table = CaseEvent.__table__
    yield from conn.execute(select(event_table).where(event_table.c.case_id == case_id).order_by(event_table.c.seq))
