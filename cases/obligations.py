"""Stored obligations (责任清单): kept equal to what the definition says each unit owes, inside
the transaction of every decision that changes a case (``cases.changes.write_change``, creation,
ledger import), and backfilled for cases from before obligations existed.

``reconcile`` opens what is newly owed (with its deadline on the working-day calendar), closes
what no longer is (by whom, ``done`` or ``withdrawn``, on time or not) and moves the deadlines
that follow the case's clock. What is owed is ``workflow.obligations``'s rule; climbing the
ladder of an obligation with its own deadline is the sweep's (``cases.sweep``); reading them for
lists and figures is ``cases.responsibility``'s.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, exists, insert, not_, select, update

from cases.models import Case, Obligation
from workflow import ladder
from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.obligations import Owed, due_of, owed
from workflow.rulebook import Rulebook

OBLIGATIONS = Obligation.__table__


@dataclass(frozen=True)
class Reconciled:
    owed: Sequence[Owed]
    """What the case owes now."""
    level: str
    """The highest supervision level among its open obligations."""
_OPEN_OF = (
    select(OBLIGATIONS)
    .where(and_(OBLIGATIONS.c.case_id == bindparam("case_id"), OBLIGATIONS.c.closed_at.is_(None)))
    .order_by(OBLIGATIONS.c.id)
)
_INSERT = insert(OBLIGATIONS)
_UPDATE = update(OBLIGATIONS).where(OBLIGATIONS.c.id == bindparam("_id"))


def clock_deadline(row: dict[str, Any]) -> Deadline | None:
    """The case's running deadline, if a ladder clock runs (not a scheduled trigger's)."""
    clock = (row.get("flags") or {}).get("clock") or {}
    if row.get("due_at") is None or row.get("due_date") is None or clock.get("on_expiry", "ladder") != "ladder":
        return None
    return Deadline(row["due_date"], row["due_at"], bool(row.get("due_provisional")))


def _schedule(rulebook: Rulebook, deadline: Deadline | None, calendar: WorkingCalendar) -> list[ladder.Moment]:
    if deadline is None:
        return []
    return ladder.moments(rulebook.spec.ladder, deadline.due_date, deadline.due_at, calendar)


def _values(
    o: Owed, opened_at: datetime, row: dict[str, Any], rulebook: Rulebook, calendar: WorkingCalendar
) -> dict[str, Any]:
    """Deadline, level and next check of an obligation opened at ``opened_at``."""
    clock = clock_deadline(row)
    deadline = due_of(o.due, opened_at, clock, calendar)
    if o.due.clock:
        level, next_check = row.get("ladder_level") or "normal", None  # the case's ladder climbs it
    else:
        level, next_check = "normal", ladder.next_check("normal", _schedule(rulebook, deadline, calendar))
    return {
        "due_at": deadline.due_at if deadline else None,
        "due_date": deadline.due_date if deadline else None,
        "due_provisional": deadline.provisional if deadline else False,
        "follows_clock": o.due.clock,
        "level": level,
        "next_check_at": next_check,
    }


def reconcile(
    conn: Connection,
    rulebook: Rulebook,
    draft: CaseDraft,
    row: dict[str, Any],
    *,
    actor: str,
    actor_unit: str | None,
    trigger: str,
    now: datetime,
    calendar: WorkingCalendar,
    fresh: bool = False,
    wanted: Sequence[Owed] | None = None,
) -> "Reconciled":
    """Make the case's open obligations what ``draft`` owes now; ``row`` is the case row with its
    new clock columns; ``fresh``: a case just inserted (nothing to read); ``wanted``: what it owes,
    if the caller asked ``workflow.obligations.owed`` already. Returns what is owed."""
    wanted = owed(rulebook, draft) if wanted is None else wanted
    by_key = {(o.key, o.unit): o for o in wanted}
    current = [] if fresh else list(conn.execute(_OPEN_OF, {"case_id": row["id"]}))
    seen: set[tuple[str, str]] = set()
    updates: list[dict[str, Any]] = []
    levels: list[str] = []
    """The levels of the obligations that stay open."""
    for ob in current:
        key = (ob.key, ob.unit)
        o = by_key.get(key)
        if o is None or key in seen:
            updates.append(_closing(ob, actor, actor_unit, trigger, now))
            continue
        seen.add(key)
        changes: dict[str, Any] = {}
        if ob.ready != o.ready:
            changes["ready"] = o.ready
        if ob.lead != lead_of(row):  # reassigned: the case's lists follow its new lead unit
            changes["lead"] = lead_of(row)
        if o.due.clock or o.due.before_clock is not None:  # deadlines that move with the case's clock
            values = _values(o, ob.opened_at, row, rulebook, calendar)
            if values["due_at"] == ob.due_at:
                values.pop("next_check_at")  # the same deadline: its ladder stands where it is
                values.pop("level")
            changes.update({k: v for k, v in values.items() if getattr(ob, k) != v})
            if o.due.clock and ob.level != (row.get("ladder_level") or "normal"):
                changes["level"] = row.get("ladder_level") or "normal"
            if o.due.clock and not ob.ever_overdue and ladder.rank(changes.get("level", ob.level)) >= ladder.rank("overdue"):
                changes["ever_overdue"] = True
        levels.append(changes.get("level", ob.level))
        if changes:
            updates.append({"_id": ob.id, **changes})
    for changes in updates:
        conn.execute(_UPDATE, changes)
    new = opening_rows(rulebook, row, [o for key, o in by_key.items() if key not in seen], trigger, now, calendar)
    if new:
        conn.execute(_INSERT, new)
    top = max([*levels, *(n["level"] for n in new)], key=ladder.rank, default="normal")
    return Reconciled(wanted, top)


def lead_of(row: dict[str, Any]) -> str | None:
    """The unit answerable for the case as a whole: its lead unit, else its town (a site)."""
    return row.get("lead_unit") or row.get("town")


def shown_level(clock_level: str, obligation_level: str) -> str:
    """What a case shows: the higher of its own clock's level and its open obligations' highest."""
    return max(clock_level or "normal", obligation_level or "normal", key=ladder.rank)


def opening_rows(
    rulebook: Rulebook, row: dict[str, Any], owed_now: Sequence[Owed], trigger: str, now: datetime,
    calendar: WorkingCalendar,
) -> list[dict[str, Any]]:
    """The rows that open ``owed_now`` on the case ``row`` (with its id) at ``now`` by ``trigger``;
    for a caller that inserts many cases at once (the ledger import)."""
    return [
        {
            "case_id": row["id"], "key": o.key, "kind": o.kind, "measure": o.measure, "label": o.label,
            "unit": o.unit, "lead": lead_of(row), "roles": list(o.roles), "ready": o.ready, "opened_at": now,
            "opened_trigger": trigger,
            "ever_overdue": False, "closed_at": None, "closed_by": None, "closed_trigger": None,
            "outcome": None, "on_time": None,
            **_values(o, now, row, rulebook, calendar),
        }  # fmt: skip
        for o in owed_now
    ]


def _closing(ob: Row[Any], actor: str, actor_unit: str | None, trigger: str, now: datetime) -> dict[str, Any]:
    done = actor_unit == ob.unit
    return {
        "_id": ob.id,
        "closed_at": now,
        "closed_by": actor,
        "closed_trigger": trigger,
        "outcome": "done" if done else "withdrawn",
        "on_time": None if ob.due_at is None else now < ob.due_at,
        "next_check_at": None,
    }


def marks(rulebook: Rulebook, draft: CaseDraft, wanted: Sequence[Owed]) -> dict[str, bool]:
    """Unit → whether the case waits on it now, for every unit the case concerns."""
    waiting = {o.unit for o in wanted if o.ready}
    units = rulebook.related_units(draft) | {o.unit for o in wanted}
    return {unit: unit in waiting for unit in sorted(units)}


def of_case(conn: Connection, case_id: int) -> list[Row[Any]]:
    """Every obligation of a case, open and closed, in the order they opened."""
    stmt = select(OBLIGATIONS).where(OBLIGATIONS.c.case_id == case_id).order_by(OBLIGATIONS.c.opened_at, OBLIGATIONS.c.id)
    return list(conn.execute(stmt))


def cases_without_obligations(conn: Connection, limit: int) -> list[Row[Any]]:
    """Open cases that have never had an obligation row (made before obligations existed)."""
    cases = Case.__table__
    stmt = (
        select(cases)
        .where(
            and_(
                cases.c.closed_at.is_(None),
                not_(exists().where(OBLIGATIONS.c.case_id == cases.c.id)),
            )
        )
        .order_by(cases.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt))


def due_for_ladder(conn: Connection, now: datetime, limit: int) -> list[Row[Any]]:
    """Open obligations with a deadline of their own whose next ladder check has come. Closing an
    obligation clears its next check (``_closing``), so the index on ``next_check_at`` alone finds
    them: a test of ``closed_at`` here would let a planner without statistics pick the index on
    ``closed_at`` and read every open obligation (``climb`` checks it again, under the lock)."""
    stmt = (
        select(OBLIGATIONS)
        .where(OBLIGATIONS.c.next_check_at <= now)
        .order_by(OBLIGATIONS.c.next_check_at, OBLIGATIONS.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def climb(conn: Connection, ob_id: int, from_level: str, level: str, next_check: datetime | None) -> bool:
    """Move one obligation from ``from_level`` to ``level``, only if nobody did since it was read
    (each level once, however many sweepers run)."""
    values: dict[str, Any] = {"level": level, "next_check_at": next_check}
    if ladder.rank(level) >= ladder.rank("overdue"):
        values["ever_overdue"] = True
    result = conn.execute(
        update(OBLIGATIONS)
        .where(and_(OBLIGATIONS.c.id == ob_id, OBLIGATIONS.c.level == from_level, OBLIGATIONS.c.closed_at.is_(None)))
        .values(**values)
    )
    return result.rowcount == 1


def schedule_of(rulebook: Rulebook, ob: Row[Any], calendar: WorkingCalendar) -> list[ladder.Moment]:
    """The ladder moments of an obligation's own deadline."""
    if ob.due_at is None or ob.due_date is None:
        return []
    return _schedule(rulebook, Deadline(ob.due_date, ob.due_at, ob.due_provisional), calendar)
