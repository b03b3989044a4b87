"""Staffing: a case may only be assigned to units that have someone to act on it.

A unit named lead unit (主办) or co-unit (协办) must have at least one active user with the role
``handler``; otherwise the case would sit with nobody able to accept it. ``unstaffed`` reads, in
one query, which of the given units have none; ``require_staffed`` refuses with ``GuardFailed``
(guard ``unit_staffed``) naming them and saying how to fix it. Which units a decision newly names
is the caller's business (``cases.service``, ``ledger.replay``); this module only reads
users, in the caller's transaction.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, String, and_, cast, select

from cases.models import User
from workflow.errors import GuardFailed
from workflow.org import Organisation

USERS = User.__table__
GUARD = "unit_staffed"
ROLE = "handler"


def newly_named(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The units a decision names that the case did not already hold in that relation: a lead
    unit other than the previous one, co-units not among the previous co-units (``before`` and
    ``after`` are the case's fields). A unit kept as it was is not checked again, so an
    unrelated action never fails because a unit lost its last handler meanwhile."""
    units: list[str] = []
    lead = after.get("lead_unit")
    if lead and lead != before.get("lead_unit"):
        units.append(str(lead))
    kept = set(before.get("co_units") or [])
    units += [str(u) for u in after.get("co_units") or [] if u not in kept]
    return units


def unstaffed(conn: Connection, units: Iterable[str]) -> list[str]:
    """The units (in the order given, each once) without an active user holding ``handler``."""
    wanted = list(dict.fromkeys(u for u in units if u))
    if not wanted:
        return []
    staffed = set(
        conn.execute(
            select(USERS.c.department)
            .where(
                and_(
                    USERS.c.active.is_(True),
                    USERS.c.department.in_(wanted),
                    cast(USERS.c.roles, String).like(f'%"{ROLE}"%'),
                )
            )
            .distinct()
        ).scalars()
    )
    return [u for u in wanted if u not in staffed]


def message(org: Organisation, units: list[str], action: str = "交办") -> str:
    """The refusal in Chinese: which units, why, and the command that fixes it."""
    names = "、".join(org.name(u) for u in units)
    which = "该单位" if len(units) == 1 else "这些单位"
    department = units[0] if len(units) == 1 else "单位代码"
    return (
        f"{names}没有在岗的经办人（{ROLE}），无法{action}；请系统管理员先为{which}添加经办人账号"
        f"（caseflow user add 用户名 --department {department} --role {ROLE}）"
    )


def require_staffed(conn: Connection, org: Organisation, units: Iterable[str], action: str = "交办") -> None:
    """Refuse (``GuardFailed`` ``unit_staffed``, details ``units``) unless every unit has an
    active handler."""
    missing = unstaffed(conn, units)
    if missing:
        error = GuardFailed(GUARD, message(org, missing, action))
        error.details["units"] = missing
        raise error
