"""Reading obligations (责任清单): a unit's 待办 (what it can act on now), what the cases it
leads wait on, and the plain view of one obligation shared by ``case show``, ``caseflow todo``
and the API.

Writing obligations is ``cases.obligations``'s job; permissions (who may see which case) are the
service's.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast, func, or_, select

from cases.models import Case
from cases.obligations import OBLIGATIONS
from cases.views import local
from workflow import ladder
from workflow.org import Organisation

CASES = Case.__table__
MAX_TODO = 500
"""The longest page of a 待办 list one call returns (the most urgent first)."""

_URGENCY = case(
    *((OBLIGATIONS.c.level == level, -ladder.rank(level)) for level in reversed(ladder.LEVELS)), else_=0
)


def view(row: Any, org: Organisation, now: datetime | None = None) -> dict[str, Any]:
    """One obligation as people and scripts see it."""
    overdue = row.closed_at is None and row.due_at is not None and now is not None and now >= row.due_at
    return {
        "key": row.key,
        "label": row.label,
        "kind": row.kind,
        "unit": row.unit,
        "unit_name": org.name(row.unit),
        "roles": list(row.roles),
        "ready": bool(row.ready),
        "opened_at": local(row.opened_at),
        "due_date": row.due_date.isoformat() if row.due_date else None,
        "due_at": local(row.due_at),
        "due_provisional": bool(row.due_provisional),
        "level": row.level,
        "level_label": ladder.LEVEL_LABELS[row.level],
        "open": row.closed_at is None,
        "overdue": overdue,
        "closed_at": local(row.closed_at),
        "closed_by": row.closed_by,
        "outcome": row.outcome,
        "on_time": row.on_time,
    }


def _entries(
    conn: Connection, condition: Any, org: Organisation, now: datetime, limit: int | None, offset: int = 0
) -> list[dict[str, Any]]:
    stmt = (
        select(OBLIGATIONS, CASES.c.number, CASES.c.type, CASES.c.title, CASES.c.state, CASES.c.lead_unit)
        .join(CASES, CASES.c.id == OBLIGATIONS.c.case_id)
        .where(condition)
        .order_by(_URGENCY, OBLIGATIONS.c.due_at.is_(None), OBLIGATIONS.c.due_at, OBLIGATIONS.c.id)
        .limit(limit)
        .offset(offset)
    )
    result = []
    for row in conn.execute(stmt):
        entry = {"number": row.number, "type": row.type, "title": row.title, "state": row.state, **view(row, org, now)}
        result.append(entry)
    return result


def _count(conn: Connection, condition: Any) -> int:
    return conn.execute(select(func.count()).select_from(OBLIGATIONS).where(condition)).scalar_one()


def _mine(unit: str, roles: Iterable[str]) -> Any:
    """Open obligations of ``unit`` that someone with ``roles`` can act on now (None: no roles)."""
    mine = sorted(set(roles))
    if not mine:
        return None
    may_act = or_(*(cast(OBLIGATIONS.c.roles, String).like(f'%"{role}"%') for role in mine))
    return and_(OBLIGATIONS.c.unit == unit, OBLIGATIONS.c.closed_at.is_(None), OBLIGATIONS.c.ready.is_(True), may_act)


def _others(unit: str) -> Any:
    """Open obligations of other units on the cases ``unit`` leads (or is the town of a site
    without a lead unit), and ``unit``'s own that wait on someone else first."""
    o = OBLIGATIONS.c
    return or_(
        and_(o.lead == unit, o.closed_at.is_(None), o.unit != unit),
        and_(o.unit == unit, o.closed_at.is_(None), o.ready.is_(False)),
    )


def todo(
    conn: Connection,
    unit: str,
    roles: Iterable[str],
    org: Organisation,
    now: datetime,
    limit: int | None = MAX_TODO,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The open obligations of ``unit`` that a user with ``roles`` can act on now, the most urgent
    first (highest level, then the earliest deadline); ``limit`` of them from ``offset``."""
    condition = _mine(unit, roles)
    return [] if condition is None else _entries(conn, condition, org, now, limit, offset)


def count_todo(conn: Connection, unit: str, roles: Iterable[str]) -> int:
    """How many entries ``todo`` has in all."""
    condition = _mine(unit, roles)
    return 0 if condition is None else _count(conn, condition)


def waiting_on_others(
    conn: Connection, unit: str, org: Organisation, now: datetime, limit: int | None = MAX_TODO, offset: int = 0
) -> list[dict[str, Any]]:
    """What the cases ``unit`` leads (a site's town leads it) wait on from other units, and its
    own obligations that wait on someone else first."""
    return _entries(conn, _others(unit), org, now, limit, offset)


def count_waiting_on_others(conn: Connection, unit: str) -> int:
    """How many entries ``waiting_on_others`` has in all."""
    return _count(conn, _others(unit))
