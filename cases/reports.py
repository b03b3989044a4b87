"""Queries behind the daily digest and the weekly bulletin (通报), as plain data.

``waiting_by_unit`` groups the open cases by the unit they wait on (the responsible unit of the
running clock, and the executor units of open checklist items). ``bulletin`` computes the
per-unit columns of DOMAIN.md §6 for one ISO week from the events, ranked, with the list of
overdue cases. Rendering and sending them is ``notifications``'s job.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from cases.definitions import Definitions
from cases.models import Case, CaseEvent, CaseItem
from cases.views import is_open, local
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput
from workflow.ladder import LEVEL_COLOURS, LEVEL_LABELS, OVERDUE_TRIGGERS
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


COUNTED = frozenset(
    {"assign", "reassign", "accept", "return", "answer", "pass_acceptance", "approve_extension", "close", "reopen",
     "send_back", "warn", "mark_overdue", "supervise", "list"}
)  # fmt: skip
"""Triggers that count in the bulletin: a unit appears in it only through one of them."""


def bulletin(
    conn: Connection, definitions: Definitions, calendar: WorkingCalendar, week: str, now: datetime
) -> dict[str, Any]:
    """The weekly 通报: per-unit figures for the ISO week, ranked, and the overdue cases now."""
    start_day, end_day = parse_week(week)
    start = datetime.combine(start_day, time(0), SHANGHAI)
    end = datetime.combine(end_day, time(0), SHANGHAI)
    stats: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    touched = [
        r.case_id
        for r in conn.execute(select(EVENTS.c.case_id).where(and_(EVENTS.c.at >= start, EVENTS.c.at < end)).distinct())
    ]
    cases = {r.id: r for r in conn.execute(select(CASES).where(CASES.c.id.in_(touched)))} if touched else {}
    durations: dict[str, list[int]] = defaultdict(list)
    for case_id in touched:
        _count_case(conn, cases[case_id], start, end, calendar, stats, durations, definitions)
    overdue_rows = _overdue_now(conn, definitions, now)
    for row in overdue_rows:
        unit = unit_of(row, definitions)
        if unit:
            stats[unit]["current_overdue"] += 1
    ever = conn.execute(select(EVENTS.c.case_id).where(EVENTS.c.trigger.in_(OVERDUE_TRIGGERS)).distinct())
    ever_ids = [r.case_id for r in ever]
    if ever_ids:
        for row in conn.execute(select(CASES.c.lead_unit, CASES.c.town, CASES.c.type).where(CASES.c.id.in_(ever_ids))):
            unit = unit_of(row, definitions)
            if unit:
                stats[unit]["total_overdue"] += 1
    rows = [_row(unit, s, durations.get(unit, []), definitions) for unit, s in stats.items()]
    rows.sort(
        key=lambda r: (
            -(r["_on_time"] if r["_on_time"] is not None else 1.0),
            r["current_overdue"],
            -(r["_satisfied"] or 0),
            r["unit_name"],
        )
    )
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
        del r["_on_time"], r["_satisfied"]
    return {
        "week": week,
        "period": f"{start_day.isoformat()} 至 {(end_day - timedelta(days=1)).isoformat()}",
        "rows": rows,
        "overdue_cases": [case_brief(r, definitions, conn) for r in overdue_rows],
    }


def _overdue_now(conn: Connection, definitions: Definitions, now: datetime) -> list[Any]:
    """Open cases past their deadline now (on a supervision-ladder clock), earliest first."""
    rows = conn.execute(select(CASES).where(and_(CASES.c.due_at.is_not(None), CASES.c.due_at <= now)).order_by(CASES.c.due_at))
    result = []
    for row in rows:
        clock = definitions.pinned(conn, row.definition_version).spec.states[row.state].clock
        if clock is not None and clock.on_expiry == "ladder":
            result.append(row)
    return result


def _count_case(conn: Connection, case: Any, start: datetime, end: datetime, calendar: WorkingCalendar,
                stats: dict[str, dict[str, Any]], durations: dict[str, list[int]], definitions: Definitions) -> None:  # fmt: skip
    """Walk one case's history, counting what happened within [start, end) for its unit then."""
    due_at: datetime | None = None
    assigned_at: datetime | None = None
    unit = None
    for e in conn.execute(select(EVENTS).where(EVENTS.c.case_id == case.id).order_by(EVENTS.c.seq)):
        fields = (e.payload or {}).get("fields") or {}
        if e.trigger in ("assign", "reassign") and fields.get("lead_unit"):
            unit, assigned_at = fields["lead_unit"], e.at
        counted_unit = unit or unassigned_unit(case, definitions)
        inside = start <= e.at < end and counted_unit is not None and e.trigger in COUNTED
        s = stats[counted_unit] if inside else None
        if s is not None:
            if e.trigger in ("assign", "reassign"):
                s["assigned"] += 1
            elif e.trigger == "accept":
                s["accepted"] += 1
                s["accepted_on_time"] += int(due_at is None or e.at <= due_at)
            elif e.trigger == "return":
                s["returned"] += 1
            elif e.trigger in ("answer", "pass_acceptance"):
                s["completed"] += 1
                s["completed_on_time"] += int(due_at is None or e.at <= due_at)
                if assigned_at is not None:
                    a, b = assigned_at.astimezone(SHANGHAI).date(), e.at.astimezone(SHANGHAI).date()
                    durations[counted_unit].append(calendar.working_days_between(a, b))  # type: ignore[index]
            elif e.trigger == "approve_extension":
                s["extensions"] += 1
            elif e.trigger in ("close", "reopen"):
                s["rated"] += 1
                s["satisfied"] += int(fields.get("satisfaction") in SATISFIED)
                s["reworks"] += int(e.trigger == "reopen")
            elif e.trigger == "send_back":
                s["reworks"] += 1
            elif e.trigger in ("warn", "mark_overdue", "supervise", "list"):
                level = (e.payload or {}).get("level")
                if level:
                    s[level] += 1
        deadline = (e.payload or {}).get("deadline")
        if deadline and deadline.get("due_at"):
            due_at = datetime.fromisoformat(deadline["due_at"])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _row(unit: str, s: dict[str, Any], durations: list[int], definitions: Definitions) -> dict[str, Any]:
    on_time = _rate(s["completed_on_time"], s["completed"])
    satisfied = _rate(s["satisfied"], s["rated"])
    return {
        "unit": unit,
        "unit_name": definitions.org.name(unit),
        "assigned": s["assigned"],
        "on_time_accept_rate": _percent(_rate(s["accepted_on_time"], s["accepted"])),
        "returned": s["returned"],
        "completed": s["completed"],
        "on_time_rate": _percent(on_time),
        "current_overdue": s["current_overdue"],
        "total_overdue": s["total_overdue"],
        "avg_days": round(sum(durations) / len(durations), 1) if durations else "—",
        "extensions": s["extensions"],
        "satisfaction_rate": _percent(satisfied),
        "reworks": s["reworks"],
        "warned": s["warned"],
        "overdue": s["overdue"],
        "supervised": s["supervised"],
        "listed": s["listed"],
        "_on_time": on_time,
        "_satisfied": satisfied,
    }


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
