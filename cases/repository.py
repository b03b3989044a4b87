"""Reads and writes of case data on one connection. Repositories never commit: the service that
opened the transaction does. Statements are SQLAlchemy Core on the SQLModel tables (the hot path
of ``advance`` costs a handful of statements, no unit-of-work bookkeeping).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    String,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    CaseItem,
    CaseUnit,
    EvidenceFile,
    LadderStep,
    User,
    WorkflowDefinition,
)
from workflow.case import CaseDraft, ItemState
from workflow.errors import NotFound

CASES = Case.__table__
ITEMS = CaseItem.__table__
EVENTS = CaseEvent.__table__
USERS = User.__table__
COUNTERS = CaseCounter.__table__
DEFINITIONS = WorkflowDefinition.__table__
EVIDENCE = EvidenceFile.__table__
LADDER_STEPS = LadderStep.__table__
UNITS = CaseUnit.__table__

# Statements built once: executing them with parameters reuses the compiled SQL (the hot path of
# every advance), instead of building and caching a new statement per call.
_CASE_BY_NUMBER = select(CASES).where(CASES.c.number == bindparam("ref"))
_CASE_BY_ID = select(CASES).where(CASES.c.id == bindparam("ref"))
_INSERT_EVENT = insert(EVENTS)
_INSERT_LADDER_STEP = insert(LADDER_STEPS)
_INSERT_CASE = insert(CASES).returning(CASES.c.id)
_INSERT_ITEM = insert(ITEMS)
_UPDATE_CASE = update(CASES).where(and_(CASES.c.id == bindparam("_id"), CASES.c.version == bindparam("_old")))
_UPDATE_ITEM = update(ITEMS).where(ITEMS.c.id == bindparam("_id"))
_ITEMS_OF = select(ITEMS).where(ITEMS.c.case_id == bindparam("case_id")).order_by(ITEMS.c.id)


def _dialect_insert(conn: Connection, table: Any) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --- numbers ------------------------------------------------------------------------------------


def next_number(conn: Connection, case_type: str, prefix: str, year: int) -> str:
    """Take the next number of this type and year atomically (``QY-2026-00001``)."""
    stmt = _dialect_insert(conn, COUNTERS).values(type=case_type, year=year, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[COUNTERS.c.type, COUNTERS.c.year], set_={"last": COUNTERS.c.last + 1}
    ).returning(COUNTERS.c.last)
    last = conn.execute(stmt).scalar_one()
    return f"{prefix}-{year}-{last:05d}"


# --- cases --------------------------------------------------------------------------------------


def find_case(conn: Connection, ref: str | int, *, lock: bool = False) -> Row[Any]:
    """The case row by number or id; ``lock`` takes a row lock on PostgreSQL (SQLite's write
    transaction already holds the database lock)."""
    text = str(ref).strip()
    by_id = text.isdigit()
    stmt = _CASE_BY_ID if by_id else _CASE_BY_NUMBER
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt, {"ref": int(text) if by_id else text.upper()}).first()
    if row is None:
        raise NotFound("案件", str(ref))
    return row


def insert_case(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_INSERT_CASE, values).scalar_one())


def update_case(conn: Connection, case_id: int, old_version: int, values: dict[str, Any]) -> bool:
    """Write the case only if nobody else did since ``old_version`` was read."""
    result = conn.execute(_UPDATE_CASE, {**values, "_id": case_id, "_old": old_version})
    return result.rowcount == 1


def items_of(conn: Connection, case_id: int) -> list[Row[Any]]:
    return list(conn.execute(_ITEMS_OF, {"case_id": case_id}))


def to_draft(case: Row[Any] | Mapping[str, Any], items: Iterable[Row[Any]] = ()) -> CaseDraft:
    row = case._mapping if isinstance(case, Row) else case
    return CaseDraft(
        type=row["type"],
        number=row["number"],
        state=row["state"],
        fields=dict(row["fields"]),
        counters=dict(row["counters"]),
        co_units={k: dict(v) for k, v in row["co_units"].items()},
        items={
            i.key: ItemState(
                i.checklist, i.key, i.label, i.position, i.done, i.done_by, i.done_at, list(i.evidence), dict(i.data)
            )
            for i in items
        },
        flags=dict(row["flags"]),
        due_at=row["due_at"],
    )


def save_items(
    conn: Connection, case_id: int, before: Sequence[Row[Any]], draft: CaseDraft, executors: dict[str, str | None]
) -> None:
    """Insert, update or delete item rows so that they match the draft."""
    old = {i.key: i for i in before}
    for key in set(old) - set(draft.items):
        conn.execute(delete(ITEMS).where(ITEMS.c.id == old[key].id))
    for key, item in draft.items.items():
        values = {
            "done": item.done,
            "done_by": item.done_by,
            "done_at": item.done_at,
            "evidence": list(item.evidence),
            "data": dict(item.data),
        }
        if key not in old:
            conn.execute(
                _INSERT_ITEM,
                {
                    "case_id": case_id, "checklist": item.checklist, "key": key, "label": item.label,
                    "position": item.position, "executor": executors.get(key), **values,
                },
            )  # fmt: skip
            continue
        row = old[key]
        current = {name: getattr(row, name) for name in values}
        if current != values:
            conn.execute(_UPDATE_ITEM, {**values, "_id": row.id})


def append_event(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(_INSERT_EVENT, values)


def history(conn: Connection, case_id: int) -> list[Row[Any]]:
    return list(conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)))


SORTS = ("newest", "oldest", "due")
"""``due``: earliest deadline first (cases without one last)."""

_ORDERS = {
    "newest": (CASES.c.id.desc(),),
    "oldest": (CASES.c.id.asc(),),
    "due": (CASES.c.due_at.is_(None), CASES.c.due_at.asc(), CASES.c.id.asc()),
}
_WAITING_ON = and_(UNITS.c.unit == bindparam("unit"), UNITS.c.waiting.is_(True))
_COUNT_WAITING = select(func.count()).select_from(UNITS).where(_WAITING_ON)
_CASES_ESTIMATE = select(func.max(CASES.c.id))
_DUE_KEY = (CASES.c.due_at, CASES.c.id)
_WINDOW_END = (
    select(*_DUE_KEY).where(CASES.c.due_at.is_not(None)).order_by(*_DUE_KEY).offset(bindparam("window_last")).limit(1)
)
_WAITS_HERE = exists().where(and_(UNITS.c.case_id == CASES.c.id, _WAITING_ON))
WALK_WINDOW = 3
"""The walk of the deadline index reads this many times the entries a uniform spread of the
unit's cases would need before it gives up on the unit's to-do list (then read in full)."""


def list_cases(
    conn: Connection,
    *,
    case_type: str | None = None,
    state: str | None = None,
    department: str | None = None,
    town: str | None = None,
    supervision: str | None = None,
    query: str | None = None,
    overdue_at: datetime | None = None,
    visible_unit: str | None = None,
    visible_creator: str | None = None,
    waiting_unit: str | None = None,
    sort: str = "newest",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Row[Any]], int]:
    """One page of cases and the total count, filtered.

    ``department`` matches every case the unit is concerned with (lead, co-unit, town, item
    executor, reviewer); ``visible_unit`` limits to what a unit's user may see (its cases and
    those ``visible_creator`` registered); ``query`` matches number, title or credit code;
    ``waiting_unit`` keeps the cases waiting on that unit (a unit's to-do list).

    The page's ids are chosen first (a sort of narrow rows, on an index where one serves), then
    their rows are read. A unit's own to-do list (``waiting_unit`` alone, or with its own
    ``visible_unit``: a case waiting on the unit concerns it) is counted on ``case_unit`` alone
    and, sorted by deadline, read by walking the deadline index (``walk_waiting``).
    """
    conditions: list[Any] = []
    if case_type:
        conditions.append(CASES.c.type == case_type)
    if state:
        conditions.append(CASES.c.state == state)
    if department:
        conditions.append(CASES.c.id.in_(select(UNITS.c.case_id).where(UNITS.c.unit == department)))
    if town:
        conditions.append(CASES.c.town == town)
    if supervision:
        conditions.append(CASES.c.supervision == supervision)
    if query:
        like = f"%{query}%"
        conditions.append(or_(CASES.c.number == query.upper(), CASES.c.title.like(like), CASES.c.uscc == query.upper()))
    if overdue_at is not None:
        conditions.append(and_(CASES.c.due_at.is_not(None), CASES.c.due_at <= overdue_at))
    todo = waiting_unit is not None and not conditions and visible_unit in (None, waiting_unit)
    if waiting_unit is not None:
        conditions.append(
            CASES.c.id.in_(select(UNITS.c.case_id).where(and_(UNITS.c.unit == waiting_unit, UNITS.c.waiting.is_(True))))
        )
    if visible_unit is not None and visible_unit != waiting_unit:
        mine = CASES.c.id.in_(select(UNITS.c.case_id).where(UNITS.c.unit == visible_unit))
        conditions.append(or_(mine, CASES.c.created_by == visible_creator) if visible_creator else mine)
    where = and_(*conditions) if conditions else None
    if todo:
        total = int(conn.execute(_COUNT_WAITING, {"unit": waiting_unit}).scalar_one())
    else:
        count = select(func.count()).select_from(CASES)
        total = int(conn.execute(count if where is None else count.where(where)).scalar_one())
    if todo:
        ids = waiting_page(conn, str(waiting_unit), total, sort, offset, limit)
    else:
        page = select(CASES.c.id).order_by(*_ORDERS[sort]).offset(offset).limit(limit)
        ids = [r.id for r in conn.execute(page if where is None else page.where(where))]
    return rows_by_id(conn, ids), total


def waiting_page(conn: Connection, unit: str, waiting: int, sort: str, offset: int, limit: int) -> list[int]:
    """Ids of one page of the cases waiting on ``unit`` (``waiting`` of them, as counted on
    ``case_unit``) in ``sort`` order: by deadline from the walk of the deadline index when it
    answers, else sorted from the unit's rows in ``case_unit`` (their ids and deadlines only)."""
    ids = walk_waiting(conn, unit, waiting, offset, limit) if sort == "due" else None
    if ids is None:
        page = select(CASES.c.id).select_from(UNITS.join(CASES, CASES.c.id == UNITS.c.case_id)).where(_WAITING_ON)
        ids = [r.id for r in conn.execute(page.order_by(*_ORDERS[sort]).offset(offset).limit(limit), {"unit": unit})]
    return ids


def walk_window(conn: Connection, matches: int, offset: int, limit: int) -> int | None:
    """How many entries of the deadline index to walk for a page of a list of ``matches`` cases
    (``WALK_WINDOW`` times what a uniform spread needs), or ``None`` when sorting the matches
    costs less (a list of few cases, a deep page): the walk then would read more entries than
    twice the number of matches."""
    cases = conn.execute(_CASES_ESTIMATE).scalar() or 0
    window = WALK_WINDOW * -(-(offset + limit) * cases // max(matches, 1))
    return None if window > 2 * matches else window


def walk_waiting(conn: Connection, unit: str, waiting: int, offset: int, limit: int) -> list[int] | None:
    """Ids of one page of the cases waiting on ``unit`` (``waiting`` of them), earliest deadline
    first, read by walking the index on ``case (due_at, id)`` and probing ``case_unit`` for each
    entry, within a window of the index (``walk_window``); ``None`` when that is not worth it or
    not enough (a page among the cases without a deadline, a unit with few cases or whose cases
    come late in the index): the caller then sorts the unit's cases, which costs their number."""
    if waiting <= offset:
        return []
    window = walk_window(conn, waiting, offset, limit)
    if window is None:
        return None
    end = conn.execute(_WINDOW_END, {"window_last": window - 1}).first()
    stmt = select(CASES.c.id).where(CASES.c.due_at.is_not(None), _WAITS_HERE)
    if end is not None:
        stmt = stmt.where(tuple_(*_DUE_KEY) <= tuple_(end.due_at, end.id))
    ids = [r.id for r in conn.execute(stmt.order_by(*_DUE_KEY).offset(offset).limit(limit), {"unit": unit})]
    return ids if len(ids) == limit or offset + len(ids) == waiting else None


def rows_by_id(conn: Connection, ids: Sequence[int]) -> list[Row[Any]]:
    """The case rows of ``ids``, in that order."""
    if not ids:
        return []
    found = {r.id: r for r in conn.execute(select(CASES).where(CASES.c.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def cases_with_evidence(conn: Connection, sha256: str) -> list[str]:
    """Numbers of the cases whose items or events carry this file."""
    numbers = {
        r.number
        for r in conn.execute(
            select(CASES.c.number)
            .join(ITEMS, ITEMS.c.case_id == CASES.c.id)
            .where(cast(ITEMS.c.evidence, String).like(f'%"{sha256}"%'))
        )
    }
    numbers |= {
        r.number
        for r in conn.execute(
            select(CASES.c.number)
            .join(EVENTS, EVENTS.c.case_id == CASES.c.id)
            .where(cast(EVENTS.c.payload, String).like(f'%"{sha256}"%'))
        )
    }
    return sorted(numbers)


def set_units(conn: Connection, case_id: int, before: Mapping[str, bool], after: Mapping[str, bool]) -> None:
    """Keep ``case_unit`` equal to ``after``."""
    gone = set(before) - set(after)
    if gone:
        conn.execute(delete(UNITS).where(and_(UNITS.c.case_id == case_id, UNITS.c.unit.in_(sorted(gone)))))
    new = [{"case_id": case_id, "unit": u, "waiting": w} for u, w in after.items() if u not in before]
    if new:
        conn.execute(insert(UNITS), new)
    for unit, waiting in after.items():
        if unit in before and before[unit] != waiting:
            conn.execute(
                update(UNITS).where(and_(UNITS.c.case_id == case_id, UNITS.c.unit == unit)).values(waiting=waiting)
            )


# --- the supervision ladder ---------------------------------------------------------------------


def record_ladder_step(conn: Connection, case_id: int, deadline_seq: int, level: str, at: datetime, actor: str) -> None:
    """One row per (case, deadline, level): the unique constraint refuses a second escalation."""
    conn.execute(
        _INSERT_LADDER_STEP,
        {"case_id": case_id, "deadline_seq": deadline_seq, "level": level, "at": at, "actor": actor},
    )


def due_cases(conn: Connection, now: datetime, limit: int) -> list[Row[Any]]:
    """Cases whose next check has come, earliest first; on PostgreSQL rows locked by another
    sweeper are skipped (an optimisation: exactly-once rests on the conditional updates)."""
    stmt = select(CASES).where(CASES.c.next_check_at <= now).order_by(CASES.c.next_check_at, CASES.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def set_flags(conn: Connection, case_id: int, flags: dict[str, Any]) -> None:
    """Replace a case's bookkeeping flags without a new version (derived data, e.g. its units'
    待办 marks after a backfill)."""
    conn.execute(update(CASES).where(CASES.c.id == case_id).values(flags=flags))


def set_next_check(conn: Connection, case_id: int, version: int, at: datetime | None) -> bool:
    result = conn.execute(
        update(CASES).where(and_(CASES.c.id == case_id, CASES.c.version == version)).values(next_check_at=at)
    )
    return result.rowcount == 1


def deadlines_to_recompute(conn: Connection, changed_day: date | None, changed_from: datetime | None) -> list[Row[Any]]:
    """Cases whose deadline a calendar change may move: provisional ones, and (given the changed
    day and its first instant) those that end on or after the day or whose next ladder check is
    counted across it (a moment after the due date, e.g. due + 3wd). Without a changed day:
    every open deadline."""
    if changed_day is None or changed_from is None:
        condition = CASES.c.due_at.is_not(None)
    else:
        condition = or_(
            CASES.c.due_provisional.is_(True), CASES.c.due_date >= changed_day, CASES.c.next_check_at >= changed_from
        )
    return list(conn.execute(select(CASES).where(condition).order_by(CASES.c.id)))


# --- users ----------------------------------------------------------------------------------------


def find_user(conn: Connection, username: str) -> Row[Any] | None:
    return conn.execute(select(USERS).where(USERS.c.username == username)).first()


def insert_user(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(USERS).values(**values))


def update_user(conn: Connection, username: str, values: dict[str, Any]) -> None:
    conn.execute(update(USERS).where(USERS.c.username == username).values(**values))


def list_users(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(USERS).order_by(USERS.c.department, USERS.c.username)))


# --- definitions and evidence -----------------------------------------------------------------------


def save_definition(conn: Connection, values: dict[str, Any]) -> None:
    stmt = _dialect_insert(conn, DEFINITIONS).values(**values).on_conflict_do_nothing()
    conn.execute(stmt)


def definition_text(conn: Connection, version: str) -> Row[Any] | None:
    return conn.execute(select(DEFINITIONS).where(DEFINITIONS.c.version == version)).first()


def save_evidence(conn: Connection, values: dict[str, Any]) -> None:
    stmt = _dialect_insert(conn, EVIDENCE).values(**values).on_conflict_do_nothing()
    conn.execute(stmt)


def lock_evidence(conn: Connection, sha256: str) -> None:
    """Until this transaction ends, no other one stores or removes the file ``sha256``: a
    transaction that wrote a new file may remove it again when it fails, without pulling it from
    under another that found it there. SQLite's writers are serialized already (BEGIN IMMEDIATE);
    PostgreSQL takes a transaction-scoped advisory lock. Lock several files in sorted order."""
    if conn.dialect.name == "postgresql":
        key = int(sha256[:16], 16) - (1 << 63)  # a signed 64-bit key from the hash
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def find_evidence(conn: Connection, sha256: str) -> Row[Any] | None:
    return conn.execute(select(EVIDENCE).where(EVIDENCE.c.sha256 == sha256)).first()
