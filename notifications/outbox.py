"""The outbox: notification rows written in the same transaction as the case change that caused
them (a ``ChangeSink``), so that a change is never committed without its messages, nor a message
without its change. Delivery happens later (``notifications.dispatcher``).

Each row has an idempotency key (case, event seq, event, recipient, channel). In-app messages are
delivered by being written (the inbox is this table); other channels wait for the dispatcher,
and non-urgent ones created outside working hours wait for the next working morning.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from cases.changes import ChangeRecord
from cases.models import Notification, Obligation, User
from notifications.config import NotificationConfig
from notifications.context import (
    action_context,
    case_context,
    event_context,
    items_context,
    obligation_context,
    recipient_context,
)
from notifications.events import EVENTS, EventSpec
from notifications.plan import plan_of
from notifications.recipients import Recipient, events_for, item_decider, recipients
from notifications.render import Rendered, TemplateStore
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.org import Organisation

log = logging.getLogger("caseflow.outbox")
NOTIFICATIONS = Notification.__table__
OBLIGATIONS = Obligation.__table__
USERS = User.__table__


def next_working_morning(now: datetime, calendar: WorkingCalendar, config: NotificationConfig) -> datetime:
    """``now`` if it is within working hours of a working day, else the next working morning."""
    local = now.astimezone(SHANGHAI)
    day = local.date()
    if calendar.is_working_day(day) and config.work_start <= local.time() < config.work_end:
        return now
    if not (calendar.is_working_day(day) and local.time() < config.work_start):
        day = calendar.next_working_day(day)
    return datetime.combine(day, config.work_start, SHANGHAI)


class Outbox:
    def __init__(
        self,
        org: Organisation,
        config: NotificationConfig,
        templates: TemplateStore,
        calendar: Callable[[Connection], WorkingCalendar],
        channels: set[str],
    ) -> None:
        self.org = org
        self.config = config
        self.templates = templates
        self.calendar = calendar
        self.channels = channels
        """Channels this installation can deliver on (in-app always)."""

    def on_change(self, conn: Connection, change: ChangeRecord) -> None:
        for event in events_for(change):
            self._event(conn, event, change)

    def _event(self, conn: Connection, event: str, change: ChangeRecord) -> None:
        spec = plan_of(change.rulebook.spec).events[event]
        people = recipients(conn, event, change, self.org.office)
        if not people:
            return
        actor = conn.execute(
            select(USERS.c.display_name, USERS.c.department).where(USERS.c.username == change.actor)
        ).first()
        base = {
            "case": obligation_context(
                case_context(change.row, change.draft, change.rulebook, self.config), change.payload
            ),
            "event": event_context(
                event,
                spec.label,
                change.now,
                change.actor,
                actor.display_name if actor else "系统",
                actor.department if actor else "",
                change.note,
                change.payload,
                self.org,
            ),  # fmt: skip
            "office": dict(self.config.office),
        }
        base["event"].update(action_context(change.rulebook.spec, change.payload))
        if change.payload.get("item"):
            base["event"].update(self._item_of(change))
            base["case"] = self._item_deadline(conn, change, base["case"])
        deliver_at = change.now if spec.urgent else next_working_morning(change.now, self.calendar(conn), self.config)
        prefix = f"{change.row['number']}:{change.seq}"
        units: set[str] = set()
        for person in people:
            units.add(person.department)
            context = {
                **base,
                "recipient": recipient_context(person.username, person.display_name, person.department, self.org),
                "items": items_context(
                    change.draft, change.rulebook, person.department if event == "item_request" else None
                ),
            }
            self.enqueue(
                conn, prefix, event, person, context, deliver_at, change.now, change.row["id"], change.row["number"],
                spec,
            )  # fmt: skip
        self.enqueue_robots(
            conn, prefix, event, units, base, deliver_at, change.now, change.row["id"], change.row["number"], spec
        )

    def _item_of(self, change: ChangeRecord) -> dict[str, Any]:
        """The item an item's event is about, the decision and the unit that rules on it."""
        key = change.payload["item"]
        found = change.rulebook.spec.item(key)
        decider = item_decider(change)
        decision = change.payload.get("decision") or ("report" if change.trigger == "complete_item" else "")
        return {
            "item": {"key": key, "label": found[1].label if found else key},
            "decision": decision,
            "decider_name": self.org.name(decider) if decider else "",
        }

    @staticmethod
    def _item_deadline(conn: Connection, change: ChangeRecord, case: dict[str, Any]) -> dict[str, Any]:
        """An item's notice speaks of the deadline of what it asks for: the ruling or confirmation
        now owed (``waiver:cut_water``, ``confirm:business_license``), or the item owed again."""
        key = change.payload["item"]
        o = OBLIGATIONS.c
        ob = conn.execute(
            select(o.unit, o.label, o.due_date, o.due_at, o.level)
            .where(
                o.case_id == change.row["id"],
                o.closed_at.is_(None),
                o.key.in_((f"waiver:{key}", f"confirm:{key}", key)),
            )  # fmt: skip
            .order_by(o.id.desc())
            .limit(1)
        ).first()
        if ob is None or ob.due_date is None:
            return case
        payload = {"obligation_unit": ob.unit, "obligation_label": ob.label, "level": ob.level,
                   "due_date": ob.due_date.isoformat(), "due_at": ob.due_at.isoformat() if ob.due_at else None}  # fmt: skip
        return obligation_context(case, payload)

    def enqueue(
        self, conn: Connection, prefix: str, event: str, person: Recipient, context: dict[str, Any],
        deliver_at: datetime, now: datetime, case_id: int | None = None, case_number: str | None = None,
        spec: EventSpec | None = None,
    ) -> None:  # fmt: skip
        """Render ``event`` for one person and queue it on each of the person's channels; ``spec``
        is the event as the case's type declares it (a shared event when not given)."""
        spec = spec or EVENTS[event]
        rendered = self._render(spec, context)
        for channel in self._channels_of(person):
            self._insert(conn, prefix, case_id, case_number, spec, person.username, channel, rendered, deliver_at, now)

    def enqueue_robots(
        self, conn: Connection, prefix: str, event: str, units: set[str], base: dict[str, Any],
        deliver_at: datetime, now: datetime, case_id: int | None = None, case_number: str | None = None,
        spec: EventSpec | None = None,
    ) -> None:  # fmt: skip
        """Queue ``event`` for the group robots of these units."""
        spec = spec or EVENTS[event]
        for unit in sorted(units):
            for index, hook in enumerate(self.config.webhooks_for(unit, event)):
                context = {
                    **base,
                    "recipient": recipient_context(f"dept:{unit}", self.org.name(unit), unit, self.org),
                    "items": [],
                }
                recipient = f"dept:{unit}#{index}:{hook.kind}"
                rendered = self._render(spec, context)
                self._insert(conn, prefix, case_id, case_number, spec, recipient, "webhook", rendered, deliver_at, now)

    def _channels_of(self, person: Recipient) -> list[str]:
        wanted = ["inapp", *[c for c in person.channels if c != "inapp"]]
        usable = {"inapp": True, "email": bool(person.email), "sms": bool(person.phone)}
        return [c for c in wanted if c in self.channels and usable.get(c, False)]

    def _render(self, spec: EventSpec, context: dict[str, Any]) -> Rendered:
        try:
            return self.templates.render(spec.name, context)
        except Exception:  # noqa: BLE001 - a broken template must never block a case change
            log.exception("template %s failed; sending a plain fallback", spec.name)
            case = context.get("case", {})
            subject = f"【{spec.label}】{case.get('number', '')} {case.get('title', '')}".strip()
            return Rendered(subject, f"{subject}\n{case.get('link', '')}", None)

    def _insert(
        self, conn: Connection, prefix: str, case_id: int | None, case_number: str | None, spec: EventSpec,
        recipient: str, channel: str, rendered: Rendered, deliver_at: datetime, now: datetime,
    ) -> None:  # fmt: skip
        inbox = channel == "inapp"
        event = spec.name
        values = {
            "idempotency_key": f"{prefix}:{event}:{recipient}:{channel}",
            "case_id": case_id,
            "case_number": case_number,
            "event": event,
            "recipient": recipient,
            "channel": channel,
            "urgent": spec.urgent,
            "subject": rendered.subject[:300],
            "body_text": rendered.text,
            "body_html": rendered.html,
            "status": "sent" if inbox else "pending",
            "attempts": 0,
            "next_attempt_at": now if inbox else deliver_at,
            "created_at": now,
            "sent_at": now if inbox else None,
        }
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(NOTIFICATIONS)
        conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"]))


def retry_after(attempts: int, config: NotificationConfig) -> timedelta:
    """Exponential back-off: base, 2×base, 4×base … capped at one day."""
    return min(timedelta(seconds=config.backoff_seconds * 2 ** max(attempts - 1, 0)), timedelta(days=1))
