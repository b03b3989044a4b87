"""Queries behind the daily digest and the weekly bulletin (通报), as plain data.

``waiting_by_unit`` groups the open cases by the unit they wait on (the responsible unit of the
running clock, and the executor units of open checklist items). ``bulletin`` gives the per-unit
columns of DOMAIN.md §6 for one ISO week from ``cases.figures`` (obligations), ranked by the
assessment, with the overdue obligations, and the other sections of the 通报 from
``cases.bulletin_sections`` and ``cases.bulletin_store`` (下一步工作要求). ``unit_part`` picks one
unit's own lines out of it (本单位情况). Rendering and sending them is ``notifications``'s job.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from cases import bulletin_parts, bulletin_store
from cases import bulletin_sections as sections
from cases.assessment import Weights, assess
from cases.definitions import Definitions
from cases.figures import Period, parse_period, totals, unit_figures
from cases.models import Case, CaseEvent, CaseItem
from cases.obligations import OBLIGATIONS
from cases.views import local
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS

CASES, EVENTS, ITEMS = Case.__table__, CaseEvent.__table__, CaseItem.__table__
OVERDUE_LEVELS = ("overdue", "supervised", "listed")
SATISFIED = ("非常满意", "满意", "基本满意")
BATCH = 1000
_WEEK = re.compile(r"^\d{4}-W\d{2}$")


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


def case_brief(row: Any, definitions: Definitions, conn: Connection) -> dict[str, Any]:
    rulebook = definitions.pinned(conn, row.definition_version)
    level = row.supervision
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
    """Each unit's 待办 for the daily digest: its open obligations it can act on now (the same
    list as ``caseflow todo``), 临期 (due today or the next working day) and 逾期, most urgent
    first; each entry is the case's brief with the obligation's label, deadline and level."""
    today = now.astimezone(SHANGHAI).date()
    soon = calendar.next_working_day(today)
    o = OBLIGATIONS
    stmt = (
        select(o.c.unit, o.c.label, o.c.due_date, o.c.due_at, o.c.level, CASES)
        .join(CASES, CASES.c.id == o.c.case_id)
        .where(and_(o.c.closed_at.is_(None), o.c.ready.is_(True)))
        .order_by(o.c.due_at.is_(None), o.c.due_at, o.c.id)
    )
    result: dict[str, UnitWaiting] = defaultdict(UnitWaiting)
    for row in conn.execute(stmt):
        brief = case_brief(row, definitions, conn)
        level = row.level
        brief.update(
            obligation_label=row.label, due_date=row.due_date.isoformat() if row.due_date else "",
            due_at=(local(row.due_at) or "")[:16].replace("T", " "), supervision=level,
            supervision_label=LEVEL_LABELS.get(level, level), supervision_colour=LEVEL_COLOURS.get(level, ""),
        )  # fmt: skip
        bucket = result[row.unit]
        bucket.todo.append(brief)
        if row.due_at is not None and row.due_at <= now:
            bucket.overdue.append(brief)
        elif row.due_date is not None and row.due_date <= soon:
            bucket.due_soon.append(brief)
    return dict(result)


def bulletin(
    conn: Connection, definitions: Definitions, calendar: WorkingCalendar, week: str, now: datetime,
    weights: Weights, requirements: str = bulletin_store.FALLBACK,
) -> dict[str, Any]:  # fmt: skip
    """The weekly 通报 in its sections (一 … 七): the overall figures of the week and the year to
    date; per-unit figures of the ISO week (``cases.figures``: the same numbers as the dashboard,
    the assessment and the API), ranked by the week's assessment score, with the year to date;
    散乱污 by town; the utilities' and co-units' timeliness (``cases.bulletin_sections``); the
    obligations overdue now, each naming the unit that owes it; the 红黑榜; and the 下一步工作要求
    (the office's text of the week, else ``requirements``, the configured default)."""
    period = parse_week_period(week)
    year = parse_period(str(period.first.isocalendar()[0]))
    year_to_date = Period(year.text, year.first, period.after, year.label)
    figures = unit_figures(conn, period, now, calendar)
    to_date = unit_figures(conn, year_to_date, now, calendar)
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
    week_total, year_total = totals(figures), totals(to_date)
    org = definitions.org
    specs = [definitions.current(t).spec for t in definitions.types]
    return {
        "week": week,
        "period": f"{period.first.isoformat()} 至 {(period.after - timedelta(days=1)).isoformat()}",
        "year": year.first.year,
        "rows": rows,
        "total": week_total.to_dict(),
        "year_total": year_total.to_dict(),
        "overall": sections.overall(conn, week_total, year_total, period, year_to_date, bulletin_parts.parts_of(specs)),
        "towns": sections.towns(conn, org, period, year_to_date, now, bulletin_parts.parts_of(specs)),
        "timeliness": sections.timeliness(conn, org, period, year_to_date, now, calendar, specs),
        "red": [names[u] for u in scored["red"]],
        "black": [names[u] for u in scored["black"]],
        "overdue_cases": overdue_obligations(conn, definitions, now),
        "requirements": bulletin_store.current(conn, week, requirements),
    }


def parse_week_period(week: str) -> Period:
    """The ISO week ``2026-W49`` as a ``Period``; ``InvalidInput`` (in Chinese) for anything else."""
    if not _WEEK.match((week or "").strip().upper()):
        raise InvalidInput("week", f"周次“{week}”格式不对，应为 YYYY-Www，如 2026-W40")
    try:
        return parse_period(week.strip().upper())
    except InvalidInput:
        raise InvalidInput("week", f"周次“{week}”不存在，应为 YYYY-Www，如 2026-W40") from None


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


def unit_part(data: dict[str, Any], unit: str) -> dict[str, Any] | None:
    """本单位情况: ``unit``'s own lines of the bulletin ``data`` — its row of the per-unit table
    (figures and rank), its overdue obligations, its 散乱污 line (a town) and its timeliness lines
    (a utility, a co-unit) — or None when the bulletin has nothing of it."""
    row = next((r for r in data["rows"] if r["unit"] == unit), None)
    overdue = [c for c in data["overdue_cases"] if c.get("unit") == unit]
    town = next((t for t in data.get("towns", []) if t["unit"] == unit), None)
    timeliness = data.get("timeliness") or {}
    lines = [t for t in (*timeliness.get("utilities", []), *timeliness.get("co_units", [])) if t["unit"] == unit]
    if row is None and not overdue and town is None and not lines:
        return None
    name = row["unit_name"] if row else town["unit_name"] if town else lines[0]["unit_name"] if lines else overdue[0]["unit_name"]
    return {"unit": unit, "unit_name": name, "row": row, "overdue": overdue, "town": town, "timeliness": lines,
            "ranked": len([r for r in data["rows"] if r["rank_label"] != "—"])}  # fmt: skip
