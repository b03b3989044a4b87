"""Every per-unit figure, defined once, counted over obligations (责任清单): the weekly bulletin,
the dashboard, the assessment and the API all read ``unit_figures``, so the same figure is the
same number everywhere.

A period is an ISO week (``2026-W49``), a month (``2026-10``), a quarter (``2026-Q4``), a year
(``2026``) or a span of days (``2026-09-14~2026-12-06``, the dashboard's last twelve weeks), from
00:00 of its first day to 00:00 after its last (Asia/Shanghai). Counted for each
unit, over the obligations it owes (a late obligation is its own unit's, never its case's lead
unit's):

- ``assigned`` 交办数: 签收 obligations (``measure: accept``) opened in the period;
- ``accepted`` / ``accepted_on_time`` 签收 / 按时签收: 签收 obligations discharged by signing for;
  ``returned`` 退回数: … discharged by returning the case;
- ``done`` / ``done_on_time`` 办结事项 / 按期办结: every obligation the unit discharged; 按期办结率
  is ``done_on_time`` over ``done`` plus ``overdue_open`` (an overdue obligation still open counts
  as not on time);
- ``completed`` 办结数 and ``avg_days`` 平均用时: 办结 obligations (``measure: complete``: the
  answer, the submission for acceptance) discharged; ``reworks`` 重办数: 办结 obligations opened
  again by a send-back or a reopening;
- ``overdue_open`` 当前超期: obligations open and past their deadline at the period's end (or now);
  ``went_overdue`` 新增超期: obligations whose deadline passed in the period before they were done;
- ``warned`` … ``listed`` 临期预警 / 逾期催办 / 督办 / 挂牌: obligations standing at that level, open at
  some time in the period;
- ``rated`` / ``satisfied`` 满意率 and ``extensions`` 延期数: the enterprise's rating at 销号/重新办理
  and the extensions granted, for the case's lead unit (the unit that answered).

Scoring (``cases.assessment``) and presenting (pages, documents) are other modules' jobs.
"""

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from cases.models import Case, CaseEvent
from cases.obligations import OBLIGATIONS
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput

CASES, EVENTS = Case.__table__, CaseEvent.__table__
SATISFIED = ("非常满意", "满意", "基本满意")
LEVELS_COUNTED = ("warned", "overdue", "supervised", "listed")
"""Supervision levels counted per unit: obligations standing at that level while open in the period."""
_PERIOD = re.compile(r"^(\d{4})(?:-W(\d{2})|-Q([1-4])|-(\d{2}))?$")
_SPAN = re.compile(r"^(\d{4}-\d{2}-\d{2})~(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    text: str
    """As given: ``2026-W49``, ``2026-10``, ``2026-Q4`` or ``2026``."""
    first: date
    after: date
    """The day after the last day."""
    label: str
    """In Chinese: 2026年第49周, 2026年10月, 2026年第四季度, 2026年."""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), SHANGHAI)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.after, time(0), SHANGHAI)


QUARTERS = "一二三四"


def parse_period(text: str) -> Period:
    """A period from its text; ``InvalidInput`` says which forms are allowed."""
    allowed = "可用：2026-W49（周）、2026-10（月）、2026-Q4（季度）、2026（年）或 2026-09-14~2026-12-06（起止日期）"
    span = _SPAN.match((text or "").strip())
    if span:
        try:
            first, last = date.fromisoformat(span.group(1)), date.fromisoformat(span.group(2))
        except ValueError:
            raise InvalidInput("period", f"期间“{text}”的日期不存在；{allowed}") from None
        if last < first or (last - first).days > 3660:
            raise InvalidInput("period", f"期间“{text}”的止日须不早于起日，且不超过十年")
        label = f"{first.year}年{first.month}月{first.day}日至{last.year}年{last.month}月{last.day}日"
        return Period(text.strip(), first, last + timedelta(days=1), label)
    found = _PERIOD.match((text or "").strip())
    if not found:
        raise InvalidInput("period", f"期间“{text}”格式不对；{allowed}")
    year = int(found.group(1))
    if not 2000 <= year <= 2100:
        raise InvalidInput("period", f"年份{year}超出范围（2000—2100）")
    week, quarter, month = found.group(2), found.group(3), found.group(4)
    try:
        if week:
            first = date.fromisocalendar(year, int(week), 1)
            return Period(text.strip(), first, first + timedelta(days=7), f"{year}年第{int(week)}周")
        if quarter:
            q = int(quarter)
            first = date(year, 3 * q - 2, 1)
            after = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
            return Period(text.strip(), first, after, f"{year}年第{QUARTERS[q - 1]}季度")
        if month:
            m = int(month)
            first = date(year, m, 1)
            after = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)
            return Period(text.strip(), first, after, f"{year}年{m}月")
    except ValueError:
        raise InvalidInput("period", f"期间“{text}”不存在；{allowed}") from None
    return Period(text.strip(), date(year, 1, 1), date(year + 1, 1, 1), f"{year}年")


@dataclass
class UnitFigures:
    unit: str
    assigned: int = 0
    accepted: int = 0
    accepted_on_time: int = 0
    returned: int = 0
    done: int = 0
    done_on_time: int = 0
    completed: int = 0
    reworks: int = 0
    overdue_open: int = 0
    went_overdue: int = 0
    warned: int = 0
    overdue: int = 0
    supervised: int = 0
    listed: int = 0
    rated: int = 0
    satisfied: int = 0
    extensions: int = 0
    days: list[int] = field(default_factory=list)
    """Working days each completed obligation took (平均用时)."""

    @property
    def avg_days(self) -> float | None:
        return round(sum(self.days) / len(self.days), 1) if self.days else None

    @property
    def counted(self) -> bool:
        """Whether there is anything to rate the unit by: an obligation discharged, a rating, or
        one overdue or under supervision (else it is shown as — and not ranked)."""
        return bool(self.done or self.accepted or self.returned or self.rated or self.late_now)

    @property
    def late_now(self) -> int:
        return self.overdue_open + self.supervised + self.listed

    def rate(self, part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def on_time_accept_rate(self) -> float | None:
        return self.rate(self.accepted_on_time, self.accepted)

    @property
    def on_time_rate(self) -> float | None:
        """按期办结率: of what the unit should have finished — what it discharged in the period and
        what is still open past its deadline at the period's end — the share done on time (an
        overdue obligation left undone counts against it: no 100 % beside a list of overdue ones)."""
        return self.rate(self.done_on_time, self.done + self.overdue_open)

    @property
    def satisfaction_rate(self) -> float | None:
        return self.rate(self.satisfied, self.rated)

    @property
    def return_rate(self) -> float | None:
        return self.rate(self.returned, self.accepted + self.returned)

    @property
    def rework_rate(self) -> float | None:
        return self.rate(min(self.reworks, self.completed), self.completed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["days"]
        data.update(
            avg_days=self.avg_days, on_time_accept_rate=self.on_time_accept_rate, on_time_rate=self.on_time_rate,
            satisfaction_rate=self.satisfaction_rate, return_rate=self.return_rate, rework_rate=self.rework_rate,
        )  # fmt: skip
        return data


def _in(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _conditions(start: datetime, end: datetime, as_of: datetime) -> dict[str, Any]:
    """Each figure's condition on one obligation (the module docstring in SQL): what
    ``unit_figures`` counts and ``obligations_counted`` lists."""
    o = OBLIGATIONS
    active = and_(o.c.opened_at < end, or_(o.c.closed_at.is_(None), o.c.closed_at >= start))
    late_by = and_(o.c.due_at.is_not(None), o.c.due_at >= start, o.c.due_at < as_of)
    opened_in = _in(o.c.opened_at, start, end)
    done_in = and_(o.c.closed_at.is_not(None), _in(o.c.closed_at, start, end), o.c.outcome == "done")
    accept, complete, on_time = o.c.measure == "accept", o.c.measure == "complete", o.c.on_time.is_(True)
    returned = o.c.closed_trigger == "return"
    open_at_end = and_(o.c.opened_at < as_of, or_(o.c.closed_at.is_(None), o.c.closed_at >= as_of))
    return {
        "assigned": and_(accept, opened_in),
        "accepted": and_(accept, done_in, ~returned),
        "accepted_on_time": and_(accept, done_in, ~returned, on_time),
        "returned": and_(accept, done_in, returned),
        "done": done_in,
        "done_on_time": and_(done_in, on_time),
        "late": and_(done_in, o.c.on_time.is_(False)),
        "completed": and_(complete, done_in),
        "reworks": and_(complete, opened_in, o.c.opened_trigger.in_(("send_back", "reopen"))),
        "overdue_open": and_(open_at_end, o.c.due_at.is_not(None), o.c.due_at <= as_of),
        "went_overdue": and_(late_by, or_(o.c.closed_at.is_(None), o.c.closed_at >= o.c.due_at)),
        **{level: and_(active, o.c.level == level) for level in LEVELS_COUNTED},
    }


COUNTED_IN_SQL = ("assigned", "accepted", "accepted_on_time", "returned", "done", "done_on_time", "completed",
                  "reworks", "overdue_open", "went_overdue", *LEVELS_COUNTED)  # fmt: skip
"""The figures ``unit_figures`` counts in its GROUP BY (``late`` is done − done_on_time)."""


def unit_figures(
    conn: Connection, period: Period, now: datetime, calendar: WorkingCalendar
) -> dict[str, UnitFigures]:
    """The figures of every unit that owed anything in the period (see the module docstring):
    one ``GROUP BY unit`` over the obligations active in the period, plus the working days of
    the ones completed in it."""
    start, end = period.start, period.end
    o = OBLIGATIONS
    conditions = _conditions(start, end, min(end, now))
    columns = {name: _count(conditions[name]) for name in COUNTED_IN_SQL}
    # Every figure counts obligations open at some time since ``start`` (those due in the period
    # and late were still open when due): read them by the index on closed_at, so the cost
    # follows the open obligations and the period, not the table.
    since_start = or_(o.c.closed_at.is_(None), o.c.closed_at >= start)
    stmt = select(o.c.unit, *(c.label(name) for name, c in columns.items())).where(since_start).group_by(o.c.unit)
    figures: dict[str, UnitFigures] = {}
    for row in conn.execute(stmt):
        figures[row.unit] = UnitFigures(row.unit, **{name: int(getattr(row, name) or 0) for name in columns})

    def of(unit: str) -> UnitFigures:
        return figures.setdefault(unit, UnitFigures(unit))

    completed = select(o.c.unit, o.c.opened_at, o.c.closed_at).where(conditions["completed"])
    for unit, opened_at, closed_at in conn.execute(completed):
        of(unit).days.append(max(0, calendar.working_days_between(_day(opened_at), _day(closed_at))))
    _case_figures(conn, start, end, of)
    return figures


def _day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _case_figures(conn: Connection, start: datetime, end: datetime, of: Any) -> None:
    """The enterprise's ratings and the extensions granted, for the case's lead unit: counted in
    SQL, grouped by unit, trigger and rating (the index on the events' trigger and time)."""
    unit = func.coalesce(CASES.c.lead_unit, CASES.c.town).label("unit")
    rating = EVENTS.c.payload[("fields", "satisfaction")].as_string().label("rating")
    stmt = (
        select(unit, EVENTS.c.trigger, rating, func.count().label("n"))
        .join(CASES, CASES.c.id == EVENTS.c.case_id)
        .where(and_(EVENTS.c.trigger.in_(("close", "reopen", "approve_extension")), _in(EVENTS.c.at, start, end)))
        .group_by(unit, EVENTS.c.trigger, rating)
    )
    for owner, trigger, satisfaction, n in conn.execute(stmt):
        if not owner:
            continue
        f = of(owner)
        if trigger == "approve_extension":
            f.extensions += n
        elif satisfaction:
            f.rated += n
            f.satisfied += n if satisfaction in SATISFIED else 0


def totals(figures: dict[str, UnitFigures]) -> UnitFigures:
    """The sum over all units (the city's line)."""
    total = UnitFigures("")
    for f in figures.values():
        for name, value in asdict(f).items():
            if name == "unit":
                continue
            if name == "days":
                total.days.extend(value)
            else:
                setattr(total, name, getattr(total, name) + value)
    return total


def obligations_counted(
    conn: Connection, period: Period, now: datetime, unit: str, figure: str, limit: int = 500
) -> list[Any]:
    """The obligations behind one figure of one unit (each figure links to what it counts)."""
    o = OBLIGATIONS
    conditions = _conditions(period.start, period.end, min(period.end, now))
    if figure not in conditions:
        raise InvalidInput("figure", f"未知指标“{figure}”；可选：{'、'.join(conditions)}")
    stmt = (
        select(o, CASES.c.number, CASES.c.type, CASES.c.title, CASES.c.state)
        .join(CASES, CASES.c.id == o.c.case_id)
        .where(and_(o.c.unit == unit, conditions[figure]))
        .order_by(o.c.due_at, o.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt))


FIGURES = ("assigned", "accepted", "returned", "done", "late", "completed", "reworks", "overdue_open",
           "went_overdue", *LEVELS_COUNTED)  # fmt: skip
"""The figures ``obligations_counted`` lists the obligations of."""


def by_unit(figures: dict[str, UnitFigures]) -> dict[str, dict[str, Any]]:
    return {unit: f.to_dict() for unit, f in sorted(figures.items())}

