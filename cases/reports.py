"""Queries behind the daily digest and the weekly bulletin (通报), as plain data.

``waiting_by_unit`` groups the open cases by the unit they wait on (the responsible unit of the
running clock, and the executor units of open checklist items). ``bulletin`` gives the per-unit
columns of DOMAIN.md §6 for one ISO week from ``cases.figures`` (obligations), ranked by the
assessment, with the overdue obligations. Rendering and sending them is ``notifications``'s job.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from cases.assessment import Weights, assess
from cases.definitions import Definitions
from cases.figures import Period, parse_period, totals, unit_figures
from cases.models import Case, CaseEvent, CaseItem
from cases.obligations import OBLIGATIONS
from cases.views import is_open, local
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS
from workflow.rules import RELATIONS

CASES, EVENTS, ITEMS = Case.__table__, CaseEvent.__table__, CaseItem.__table__
OVERDUE_LEVELS = ("overdue", "supervised", "listed")
SATISFIED = ("非常满意", "满意", "基本满意")
BATCH = 1000


def parse_week(text: str) -> tuple[date, date]:
    """``2026-W40`` → (Monday, next Monday)."""
    try:
        year, week = text.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise InvalidInput("week", f"周次“{text}”格式不对，应为 YYYY-Www，如 2026-W40") from None
    return monday, monday + timedelta(days=7)


def previous_week(now: datetime) -> str:
    year, week, _ = (now.astimezone(SHANGHAI).date() - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def _open_cases(conn: Connection) -> Iterator[Any]:
    last = 0
    while True:
        rows = list(
            conn.execute(
                select(CASES)
                .where(and_(CASES.c.id > last, CASES.c.due_at.is_not(None)))
                .order_by(CASES.c.id)
                .limit(BATCH)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def case_brief(row: Any, definitions: Definitions, conn: Connection) -> dict[str, Any]:
    rulebook = definitions.pinned(conn, row.definition_version)
    level = row.ladder_level
    return {
        "number": row.number,
        "title": row.title,
        "type_label": rulebook.spec.name,
        "state_label": rulebook.spec.states[row.state].label,
        "lead_unit_name": definitions.org.name(row.lead_unit) if row.lead_unit else "",
        "town_name": definitions.org.name(row.town) if row.town else "",
        "due_date": row.due_date.isoformat() if row.due_date else "",
        "due_at": (local(row.due_at) or "")[:16].replace("T", " "),
        "supervision": level,
        "supervision_label": LEVEL_LABELS.get(level, level),
        "supervision_colour": LEVEL_COLOURS.get(level, ""),
    }


@dataclass
class UnitWaiting:
    todo: list[dict[str, Any]] = field(default_factory=list)
    due_soon: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)


def waiting_by_unit(
    conn: Connection, definitions: Definitions, calendar: WorkingCalendar, now: datetime
) -> dict[str, UnitWaiting]:
    """Open cases per unit they wait on: 待办, 临期 (due today or the next working day), 逾期."""
    today = now.astimezone(SHANGHAI).date()
    soon = calendar.next_working_day(today)
    result: dict[str, UnitWaiting] = defaultdict(UnitWaiting)
    open_items: dict[int, set[str]] = defaultdict(set)
    for item in conn.execute(select(ITEMS.c.case_id, ITEMS.c.executor).where(ITEMS.c.done.is_(False))):
        if item.executor:
            open_items[item.case_id].add(item.executor)
    for row in _open_cases(conn):
        rulebook = definitions.pinned(conn, row.definition_version)
        if not is_open(row.state, rulebook) and row.state != "closed":
            continue
        clock = rulebook.spec.states[row.state].clock
        if clock is None or clock.on_expiry != "ladder":
            continue  # e.g. a closed site waiting for its revisit: nobody's to-do yet
        draft_units = _responsible(row, rulebook, definitions.org.office)
        units = draft_units | open_items.get(row.id, set())
        brief = case_brief(row, definitions, conn)
        overdue = row.due_at <= now
        due_soon = not overdue and row.due_date is not None and row.due_date <= soon
        for unit in units:
            bucket = result[unit]
            bucket.todo.append(brief)
            if overdue:
                bucket.overdue.append(brief)
            elif due_soon:
                bucket.due_soon.append(brief)
    return dict(result)


def _responsible(row: Any, rulebook: Any, office: str) -> set[str]:
    from cases.repository import to_draft

    clock = rulebook.spec.states[row.state].clock
    relation = clock.responsible if clock is not None else "office"
    if relation == "office":
        return {office}
    return set(RELATIONS[relation](to_draft(row), rulebook.spec))


def unit_of(row: Any, definitions: Definitions) -> str | None:
    """The unit a case is counted for in the bulletin: its lead unit; before assignment the
    office (for workflows with a lead unit), or else the site's town."""
    if row.lead_unit:
        return str(row.lead_unit)
    return unassigned_unit(row, definitions)


def unassigned_unit(row: Any, definitions: Definitions) -> str | None:
    """Who a case is counted for while it has no lead unit."""
    spec = definitions.specs.get(row.type)
    if spec is not None and "lead_unit" in spec.fields:
        return definitions.org.office
    return str(row.town) if row.town else None


def bulletin(
    conn: Connection, definitions: Definitions, calendar: WorkingCalendar, week: str, now: datetime,
    weights: Weights,
) -> dict[str, Any]:  # fmt: skip
    """The weekly 通报: per-unit figures of the ISO week (``cases.figures``: the same numbers as
    the dashboard, the assessment and the API), ranked by the week's assessment score, with the
    year to date, the 红黑榜 and the obligations overdue now, each naming the unit that owes it."""
    parse_week(week)
    period = parse_period(week)
    year = parse_period(str(period.first.isocalendar()[0]))
    figures = unit_figures(conn, period, now, calendar)
    to_date = unit_figures(conn, Period(year.text, year.first, period.after, year.label), now, calendar)
    scored = assess(figures, weights, definitions.org, period, now)
    rows = []
    for row in scored["rows"]:
        f = figures[row["unit"]]
        rows.append({
            "unit": row["unit"], "unit_name": row["unit_name"], "score": row["score"] if row["score"] is not None else "—",
            "assigned": f.assigned, "on_time_accept_rate": _percent(f.on_time_accept_rate), "returned": f.returned,
            "completed": f.completed, "on_time_rate": _percent(f.on_time_rate), "current_overdue": f.overdue_open,
            "total_overdue": to_date[row["unit"]].went_overdue if row["unit"] in to_date else f.went_overdue,
            "avg_days": f.avg_days if f.avg_days is not None else "—", "extensions": f.extensions,
            "satisfaction_rate": _percent(f.satisfaction_rate), "reworks": f.reworks,
            "warned": f.warned, "overdue": f.overdue, "supervised": f.supervised, "listed": f.listed,
            "rank_label": str(row["rank"]) if row["rank"] is not None else "—",
        })  # fmt: skip
    for index, row in enumerate(rows, start=1):
        row["rank"] = index  # the order: ranked units first (ties share their label), then the unranked
    names = {r["unit"]: r["unit_name"] for r in rows}
    return {
        "week": week,
        "period": f"{period.first.isoformat()} 至 {(period.after - timedelta(days=1)).isoformat()}",
        "rows": rows,
        "total": totals(figures).to_dict(),
        "year_total": totals(to_date).to_dict(),
        "red": [names[u] for u in scored["red"]],
        "black": [names[u] for u in scored["black"]],
        "overdue_cases": overdue_obligations(conn, definitions, now),
    }


def overdue_obligations(conn: Connection, definitions: Definitions, now: datetime) -> list[dict[str, Any]]:
    """The obligations open and past their deadline now, earliest first, each with its case and
    the unit that owes it (the bulletin's list of 超期事项)."""
    o = OBLIGATIONS
    stmt = (
        select(o.c.key, o.c.label, o.c.unit, o.c.due_date, o.c.due_at, o.c.level, CASES)
        .join(CASES, CASES.c.id == o.c.case_id)
        .where(and_(o.c.closed_at.is_(None), o.c.due_at.is_not(None), o.c.due_at <= now))
        .order_by(o.c.due_at, o.c.id)
    )
    result = []
    for row in conn.execute(stmt):
        brief = case_brief(row, definitions, conn)
        level = row.level
        brief.update(
            obligation=row.key, obligation_label=row.label, unit=row.unit, unit_name=definitions.org.name(row.unit),
            due_date=row.due_date.isoformat() if row.due_date else "", supervision=level,
            supervision_label=LEVEL_LABELS.get(level, level), supervision_colour=LEVEL_COLOURS.get(level, ""),
        )  # fmt: skip
        result.append(brief)
    return result


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
