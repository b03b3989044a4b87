"""Who is told of what (DOMAIN.md §5–§6): the events a case change raises and their recipients.

``events_for`` maps one written change to notification events; ``recipients`` resolves each
event's rules — a relation's unit (lead, co-units, town, review department, the responsible unit
of the clock), a role (the office's dispatchers, the convenors), the executor units of open
items, the case's creator — to active users, read in the change's own transaction.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, and_, cast, select

from cases.changes import ChangeRecord
from cases.models import User
from workflow.obligations import owed
from workflow.rules import RELATIONS

USERS = User.__table__

TRIGGER_EVENTS = {
    "assign": "assigned",
    "reassign": "assigned",
    "return": "returned",
    "approve_extension": "extension_decided",
    "reject_extension": "extension_decided",
    "answer": "answered",
    "send_back": "sent_back",
    "reopen": "sent_back",
    "approve_answer": "follow_up_due",
    "close": "closed",
    "pass_acceptance": "closed",
    "warn": "warned",
    "mark_overdue": "overdue",
    "supervise": "supervised",
    "list": "listed",
    "classify_ban": "item_request",
    "classify_rectify": "item_request",
    "convert_to_ban": "item_request",
    "report_relapse": "item_request",
    "submit_clearance": "acceptance",
    "submit_rectification": "acceptance",
    "revisit": "revisit_due",
    "waive_item": "item_decision_requested",
    "approve_waiver": "item_decided",
    "reject_waiver": "item_decided",
    "confirm_item": "item_decided",
    "reject_item": "item_decided",
}

# (kind, argument, role): kind ``unit`` takes a relation (or ``responsible``), ``role`` a role
# across all units, ``executors`` the executor units of the open items, ``creator`` the user who
# registered the case; ``item_decider`` the unit that rules on the item of the change (the office
# for a 不适用 declaration, the issuing department for a reported permit), ``item_executor`` the
# unit that carries the item out.
RULES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "assigned": (("unit", "lead_unit", "handler"), ("unit", "co_unit", "handler")),
    "returned": (("role", "", "dispatcher"),),
    "extension_decided": (("unit", "lead_unit", "handler"),),
    "answered": (("role", "", "dispatcher"),),
    "sent_back": (("unit", "lead_unit", "handler"),),
    "follow_up_due": (("role", "", "dispatcher"),),
    "closed": (
        ("unit", "lead_unit", "handler"),
        ("unit", "co_unit", "handler"),
        ("unit", "town", "handler"),
        ("creator", "", ""),
    ),
    "warned": (("unit", "responsible", "handler"),),
    "overdue": (("unit", "responsible", "handler"), ("unit", "responsible", "unit_head")),
    "supervised": (("unit", "responsible", "unit_head"), ("role", "", "dispatcher")),
    "listed": (("role", "", "convenor"),),
    "raised": (("role", "", "convenor"), ("unit", "lead_unit", "unit_head")),
    "item_request": (("executors", "", "handler"),),
    "acceptance": (("unit", "town", "handler"), ("unit", "review_department", "handler"), ("role", "", "dispatcher")),
    "revisit_due": (("unit", "town", "handler"),),
    "item_decision_requested": (("item_decider", "", "handler"),),
    "item_decided": (("item_executor", "", "handler"),),
}


@dataclass(frozen=True)
class Recipient:
    username: str
    display_name: str
    department: str
    channels: tuple[str, ...]
    email: str | None
    phone: str | None


def events_for(change: ChangeRecord) -> list[str]:
    events = []
    event = TRIGGER_EVENTS.get(change.trigger)
    if event == "closed" and change.row["state"] not in ("closed",):
        event = None
    if event is not None:
        events.append(event)
    if change.trigger == "complete_item" and change.payload.get("confirm_by"):  # a permit, to be confirmed
        events.append("item_decision_requested")
    if change.trigger == "fail_acceptance" and change.draft.state == "clearing":
        events.append("item_request")
    if "raised_to_convenors" in (change.payload.get("signals") or []):
        events.append("raised")
    return events


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
    return RELATIONS[relation](change.draft, change.rulebook.spec)


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


def recipients(conn: Connection, event: str, change: ChangeRecord, office: str) -> list[Recipient]:
    """Active users to tell of ``event``, each once, in a stable order."""
    found: dict[str, Recipient] = {}
    for kind, argument, role in RULES.get(event, ()):
        if kind == "role":
            pattern = f'%"{role}"%'
            for user in _users(conn, cast(USERS.c.roles, String).like(pattern)):
                found.setdefault(user.username, user)
            continue
        if kind == "creator":
            for user in _users(conn, USERS.c.username == change.row["created_by"]):
                found.setdefault(user.username, user)
            continue
        if kind == "executors":
            units = {change.rulebook.executor(k, change.draft) for k in change.rulebook.allowed_items(change.draft)}
        elif kind in ("item_decider", "item_executor"):
            item = change.payload.get("item") or ""
            unit = item_decider(change) if kind == "item_decider" else change.rulebook.executor(item, change.draft)
            units = {unit} if unit else set()
        elif argument == "responsible":
            units = responsible_units(change, office)
        else:
            units = RELATIONS[argument](change.draft, change.rulebook.spec)
        units.discard(None)  # type: ignore[arg-type]
        if office in units and (argument == "responsible" or kind in ("item_decider", "item_executor")):
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
