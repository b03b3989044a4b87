"""The working-day calendar the system counts deadlines on: the ``chinese_calendar`` package data
(``base``), the ``config/calendar/*.yaml`` files (``config``; a file replaces its year), and the
days admins entered with ``caseflow calendar add`` (table ``calendar_day``; per day, they win).

Every admin change is also appended to ``calendar_change`` (day, kind, name, what it was before,
actor, instant); ``calendar_day.created_by``/``created_at`` are the latest change. Only ``admin``
may change the calendar. Refused as no-ops (``InvalidInput``): giving a day the kind and name it
already has, and making an ordinary Monday–Friday an adjusted working day (it already is a working
day). Allowed: a holiday on a weekend (holiday periods list them), turning a holiday into a
workday or back (corrections), renaming a day.

The first entry of a year without data makes that year known: ``add`` returns
``year_made_known=True`` and the caller must then recompute the provisional deadlines of open
cases (this module does not touch cases). The counting rules are ``workflow.calendar``'s.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from cases.db import Database
from cases.models import CalendarChange, CalendarDay
from cases.views import local
from workflow.calendar import (
    KINDS,
    MAX_YEAR,
    MIN_YEAR,
    NAME_MAX,
    WEEKDAYS,
    CalendarData,
    DayKind,
    WorkingCalendar,
)
from workflow.clock import Clock
from workflow.errors import InvalidInput, PermissionDenied
from workflow.org import Actor

DAYS = CalendarDay.__table__
CHANGES = CalendarChange.__table__
ADMIN_ROLE = "admin"
KIND_LABELS: dict[str, str] = {"holiday": "节假日", "workday": "调休上班日"}
SOURCE_LABELS: dict[str, str] = {"package": "软件包", "config": "配置文件", "admin": "管理员录入"}
UNKNOWN_YEAR_NOTE = "{year} 年尚无官方数据：按周末推算，期限标为暂定"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class DayChange:
    """What one ``add`` changed."""

    day: date
    kind: DayKind
    name: str
    previous_kind: DayKind | None
    """The day's kind before (``None``: an ordinary day)."""
    previous_name: str | None
    previous_source: str | None
    """Where the previous kind came from: ``package``, ``config`` or ``admin``."""
    year_made_known: bool
    """The day's year had no data before: provisional deadlines must be recomputed."""
    actor: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "weekday": WEEKDAYS[self.day.weekday()],
            "kind": self.kind,
            "name": self.name,
            "previous_kind": self.previous_kind,
            "previous_name": self.previous_name,
            "previous_source": self.previous_source,
            "year_made_known": self.year_made_known,
            "actor": self.actor,
            "at": local(self.at),
        }


def parse_day(value: str | date) -> date:
    """A date given by a user (``YYYY-MM-DD``) within the supported years; ``InvalidInput``."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = str(value).strip()
        try:
            if not _DATE.match(text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput("date", f"“{text}”不是有效日期，请写作 YYYY-MM-DD（如 2027-01-01）") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput("date", f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间（收到 {value.isoformat()}）")
    return value


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput("year", f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间（收到 {year}）")
    return year


def _check_name(name: str) -> str:
    clean = (name or "").strip()
    if not clean:
        raise InvalidInput("name", "名称不能为空（如 元旦、春节、国庆节）")
    if len(clean) > NAME_MAX:
        raise InvalidInput("name", f"名称不超过 {NAME_MAX} 个字（现为 {len(clean)} 个）")
    if _CONTROL.search(clean):
        raise InvalidInput("name", "名称不能包含换行或控制字符")
    return clean


def _check_kind(kind: str) -> DayKind:
    for known in KINDS:
        if kind == known:
            return known
    raise InvalidInput("kind", "须为 holiday（节假日）或 workday（调休上班日）")


def _refuse_no_op(day: date, kind: DayKind, name: str, before: tuple[DayKind, str] | None) -> None:
    label = f"{day.isoformat()}（{WEEKDAYS[day.weekday()]}）"
    if before == (kind, name):
        raise InvalidInput("date", f"{label}已是{KIND_LABELS[kind]}“{name}”，无需重复登记")
    if kind == "workday" and before is None and day.weekday() < 5:
        raise InvalidInput("date", f"{label}本来就是工作日，无需登记为调休上班日（调休上班日是需要上班的周末）")


def _upsert(conn: Connection, values: dict[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(DAYS).values(**values)
    changed = {key: stmt.excluded[key] for key in ("kind", "name", "created_by", "created_at")}
    conn.execute(stmt.on_conflict_do_update(index_elements=[DAYS.c.day], set_=changed))


class CalendarService:
    """The effective calendar (cached per process, refreshed when ``calendar_change`` grows, so a
    change made by another process is seen too), admin changes and the per-year listing."""

    def __init__(self, db: Database, clock: Clock, base: CalendarData, config: CalendarData | None = None) -> None:
        self.db = db
        self.clock = clock
        self.base = base
        """The package data (source ``package``)."""
        self.config = config or CalendarData()
        """The ``config/calendar`` files (source ``config``); they replace ``base`` per year."""
        self._files = base.replace_years(self.config)
        self._cache: tuple[int, WorkingCalendar] | None = None

    def calendar(self, conn: Connection | None = None) -> WorkingCalendar:
        """The calendar to count on now (on ``conn`` if given, e.g. inside a write transaction)."""
        if conn is None:
            with self.db.read() as read_conn:
                return self.calendar(read_conn)
        revision = int(conn.execute(select(func.coalesce(func.max(CHANGES.c.id), 0))).scalar_one())
        cached = self._cache
        if cached is not None and cached[0] == revision:
            return cached[1]
        calendar = WorkingCalendar(self._files.with_days(self._admin_days(conn)))
        self._cache = (revision, calendar)
        return calendar

    def add(self, day: str | date, kind: str, name: str, actor: Actor) -> DayChange:
        """Enter one day as a holiday or an adjusted working day (admins only)."""
        if not actor.has(ADMIN_ROLE):
            raise PermissionDenied("只有管理员（admin）可以维护工作日历", {"role": ADMIN_ROLE})
        the_day, the_kind, clean = parse_day(day), _check_kind(kind), _check_name(name)
        at = self.clock.now()
        with self.db.write() as conn:
            admin = self._admin_days(conn)
            data = self._files.with_days(admin)
            before = data.kind_of(the_day)
            _refuse_no_op(the_day, the_kind, clean, before)
            made_known = the_day.year not in data.known_years
            _upsert(
                conn,
                {
                    "day": the_day,
                    "kind": the_kind,
                    "name": clean,
                    "created_by": actor.username,
                    "created_at": at,
                },
            )
            conn.execute(
                insert(CHANGES).values(
                    day=the_day,
                    kind=the_kind,
                    name=clean,
                    actor=actor.username,
                    at=at,
                    previous_kind=before[0] if before else None,
                    previous_name=before[1] if before else None,
                )  # fmt: skip
            )
        self._cache = None
        return DayChange(
            the_day, the_kind, clean, before[0] if before else None, before[1] if before else None,
            self._source(the_day, admin) if before else None, made_known, actor.username, at,
        )  # fmt: skip

    def show(self, year: int) -> dict[str, Any]:
        """One year: known or not, holidays and adjusted working days with their source, the
        number of working days, and the admin changes of that year."""
        check_year(year)
        with self.db.read() as conn:
            calendar = self.calendar(conn)
            rows = {
                r.day: r
                for r in conn.execute(select(DAYS).where(DAYS.c.day.between(date(year, 1, 1), date(year, 12, 31))))
            }
            changes = conn.execute(
                select(CHANGES)
                .where(CHANGES.c.day.between(date(year, 1, 1), date(year, 12, 31)))
                .order_by(CHANGES.c.id)
            ).all()
        summary = calendar.year_summary(year)
        admin = {day: (row.kind, row.name) for day, row in rows.items()}

        def entry(day: date, name: str) -> dict[str, Any]:
            row = rows.get(day)
            return {
                "date": day.isoformat(),
                "weekday": WEEKDAYS[day.weekday()],
                "name": name,
                "source": self._source(day, admin),
                "created_by": row.created_by if row is not None else None,
                "created_at": local(row.created_at) if row is not None else None,
            }

        return {
            "year": year,
            "known": summary.known,
            "sources": sorted({self._source(d, admin) for d, _ in (*summary.holidays, *summary.workdays)}),
            "days": summary.days,
            "working_days": summary.working_days,
            "holidays": [entry(d, n) for d, n in summary.holidays],
            "workdays": [entry(d, n) for d, n in summary.workdays],
            "changes": [_change_view(c) for c in changes],
            "note": None if summary.known else UNKNOWN_YEAR_NOTE.format(year=year),
        }

    def _admin_days(self, conn: Connection) -> dict[date, tuple[DayKind, str]]:
        return {row.day: (_check_kind(row.kind), row.name) for row in conn.execute(select(DAYS))}

    def _source(self, day: date, admin: dict[date, Any]) -> str:
        if day in admin:
            return "admin"
        return "config" if day.year in self.config.known_years else "package"


def _change_view(row: Row[Any]) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(),
        "kind": row.kind,
        "name": row.name,
        "previous_kind": row.previous_kind,
        "previous_name": row.previous_name,
        "actor": row.actor,
        "at": local(row.at),
    }
