"""Who is told of what (DOMAIN.md §5–§6): the notices a case change sends and their recipients.

Both come from the case type's plan (``notifications.plan``: its definition's ``notifications:``
section over the engine's defaults). ``events_for`` maps one written change to notices;
``recipients`` resolves each notice's rules — a relation's unit (lead, co-units, town, review
department, a relation the definition adds, the responsible unit of the clock, every unit
involved), a role across units (the office's dispatchers, the convenors), a fixed department, the
executor units of open items, the unit ruling on an item, the case's creator — to active users,
read in the change's own transaction.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, and_, cast, select

from cases.changes import ChangeRecord
from cases.models import User
from notifications.plan import Notice, plan_of
from notifications.plan import Recipient as Rule
from workflow.obligations import owed

USERS = User.__table__


@dataclass(frozen=True)
class Recipient:
    username: str
    display_name: str
    department: str
    channels: tuple[str, ...]
    email: str | None
    phone: str | None


def events_for(change: ChangeRecord) -> list[str]:
    """The notices this change sends, in order: the trigger's (or, without an entry of its own,
    the ``"*"`` entry's), then those of the signals its rules raised."""
    plan = plan_of(change.rulebook.spec)
    notices = list(plan.notices(change.trigger))
    for signal in change.payload.get("signals") or []:
        notices.extend(plan.signals.get(signal, ()))
    return [n.event for n in notices if _applies(n, change)]


def _applies(notice: Notice, change: ChangeRecord) -> bool:
    state = change.draft.state
    if notice.dest is not None and state != notice.dest:
        return False
    if notice.closed and not change.rulebook.spec.states[state].is_closed:
        return False
    return not (notice.confirming and not change.payload.get("confirm_by"))


def responsible_units(change: ChangeRecord, office: str) -> set[str]:
    """The unit the running clock is on (DOMAIN.md §5: the responsible unit); for a step of an
    obligation's own ladder (an item, a co-unit's feedback), the unit that owes it."""
    owing = change.payload.get("obligation_unit")
    if owing:
        return {owing}
    on_clock = {o.unit for o in owed(change.rulebook, change.draft) if o.due.clock}
    if on_clock:  # the units whose obligations run on the case's clock (责任清单)
        return on_clock
    clock = change.rulebook.spec.states[change.draft.state].clock
    relation = clock.responsible if clock is not None else "office"
    if relation == "office":
        return {office}
    return change.rulebook.units(change.draft, relation)


def item_decider(change: ChangeRecord) -> str | None:
    """The unit that rules on the change's item: the issuing department confirming a reported
    permit, else the approver of a 不适用 declaration."""
    item = change.payload.get("item")
    if not item:
        return None
    confirmer = change.payload.get("confirm_by")
    return confirmer or change.rulebook.waiver_approver(item, change.draft)


def _users(conn: Connection, *conditions: Any) -> list[Recipient]:
    rows = conn.execute(select(USERS).where(and_(USERS.c.active.is_(True), *conditions)).order_by(USERS.c.username))
    return [
        Recipient(r.username, r.display_name, r.department, tuple(r.channels or ("inapp",)), r.email, r.phone)
        for r in rows
    ]


def _units(rule: Rule, change: ChangeRecord, office: str) -> set[str]:
    relation = rule.unit
    if rule.department is not None:
        return {rule.department}
    if relation == "executors":
        return {change.rulebook.executor(k, change.draft) for k in change.rulebook.allowed_items(change.draft)}  # type: ignore[misc]
    if relation in ("item_decider", "item_executor"):
        item = change.payload.get("item") or ""
        unit = item_decider(change) if relation == "item_decider" else change.rulebook.executor(item, change.draft)
        return {unit} if unit else set()
    if relation == "responsible":
        return responsible_units(change, office)
    if relation == "involved":
        return change.rulebook.related_units(change.draft)
    return change.rulebook.units(change.draft, relation or "")


def recipients(conn: Connection, event: str, change: ChangeRecord, office: str) -> list[Recipient]:
    """Active users to tell of ``event``, each once, in the order of the type's rules."""
    found: dict[str, Recipient] = {}
    for rule in plan_of(change.rulebook.spec).recipients.get(event, ()):
        if rule.creator:
            for user in _users(conn, USERS.c.username == change.row["created_by"]):
                found.setdefault(user.username, user)
            continue
        role = rule.role or ""
        if rule.unit is None and rule.department is None:
            for user in _users(conn, cast(USERS.c.roles, String).like(f'%"{role}"%')):
                found.setdefault(user.username, user)
            continue
        units = _units(rule, change, office)
        units.discard(None)  # type: ignore[arg-type]
        if office in units and rule.unit in ("responsible", "item_decider", "item_executor"):
            units.discard(office)  # what the office owes or rules on, its dispatchers do
            for user in _users(conn, cast(USERS.c.roles, String).like('%"dispatcher"%')):
                found.setdefault(user.username, user)
        if not units:
            continue
        rows = conn.execute(
            select(USERS.c.username, USERS.c.roles).where(
                and_(USERS.c.department.in_(sorted(units)), USERS.c.active.is_(True))
            )
        )
        wanted = [r.username for r in rows if role in (r.roles or [])]
        if wanted:
            for user in _users(conn, USERS.c.username.in_(wanted)):
                found.setdefault(user.username, user)
    return list(found.values())
