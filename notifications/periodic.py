"""The daily digest (per unit: 待办, 临期, 逾期) and the weekly bulletin (通报) as notifications.

The bulletin is addressed to 各成员单位: it goes to the office's dispatchers, the convenors and
every member unit's handlers and unit heads (each person once, on each of their channels). A
member unit's readers get the whole bulletin with their unit's own part first (本单位情况,
``cases.reports.unit_part``); the office and the convenors get it without.

Each is idempotent per period: running the digest twice on one day, or the bulletin twice for
one week, queues nothing new (the idempotency keys name the day or the week).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, cast, or_, select

from cases import reports
from cases.assessment import Weights
from cases.bulletin_store import FALLBACK
from cases.db import Database
from cases.definitions import Definitions
from cases.models import User
from notifications.outbox import Outbox
from notifications.recipients import Recipient
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI, Clock

USERS = User.__table__


@dataclass(frozen=True)
class PeriodicResult:
    period: str
    units: int
    recipients: int
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "units": self.units, "recipients": self.recipients, "skipped": self.skipped}


def _people(conn: Connection, *conditions: Any) -> list[Recipient]:
    rows = conn.execute(select(USERS).where(and_(USERS.c.active.is_(True), *conditions)).order_by(USERS.c.username))
    return [
        Recipient(r.username, r.display_name, r.department, tuple(r.channels or ("inapp",)), r.email, r.phone)
        for r in rows
    ]


def _with_role(conn: Connection, role: str, department: str | None = None) -> list[Recipient]:
    conditions = [cast(USERS.c.roles, String).like(f'%"{role}"%')]
    if department is not None:
        conditions.append(USERS.c.department == department)
    return _people(conn, *conditions)


BULLETIN_ROLES = ("dispatcher", "convenor")
"""Who reads the bulletin across units: the office and the convenors."""
BULLETIN_UNIT_ROLES = ("handler", "unit_head")
"""Who reads it in every member unit (各成员单位): its handlers and unit heads."""


def _bulletin_readers(conn: Connection, units: list[str]) -> tuple[list[Recipient], set[str]]:
    """Active readers of the bulletin, each once, in a stable order; and the user names of those
    who read it across units (the office, the convenors: no 本单位情况 for them)."""
    people: dict[str, Recipient] = {}
    for role in BULLETIN_ROLES:
        for person in _with_role(conn, role):
            people.setdefault(person.username, person)
    across = set(people)
    unit_roles = [cast(USERS.c.roles, String).like(f'%"{role}"%') for role in BULLETIN_UNIT_ROLES]
    for person in _people(conn, USERS.c.department.in_(units), or_(*unit_roles)):
        people.setdefault(person.username, person)
    return sorted(people.values(), key=lambda p: p.username), across


class Periodic:
    def __init__(self, db: Database, definitions: Definitions, outbox: Outbox, clock: Clock,
                 calendar: Callable[[Connection], WorkingCalendar], weights: Weights,
                 requirements: str = FALLBACK) -> None:  # fmt: skip
        self.db = db
        self.definitions = definitions
        self.outbox = outbox
        self.clock = clock
        self.calendar = calendar
        self.weights = weights
        """The assessment's weights: the bulletin ranks units by the week's score."""
        self.requirements = requirements
        """The default 下一步工作要求 (``bulletin_requirements`` in ``notifications.yaml``)."""

    def digest(self, now: datetime | None = None, *, force: bool = False) -> PeriodicResult:
        """Queue each unit's digest for today (working days only, unless ``force``)."""
        now = now or self.clock.now()
        today = now.astimezone(SHANGHAI).date()
        org = self.definitions.org
        with self.db.write() as conn:
            calendar = self.calendar(conn)
            if not force and not calendar.is_working_day(today):
                return PeriodicResult(today.isoformat(), 0, 0, "今天不是工作日")
            waiting = reports.waiting_by_unit(conn, self.definitions, calendar, now)
            sent = 0
            for unit, lists in sorted(waiting.items()):
                people = _with_role(conn, "dispatcher") if unit == org.office else _with_role(conn, "handler", unit)
                context = {
                    "digest": {
                        "unit_name": org.name(unit),
                        "date": today.isoformat(),
                        "todo": lists.todo,
                        "due_soon": lists.due_soon,
                        "overdue": lists.overdue,
                    },  # fmt: skip
                    "office": dict(self.outbox.config.office),
                }
                for person in people:
                    personal = {**context, "recipient": {"username": person.username, "display_name": person.display_name,
                                                         "department_name": org.name(person.department)}}  # fmt: skip
                    self.outbox.enqueue(
                        conn, f"digest:{today.isoformat()}:{unit}", "digest", person, personal, now, now
                    )
                    sent += 1
                self.outbox.enqueue_robots(
                    conn, f"digest:{today.isoformat()}:{unit}", "digest", {unit}, context, now, now
                )
        return PeriodicResult(today.isoformat(), len(waiting), sent)

    def bulletin_data(self, week: str, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.clock.now()
        with self.db.read() as conn:
            return reports.bulletin(
                conn, self.definitions, self.calendar(conn), week, now, self.weights, self.requirements
            )

    def bulletin(self, week: str | None = None, now: datetime | None = None) -> PeriodicResult:
        """Queue the weekly bulletin (default: last week's) to the office, the convenors and the
        handlers and unit heads of every member unit; a second run for the same week queues
        nothing new (the key names the week, the person and the channel)."""
        now = now or self.clock.now()
        week = week or reports.previous_week(now)
        data = self.bulletin_data(week, now)
        org = self.definitions.org
        with self.db.write() as conn:
            people, across = _bulletin_readers(conn, org.codes())
            context = {"bulletin": data, "office": dict(self.outbox.config.office)}
            parts: dict[str, Any] = {}
            for person in people:
                bulletin = data
                if person.username not in across:
                    if person.department not in parts:
                        parts[person.department] = reports.unit_part(data, person.department)
                    if parts[person.department] is not None:
                        bulletin = {**data, "own": parts[person.department]}
                personal = {**context, "bulletin": bulletin,
                            "recipient": {"username": person.username, "display_name": person.display_name,
                                          "department_name": org.name(person.department)}}  # fmt: skip
                self.outbox.enqueue(conn, f"bulletin:{week}", "bulletin", person, personal, now, now)
            self.outbox.enqueue_robots(conn, f"bulletin:{week}", "bulletin", {org.office}, context, now, now)
        return PeriodicResult(week, len(data["rows"]), len(people))
