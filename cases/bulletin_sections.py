"""The sections of the weekly 通报 beyond the per-unit table (issue 11), as plain data: queries
over the obligations (责任清单), the cases and their events, grouped in SQL.

- ``overall`` 一、总体情况: the city's figures of the week and of the year to date — the sums of
  ``cases.figures`` over every unit (交办 签收 办结 按期办结率 当前超期 督办 挂牌), with the
  enterprise problems registered and the 散乱污 sites found;
- ``towns`` 三、散乱污整治情况（分镇街）: per town, street and park (the site's ``town``): sites
  found in the week and in the year; the year's 取缔 (classify_ban, convert_to_ban) and 整顿
  (classify_rectify) decisions; 两断三清: its item obligations owed in the year (opened before
  the bulletin's end, not closed before the year, not withdrawn) and those done; the year's
  acceptances passed and failed, 回头看 done (confirm_revisit) and relapses (report_relapse);
  the sites open now (not 销号) and those with an obligation overdue now;
- ``timeliness`` 四、供水供电供气及协办单位办理时效: per utility, its 断水/断电/断气 item
  obligations, and per co-unit its 协办反馈 obligations: owed in the year (as above), done in
  the week and in the year, done on time, the year's 按时办结率, overdue now, and the average
  working days from opening to discharge.

"Now" is the end of the bulletin's week, or the present if earlier. Which types, triggers, items
and obligations each section counts is the definitions' ``bulletin:`` sections
(``cases.bulletin_parts``); nothing here names a type.
"""

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, distinct, func, or_, select

from cases.bulletin_parts import TOWN_COLUMNS, BulletinPart, part_of
from cases.figures import Period, UnitFigures
from cases.models import Case, CaseEvent
from cases.obligations import OBLIGATIONS
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.org import Organisation
from workflow.spec import WorkflowSpec

CASES, EVENTS = Case.__table__, CaseEvent.__table__
TOWN_KINDS = ("town", "street", "park")


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _int(value: Any) -> int:
    return int(value or 0)


def _percent(part: int, whole: int) -> str:
    return "—" if not whole else f"{part / whole * 100:.1f}%"


def overall(
    conn: Connection, week: UnitFigures, year: UnitFigures, period: Period, year_period: Period,
    parts: list[BulletinPart],
) -> list[dict[str, Any]]:
    """一、总体情况: one line per figure, with the week's and the year to date's value."""
    found = {}
    for name, p in (("week", period), ("year", year_period)):
        stmt = (
            select(CASES.c.type, func.count())
            .where(and_(CASES.c.created_at >= p.start, CASES.c.created_at < period.end))
            .group_by(CASES.c.type)
        )
        found[name] = {t: int(n) for t, n in conn.execute(stmt)}

    def line(key: str, label: str, w: Any, y: Any) -> dict[str, Any]:
        return {"key": key, "label": label, "week": w, "year": y}

    def rate(f: UnitFigures) -> str:  # the figures' own definition (as the per-unit table and the dashboard)
        return "—" if f.on_time_rate is None else f"{f.on_time_rate * 100:.1f}%"

    registered = [(p.type, *p.registered) for p in parts if p.registered is not None]
    return [
        *(line(key, label, found["week"].get(t, 0), found["year"].get(t, 0)) for t, key, label in registered),
        line("assigned", "交办（件）", week.assigned, year.assigned),
        line("accepted", "签收（件）", week.accepted, year.accepted),
        line("completed", "办结（件）", week.completed, year.completed),
        line("on_time_rate", "按期办结率", rate(week), rate(year)),
        line("overdue_open", "当前超期（项）", week.overdue_open, year.overdue_open),
        line("supervised", "督办（项）", week.supervised, year.supervised),
        line("listed", "挂牌督办（项）", week.listed, year.listed),
    ]  # fmt: skip


def _owed_in(start: datetime, as_of: datetime) -> Any:
    """Obligations owed in ``[start, as_of)``: opened before its end, not closed before it began,
    not withdrawn."""
    o = OBLIGATIONS
    return and_(
        o.c.opened_at < as_of,
        or_(o.c.closed_at.is_(None), and_(o.c.closed_at >= start, o.c.outcome != "withdrawn")),
    )


def _done_in(start: datetime, end: datetime) -> Any:
    o = OBLIGATIONS
    return and_(o.c.closed_at >= start, o.c.closed_at < end, o.c.outcome == "done")


def towns(
    conn: Connection, org: Organisation, period: Period, year: Period, now: datetime, parts: list[BulletinPart]
) -> list[dict[str, Any]]:
    """三、散乱污整治情况（分镇街）: one line per town, street and park, then 合计."""
    as_of = min(period.end, now)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    c, o, e = CASES, OBLIGATIONS, EVENTS
    places = [p for p in parts if p.town_columns]
    sites = c.c.type.in_([p.type for p in places])
    town_triggers = {k: tuple(t for p in places for t in p.town_columns.get(k, ())) for k in TOWN_COLUMNS}
    clearing = tuple(k for p in places for k in p.clearing)
    stmt = (
        select(
            c.c.town,
            _count(c.c.created_at >= period.start).label("found_week"),
            func.count().label("found_year"),
        )
        .where(and_(sites, c.c.created_at >= year.start, c.c.created_at < as_of))
        .group_by(c.c.town)
    )
    for r in conn.execute(stmt):
        rows[r.town].update(found_week=_int(r.found_week), found_year=_int(r.found_year))
    by_trigger = {t: name for name, triggers in town_triggers.items() for t in triggers}
    stmt = (
        select(c.c.town, e.c.trigger, func.count().label("n"))
        .join(c, c.c.id == e.c.case_id)
        .where(and_(sites, e.c.trigger.in_(tuple(by_trigger)), e.c.at >= year.start, e.c.at < as_of))
        .group_by(c.c.town, e.c.trigger)
    )
    for r in conn.execute(stmt):
        rows[r.town][by_trigger[r.trigger]] += _int(r.n)
    stmt = (
        select(
            c.c.town,
            func.count().label("owed"),
            _count(and_(o.c.outcome == "done", o.c.closed_at < as_of)).label("done"),
        )
        .join(c, c.c.id == o.c.case_id)
        .where(and_(sites, o.c.key.in_(clearing), _owed_in(year.start, as_of)))
        .group_by(c.c.town)
    )
    for r in conn.execute(stmt):
        rows[r.town].update(clearing_owed=_int(r.owed), clearing_done=_int(r.done))
    stmt = select(c.c.town, func.count().label("n")).where(and_(sites, c.c.closed_at.is_(None))).group_by(c.c.town)
    for r in conn.execute(stmt):
        rows[r.town]["open"] = _int(r.n)
    late = and_(o.c.closed_at.is_(None), o.c.due_at.is_not(None), o.c.due_at <= as_of)
    stmt = (
        select(c.c.town, func.count(distinct(c.c.id)).label("n"))
        .join(o, o.c.case_id == c.c.id)
        .where(and_(sites, late))
        .group_by(c.c.town)
    )
    for r in conn.execute(stmt):
        rows[r.town]["overdue"] = _int(r.n)
    keys = ("found_week", "found_year", *TOWN_COLUMNS, "clearing_owed", "clearing_done", "open", "overdue")
    result = []
    for unit in org.codes(TOWN_KINDS):
        figures = {k: rows.get(unit, {}).get(k, 0) for k in keys}
        result.append({"unit": unit, "unit_name": org.name(unit), **figures,
                       "clearing": f"{figures['clearing_done']}/{figures['clearing_owed']}"})  # fmt: skip
    total = {k: sum(r[k] for r in result) for k in keys}
    result.append({"unit": "", "unit_name": "合计", **total, "clearing": f"{total['clearing_done']}/{total['clearing_owed']}"})
    return result


def _timeliness_of(
    conn: Connection, keys: tuple[str, ...], period: Period, year: Period, now: datetime, calendar: WorkingCalendar
) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit, key) → owed, done, done in the week, on time, overdue now, average working days."""
    o = OBLIGATIONS
    as_of = min(period.end, now)
    done_year = _done_in(year.start, as_of)
    stmt = (
        select(
            o.c.unit, o.c.key, func.min(o.c.label).label("label"),
            func.count().label("owed"),
            _count(done_year).label("done"),
            _count(_done_in(period.start, as_of)).label("done_week"),
            _count(and_(done_year, o.c.on_time.is_(True))).label("on_time"),
            _count(and_(o.c.closed_at.is_(None), o.c.due_at.is_not(None), o.c.due_at <= as_of)).label("overdue_now"),
        )
        .where(and_(o.c.key.in_(keys), _owed_in(year.start, as_of)))
        .group_by(o.c.unit, o.c.key)
    )  # fmt: skip
    result = {
        (r.unit, r.key): {"label": r.label, **{k: _int(getattr(r, k)) for k in ("owed", "done", "done_week", "on_time", "overdue_now")}}
        for r in conn.execute(stmt)
    }  # fmt: skip
    spans: dict[tuple[str, str], list[int]] = defaultdict(list)
    memo: dict[tuple[date, date], int] = {}
    stmt = select(o.c.unit, o.c.key, o.c.opened_at, o.c.closed_at).where(and_(o.c.key.in_(keys), done_year))
    for unit, key, opened_at, closed_at in conn.execute(stmt):
        pair = (opened_at.astimezone(SHANGHAI).date(), closed_at.astimezone(SHANGHAI).date())
        if pair not in memo:
            memo[pair] = max(0, calendar.working_days_between(*pair))
        spans[(unit, key)].append(memo[pair])
    for k, days in spans.items():
        if k in result:
            result[k]["days"] = days
    return result


def _line(unit: str, name: str, label: str, f: dict[str, Any] | None) -> dict[str, Any]:
    f = f or {}
    days = f.get("days") or []
    owed, done, on_time = f.get("owed", 0), f.get("done", 0), f.get("on_time", 0)
    return {
        "unit": unit, "unit_name": name, "item": label, "owed": owed, "done": done, "done_week": f.get("done_week", 0),
        "on_time": on_time, "on_time_rate": _percent(on_time, done), "overdue_now": f.get("overdue_now", 0),
        "avg_days": round(sum(days) / len(days), 1) if days else "—",
    }  # fmt: skip


def timeliness(
    conn: Connection, org: Organisation, period: Period, year: Period, now: datetime, calendar: WorkingCalendar,
    specs: list[WorkflowSpec],
) -> dict[str, list[dict[str, Any]]]:
    """四、供水供电供气及协办单位办理时效: ``utilities`` (one line per utility and item, every
    utility listed) and ``co_units`` (one line per unit that owed co-unit feedback in the year)."""
    parts = {s.type: part_of(s) for s in specs}
    utility_items = {unit: keys for p in parts.values() for unit, keys in p.utilities.items()}
    items = tuple(k for keys in utility_items.values() for k in keys)
    found = _timeliness_of(conn, items, period, year, now, calendar)
    labels = {k: found_item[1].label for s in specs for k in items if (found_item := s.item(k)) is not None}
    utilities = [
        _line(unit, org.name(unit), found.get((unit, key), {}).get("label") or labels.get(key, key), found.get((unit, key)))
        for unit, keys in utility_items.items() if org.find(unit) is not None
        for key in keys
    ]  # fmt: skip
    co = _timeliness_of(conn, tuple(k for p in parts.values() for k in p.co_feedback), period, year, now, calendar)
    co_units = [_line(unit, org.name(unit), f["label"], f) for (unit, _), f in co.items()]
    co_units.sort(key=lambda r: (-r["overdue_now"], r["unit_name"]))
    return {"utilities": utilities, "co_units": co_units}
