"""Read-only queries behind the web pages: the filtered case list (to-do lists included), the
挂图作战 dashboard's aggregates, the history across cases (audit search and its export), a
case's notifications and evidence descriptions, unread counts and user names.

Every aggregate is a ``GROUP BY`` over indexed columns (no per-case Python loop), so that the
pages answer quickly on 100,000 cases; the web layer draws the charts. Lists return the same
case view as ``CaseService.list_cases`` (``cases.views.case_view``). Who may open which page is
decided by the web layer; which cases a user may see is applied here, the way
``CaseService.list_cases`` applies it.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, inspect, or_, select, true

from cases import audit
from cases import repository as repo
from cases.db import Database
from cases.definitions import Definitions
from cases.models import Case, CaseEvent, CaseItem, CaseUnit, EvidenceFile, LadderStep, Notification, User
from cases.service import ALL_SEEING
from cases.views import case_view
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI, Clock
from workflow.errors import InvalidInput
from workflow.ladder import LEVELS
from workflow.org import Actor
from workflow.rulebook import Rulebook

CASES, ITEMS, UNITS, EVENTS = Case.__table__, CaseItem.__table__, CaseUnit.__table__, CaseEvent.__table__
STEPS, NOTES, USERS, EVIDENCE = LadderStep.__table__, Notification.__table__, User.__table__, EvidenceFile.__table__
OVERDUE_LEVELS = ("overdue", "supervised", "listed")
SORTS = ("due", "newest", "oldest")
MAX_PAGE_SIZE = 200
EXPORT_CAP = 50_000
DEEP_OFFSET = 600


@dataclass(frozen=True)
class CaseFilter:
    """What a case list asks for; every field is optional."""

    case_type: str | None = None
    state: str | None = None
    open_only: bool = False
    """Only cases not yet closed (no terminal state, not ``closed``)."""
    supervision: str | None = None
    overdue: bool = False
    """Supervision level 逾期催办 or above."""
    town: str | None = None
    unit: str | None = None
    """The responsible unit: the lead unit, or the town of a case without one."""
    waiting: str | None = None
    """Cases waiting on this unit now (its to-do list)."""
    with_new: bool = False
    """With ``waiting``: also the cases just registered in a state the office may start."""
    department: str | None = None
    """Every case the unit is concerned with."""
    query: str | None = None
    """Number, title or site name, enterprise name, or credit code."""
    created_from: date | None = None
    created_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    sort: str = "due"


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    unit: str | None = None
    trigger: str | None = None
    case: str | None = None
    since: date | None = None
    until: date | None = None


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def _concerns(unit: str, *, waiting: bool = False, drive: bool = False) -> Any:
    """The case concerns ``unit`` (or waits on it): ``drive`` gives ``id IN (the unit's
    cases)``, else a correlated ``EXISTS`` on ``case_unit``'s primary key."""
    condition = UNITS.c.unit == unit
    if waiting:
        condition = and_(condition, UNITS.c.waiting.is_(True))
    if drive:
        return CASES.c.id.in_(select(UNITS.c.case_id).where(condition))
    return exists().where(and_(UNITS.c.case_id == CASES.c.id, condition))


class Dashboard:
    """Queries of the web pages, each in one read transaction."""

    def __init__(self, db: Database, definitions: Definitions, clock: Clock, calendar: Callable[..., WorkingCalendar]) -> None:
        self.db = db
        self.definitions = definitions
        self.org = definitions.org
        self.clock = clock
        self.calendar = calendar
        self._indexes: dict[tuple[str, str], bool] = {}

    # --- states -------------------------------------------------------------------------------

    @property
    def closed_states(self) -> tuple[str, ...]:
        """States in which a case is no longer open (terminal ones, and those flagged closed)."""
        names: set[str] = set()
        for spec in self.definitions.specs.values():
            names |= {n for n, s in spec.states.items() if s.is_closed}
        return tuple(sorted(names))

    # --- case lists ---------------------------------------------------------------------------

    def search(self, actor: Actor, f: CaseFilter, page: int = 1, page_size: int = 30) -> dict[str, Any]:
        """One page of the cases ``actor`` may see that match ``f``, with the total."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput("page", f"页码从1开始，每页1到{MAX_PAGE_SIZE}条")
        if f.sort not in SORTS:
            raise InvalidInput("sort", f"未知排序“{f.sort}”；可选：{'、'.join(SORTS)}")
        # Two shapes of the same conditions. A correlated EXISTS lets a list sorted on an index
        # stop after one page; IN (subquery) drives from a unit's cases, read once in full (id and
        # deadline only) when every match must be looked at anyway: text search and deep pages.
        # A unit's own to-do list is counted on case_unit first; without ``with_new`` its page
        # comes from repo.waiting_page, else its size tells whether walking the index pays.
        offset = (page - 1) * page_size
        bounded = bool(f.waiting or f.department or not actor.roles & ALL_SEEING)
        with self.db.read() as conn:
            unindexed = f.sort == "due" and not self._indexed(conn, "case", "due_at")
            todo = self._plain_waiting(f) and self._own(actor, f) and not unindexed
            total = self._count_waiting(conn, f) if todo else None
            ids = None
            if total is not None and not f.with_new:
                unit = self.org.resolve(f.waiting or "", "waiting")
                ids = repo.waiting_page(conn, unit, total, f.sort, offset, page_size)
            if ids is None:
                sparse = total is not None and repo.walk_window(conn, total, offset, page_size) is None
                if f.query or sparse or (bounded and (offset >= DEEP_OFFSET or unindexed)):
                    where = self._conditions(actor, f, drive=True)
                    ids, total = self._all_ids(conn, where, f.sort, offset, page_size)
                else:
                    ids = self._page_ids(conn, self._conditions(actor, f, drive=False), f.sort, offset, page_size)
                    total = self._total(conn, actor, f) if total is None else total
            found = {r.id: r for r in conn.execute(select(CASES).where(CASES.c.id.in_(ids)))} if ids else {}
            rows = [found[i] for i in ids if i in found]
            open_items = self._open_items(conn, [r.id for r in rows])
            items = []
            for row in rows:
                rulebook = self.definitions.pinned(conn, row.definition_version)
                view = case_view(row._mapping, repo.to_draft(row), rulebook, actor)
                del view["items"]
                view["open_items"] = [
                    i for i in open_items.get(row.id, [])
                    if rulebook.spec.checklists[i["checklist"]].state == row.state
                ]  # fmt: skip
                view["enterprise_name"] = view["fields"].get("enterprise_name")
                items.append(view)
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def _indexed(self, conn: Connection, table: str, column: str) -> bool:
        """Whether an index starts with ``column`` (looked up once per process)."""
        key = (table, column)
        if key not in self._indexes:
            self._indexes[key] = any(
                (ix.get("column_names") or [None])[0] == column for ix in inspect(conn).get_indexes(table)
            )
        return self._indexes[key]

    @staticmethod
    def _all_ids(conn: Connection, where: Any, sort: str, offset: int, limit: int) -> tuple[list[int], int]:
        found = list(conn.execute(select(CASES.c.id, CASES.c.due_at).where(where)))
        if sort == "due":
            found.sort(key=lambda r: (r.due_at is None, r.due_at or datetime.min.replace(tzinfo=SHANGHAI), r.id))
        else:
            found.sort(key=lambda r: r.id, reverse=sort == "newest")
        return [r.id for r in found[offset : offset + limit]], len(found)

    @staticmethod
    def _page_ids(conn: Connection, where: Any, sort: str, offset: int, limit: int) -> list[int]:
        """Ids of one page. ``due``: earliest deadline first, cases without one last — read in
        two steps so that an index on ``due_at`` serves the first (no sort of the whole set)."""
        if sort != "due":
            order = CASES.c.id.desc() if sort == "newest" else CASES.c.id.asc()
            return [r.id for r in conn.execute(select(CASES.c.id).where(where).order_by(order).offset(offset).limit(limit))]
        dated = and_(where, CASES.c.due_at.is_not(None))
        stmt = select(CASES.c.id).where(dated).order_by(CASES.c.due_at, CASES.c.id).offset(offset).limit(limit)
        ids = [r.id for r in conn.execute(stmt)]
        if len(ids) == limit:
            return ids
        skip = 0 if ids else offset - int(conn.execute(select(func.count()).select_from(CASES).where(dated)).scalar_one())
        stmt = select(CASES.c.id).where(and_(where, CASES.c.due_at.is_(None))).order_by(CASES.c.id)
        return ids + [r.id for r in conn.execute(stmt.offset(max(skip, 0)).limit(limit - len(ids)))]

    def _own(self, actor: Actor, f: CaseFilter) -> bool:
        """``actor`` sees every case ``f`` may match: it sees every case, or asks for its own
        unit's to-do list."""
        own = bool(f.waiting) and self.org.resolve(f.waiting or "", "waiting") == actor.department
        return bool(actor.roles & ALL_SEEING) or own

    def _total(self, conn: Connection, actor: Actor, f: CaseFilter) -> int:
        if self._plain_waiting(f) and self._own(actor, f):
            return self._count_waiting(conn, f)
        where = self._conditions(actor, f, drive=True)
        return int(conn.execute(select(func.count()).select_from(CASES).where(where)).scalar_one())

    def _conditions(self, actor: Actor, f: CaseFilter, *, drive: bool) -> Any:
        c: list[Any] = []
        if f.case_type:
            self.definitions.current(f.case_type)
            c.append(CASES.c.type == f.case_type)
        if f.state:
            c.append(CASES.c.state == f.state)
        if f.open_only:
            c.append(CASES.c.state.not_in(self.closed_states))
        if f.supervision:
            if f.supervision not in LEVELS:
                raise InvalidInput("supervision", f"未知督办级别“{f.supervision}”")
            c.append(CASES.c.supervision == f.supervision)
        if f.overdue:
            c.append(CASES.c.supervision.in_(OVERDUE_LEVELS))
        if f.town:
            c.append(CASES.c.town == self.org.resolve(f.town, "town"))
        if f.unit:
            unit = self.org.resolve(f.unit, "unit")
            c.append(or_(CASES.c.lead_unit == unit, and_(CASES.c.lead_unit.is_(None), CASES.c.town == unit)))
        if f.waiting:
            c.append(self._waiting(f, drive))
        if f.department:
            unit = self.org.resolve(f.department, "department")
            c.append(_concerns(unit, drive=drive))
        if f.query and f.query.strip():
            text = f.query.strip()[:100]
            c.append(or_(
                CASES.c.number == text.upper(),
                CASES.c.uscc == text.upper().replace(" ", ""),
                CASES.c.title.contains(text, autoescape=True),
                CASES.c.fields["enterprise_name"].as_string().contains(text, autoescape=True),
            ))  # fmt: skip
        for column, first, last in ((CASES.c.created_at, f.created_from, f.created_to), (CASES.c.closed_at, f.closed_from, f.closed_to)):
            if first:
                c.append(column >= _start(first))
            if last:
                c.append(column < _start(last + timedelta(days=1)))
        if not actor.roles & ALL_SEEING and not (f.waiting and self.org.resolve(f.waiting, "waiting") == actor.department):
            # (a unit's own to-do list is visible to it by definition)
            c.append(or_(_concerns(actor.department, drive=drive), CASES.c.created_by == actor.username))
        return and_(true(), *c)

    def new_states(self) -> list[tuple[str, str]]:
        """(type, initial state) pairs a dispatcher may move on although the clock is on another
        unit (a site just reported waits on its town): shown in the office's to-do list too."""
        pairs = []
        for spec in self.definitions.specs.values():
            clock = spec.states[spec.initial].clock
            if clock is not None and clock.responsible == "office":
                continue
            if any(spec.initial in t.sources and any(r.role == "dispatcher" and r.unit is None for r in t.actors) for t in spec.transitions):
                pairs.append((spec.type, spec.initial))
        return pairs

    def _waiting(self, f: CaseFilter, drive: bool) -> Any:
        unit = self.org.resolve(f.waiting or "", "waiting")
        condition = _concerns(unit, waiting=True, drive=drive)
        pairs = [and_(CASES.c.type == kind, CASES.c.state == state) for kind, state in self.new_states()] if f.with_new else []
        return or_(condition, *pairs) if pairs else condition

    def _plain_waiting(self, f: CaseFilter) -> bool:
        """Only ``waiting`` (and ``with_new``) is asked: the total can be counted on indexes."""
        return bool(f.waiting) and f == CaseFilter(waiting=f.waiting, with_new=f.with_new, sort=f.sort)

    def _count_waiting(self, conn: Connection, f: CaseFilter) -> int:
        unit = self.org.resolve(f.waiting or "", "waiting")
        stmt = select(func.count()).select_from(UNITS).where(and_(UNITS.c.unit == unit, UNITS.c.waiting.is_(True)))
        total = int(conn.execute(stmt).scalar_one())
        for kind, state in self.new_states() if f.with_new else ():
            total += int(conn.execute(select(func.count()).select_from(CASES).where(and_(CASES.c.type == kind, CASES.c.state == state))).scalar_one())
        return total

    def _open_items(self, conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        result: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if ids:
            stmt = select(ITEMS.c.case_id, ITEMS.c.key, ITEMS.c.label, ITEMS.c.executor, ITEMS.c.checklist).where(
                and_(ITEMS.c.case_id.in_(ids), ITEMS.c.done.is_(False))
            ).order_by(ITEMS.c.case_id, ITEMS.c.position)
            for r in conn.execute(stmt):
                result[r.case_id].append({"key": r.key, "label": r.label, "executor": r.executor, "checklist": r.checklist})
        return result

    # --- the dashboard (挂图作战) -----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Open cases by type and state, by supervision level, by town, by waiting unit (with
        the overdue ones among them)."""
        closed = set(self.closed_states)
        open_states = sorted({s for spec in self.definitions.specs.values() for s in spec.states} - closed)
        by_state: dict[tuple[str, str], int] = defaultdict(int)
        by_level: dict[str, int] = defaultdict(int)
        by_town: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        total = 0
        columns = (CASES.c.state, CASES.c.type, CASES.c.supervision, CASES.c.town)
        with self.db.read() as conn:
            stmt = select(*columns, func.count()).where(CASES.c.state.in_(open_states)).group_by(*columns)
            for state, kind, level, town, n in conn.execute(stmt):
                total += n
                by_state[(kind, state)] += n
                by_level[level] += n
                if town:
                    by_town[town][level] += n
            waiting = {u: n for u, n in conn.execute(
                select(UNITS.c.unit, func.count()).where(UNITS.c.waiting.is_(True)).group_by(UNITS.c.unit)
            )}  # fmt: skip
            late = select(CASES.c.id).where(CASES.c.supervision.in_(OVERDUE_LEVELS))
            stmt = (
                select(UNITS.c.unit, func.count())
                .where(and_(UNITS.c.waiting.is_(True), UNITS.c.case_id.in_(late)))
                .group_by(UNITS.c.unit)
            )
            overdue_by_unit = {u: n for u, n in conn.execute(stmt)}
        return {
            "open": total,
            "by_state": [
                {"type": t, "state": s, "count": by_state[(t, s)]}
                for t, spec in self.definitions.specs.items() for s in spec.states if by_state.get((t, s))
            ],
            "by_level": {level: by_level.get(level, 0) for level in LEVELS},
            "by_town": {town: dict(levels) for town, levels in by_town.items()},
            "waiting": waiting,
            "overdue_by_unit": overdue_by_unit,
        }  # fmt: skip

    def weeks(self, count: int = 12) -> list[tuple[date, date]]:
        """The last ``count`` ISO weeks (Monday, next Monday), the current one last."""
        today = self.clock.now().astimezone(SHANGHAI).date()
        monday = today - timedelta(days=today.weekday())
        return [(monday - timedelta(weeks=n), monday - timedelta(weeks=n - 1)) for n in range(count - 1, -1, -1)]

    def trends(self, count: int = 12) -> dict[str, Any]:
        """Per week: cases registered, cases closed, and obligations newly overdue (ladder steps to
        逾期). On-time rates are the figures' (``cases.figures``), counted over obligations."""
        weeks = self.weeks(count)
        since = _start(weeks[0][0])

        def week_of(column: Any) -> Any:  # one pass over the index range, binned by week
            return case(*[(column >= _start(w[0]), i) for i, w in reversed(list(enumerate(weeks)))], else_=-1)

        registered, closed, overdue = [0] * count, [0] * count, [0] * count
        with self.db.read() as conn:
            for column, where, into in (
                (CASES.c.created_at, CASES.c.created_at >= since, registered),
                (CASES.c.closed_at, CASES.c.closed_at >= since, closed),
                (STEPS.c.at, and_(STEPS.c.level == "overdue", STEPS.c.at >= since), overdue),
            ):
                week = week_of(column)
                for i, n in conn.execute(select(week, func.count()).where(where).group_by(week)):
                    if i >= 0:
                        into[i] = n
        rows = [
            {"week": f"{w[0].isocalendar()[0]}-W{w[0].isocalendar()[1]:02d}", "from": w[0], "to": w[1] - timedelta(days=1),
             "registered": registered[i], "closed": closed[i], "overdue": overdue[i]}
            for i, w in enumerate(weeks)
        ]  # fmt: skip
        return {"weeks": rows, "closed": sum(closed), "from": weeks[0][0], "to": weeks[-1][1] - timedelta(days=1)}

    # --- one case -----------------------------------------------------------------------------

    def rulebook(self, version: str) -> Rulebook:
        """The rules a case is pinned to (older versions are read back from the database)."""
        with self.db.read() as conn:
            return self.definitions.pinned(conn, version)

    def case_notifications(self, case_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """The notifications a case produced, oldest first (every channel)."""
        from notifications.dispatcher import view

        stmt = select(NOTES).where(NOTES.c.case_id == case_id).order_by(NOTES.c.id).limit(limit)
        with self.db.read() as conn:
            return [view(r) for r in conn.execute(stmt)]

    def evidence_meta(self, shas: list[str]) -> dict[str, dict[str, Any]]:
        if not shas:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(select(EVIDENCE).where(EVIDENCE.c.sha256.in_(sorted(set(shas)))))
            return {r.sha256: dict(r._mapping) for r in rows}

    def user_names(self) -> dict[str, dict[str, str]]:
        """User name → display name and department (for histories)."""
        with self.db.read() as conn:
            rows = conn.execute(select(USERS.c.username, USERS.c.display_name, USERS.c.department))
            return {r.username: {"display_name": r.display_name, "department": r.department} for r in rows}

    def unread_count(self, username: str) -> int:
        stmt = select(func.count()).select_from(NOTES).where(
            and_(NOTES.c.recipient == username, NOTES.c.channel == "inapp", NOTES.c.read_at.is_(None))
        )
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # --- history across cases (audit) ------------------------------------------------------------

    def _audit_where(self, conn: Connection, f: AuditFilter) -> Any:
        c: list[Any] = []
        if f.actor:
            c.append(EVENTS.c.actor == f.actor.strip())
        if f.unit:
            unit = self.org.resolve(f.unit, "unit")
            people = [r.username for r in conn.execute(select(USERS.c.username).where(USERS.c.department == unit))]
            c.append(EVENTS.c.actor.in_(people or ["\x00"]))
        if f.trigger:
            c.append(EVENTS.c.trigger == f.trigger.strip())
        if f.case:
            row = repo.find_case(conn, f.case)
            c.append(EVENTS.c.case_id == row.id)
        if f.since:
            c.append(EVENTS.c.at >= _start(f.since))
        if f.until:
            c.append(EVENTS.c.at < _start(f.until + timedelta(days=1)))
        return and_(true(), *c)

    def audit_events(self, f: AuditFilter, *, before: int | None = None, limit: int = 50) -> dict[str, Any]:
        """Newest events first, ``limit`` at a time (``before``: the id to continue below)."""
        with self.db.read() as conn:
            where = self._audit_where(conn, f)
            if before:
                where = and_(where, EVENTS.c.id < before)
            stmt = (
                select(EVENTS, CASES.c.number, CASES.c.title, CASES.c.type)
                .join(CASES, CASES.c.id == EVENTS.c.case_id)
                .where(where).order_by(EVENTS.c.id.desc()).limit(limit + 1)
            )  # fmt: skip
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return {"events": rows, "next_before": rows[-1]["id"] if more else None}

    def iter_audit_events(self, f: AuditFilter, cap: int = EXPORT_CAP) -> Iterator[dict[str, Any]]:
        """Every matching event, newest first, at most ``cap`` (for exports), in batches."""
        before, sent = None, 0
        while sent < cap:
            page = self.audit_events(f, before=before, limit=min(1000, cap - sent))
            yield from page["events"]
            sent += len(page["events"])
            before = page["next_before"]
            if before is None:
                return

    def verify(self) -> audit.VerifyResult:
        with self.db.read() as conn:
            return audit.verify(conn)
