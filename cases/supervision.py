"""Deadlines and the supervision ladder on stored cases: which columns a decision's clock sets,
the ladder schedule of a case, manual raises, and what the sweep does to one due case.

Pure rules come from ``workflow.deadlines`` and ``workflow.ladder``; the transaction, the lock and
the event are the callers' (``cases.service``, ``cases.sweep``).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow import ladder
from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.deadlines import CLEAR, START, ClockBasis, compute, fill_deadline_field, plan_clock
from workflow.ladder import Moment
from workflow.spec import WorkflowSpec

EXPIRY = "expiry"
OVERDUE_UNRECORDED = "overdue_unrecorded"
"""``flags`` key: the ``deadline_seq`` whose overdue moment a raise by hand jumped over; the sweep
records it (``record_overdue``) when ``due_at`` passes, then drops the key."""
log = logging.getLogger("caseflow.deadlines")


@dataclass(frozen=True)
class ClockUpdate:
    columns: dict[str, Any]
    """Case columns to write (empty when the clock is kept)."""
    note: dict[str, Any] | None
    """What to record in the event's payload (``deadline``), or None."""


def schedule(
    spec: WorkflowSpec, basis: ClockBasis, due_date: date, due_at: datetime, calendar: WorkingCalendar
) -> list[Moment]:
    """The moments of a deadline: the ladder's levels, or the one expiry of a scheduled trigger."""
    if basis.on_expiry != "ladder":
        return [Moment(EXPIRY, due_at)]
    return ladder.moments(spec.ladder, due_date, due_at, calendar)


def next_check(level: str, moments: list[Moment], overdue_unrecorded: bool = False) -> datetime | None:
    if moments and moments[0].level == EXPIRY:
        return moments[0].at
    return ladder.next_check(level, moments, overdue_unrecorded)


def overdue_unrecorded(flags: dict[str, Any] | None, seq: int) -> bool:
    """Whether deadline ``seq`` still owes its overdue record (see ``OVERDUE_UNRECORDED``)."""
    return (flags or {}).get(OVERDUE_UNRECORDED) == seq


def deadline_columns(
    spec: WorkflowSpec,
    draft: CaseDraft,
    basis: ClockBasis,
    deadline: Deadline,
    seq: int,
    calendar: WorkingCalendar,
    level: str = "normal",
) -> dict[str, Any]:
    draft.flags["clock"] = basis.to_dict()
    draft.flags["due_date"] = deadline.due_date.isoformat()
    fill_deadline_field(spec, draft, basis, deadline)
    if deadline.provisional:
        _warn_provisional(draft, basis, deadline, calendar)
    unrecorded = overdue_unrecorded(draft.flags, seq)
    if not unrecorded:  # a new deadline: the old one's pending record is gone with it
        draft.flags.pop(OVERDUE_UNRECORDED, None)
    moments = schedule(spec, basis, deadline.due_date, deadline.due_at, calendar)
    return {
        "due_at": deadline.due_at,
        "due_date": deadline.due_date,
        "due_provisional": deadline.provisional,
        "deadline_seq": seq,
        "ladder_level": level,
        "next_check_at": next_check(level, moments, unrecorded),
    }


def _warn_provisional(draft: CaseDraft, basis: ClockBasis, deadline: Deadline, calendar: WorkingCalendar) -> None:
    """DOMAIN.md §2: a deadline counted on the weekends-only fallback is provisional, and warned of."""
    first = basis
    while first.extends is not None:
        first = first.extends
    start_year = min(int(first.start[:4]), deadline.due_date.year)
    years = [y for y in range(start_year, deadline.due_date.year + 1) if not calendar.is_known(y)]
    log.warning(
        "provisional deadline for case %s (%s): %s counted on weekends only, no calendar data for %s; "
        "it is recomputed when an admin enters that year's holidays",
        draft.number or "(new)",
        basis.state,
        deadline.due_date.isoformat(),
        ", ".join(str(y) for y in years) or str(deadline.due_date.year),
    )


def after_decision(
    spec: WorkflowSpec,
    draft: CaseDraft,
    row: dict[str, Any],
    from_state: str,
    internal: bool,
    now: datetime,
    calendar: WorkingCalendar,
) -> ClockUpdate:
    """The clock columns after a decision: a new deadline (and the ladder reset), none, or kept."""
    plan = plan_clock(spec, draft, from_state, draft.state, internal, draft.signals, now)
    if plan.action == START and plan.basis is not None:
        deadline = compute(plan.basis, calendar)
        columns = deadline_columns(spec, draft, plan.basis, deadline, row["deadline_seq"] + 1, calendar)
        note = {
            "due_date": deadline.due_date.isoformat(),
            "due_at": deadline.due_at.isoformat(),
            "provisional": deadline.provisional,
        }
        if row["ladder_level"] != "normal":
            note["ladder_reset_from"] = row["ladder_level"]
        return ClockUpdate(columns, note)
    if plan.action == CLEAR:
        draft.flags.pop("clock", None)
        draft.flags.pop("due_date", None)
        draft.flags.pop(OVERDUE_UNRECORDED, None)
        columns = {
            "due_at": None,
            "due_date": None,
            "due_provisional": False,
            "ladder_level": "normal",
            "next_check_at": None,
        }
        return ClockUpdate(columns, None)
    return ClockUpdate({}, None)


def current_schedule(spec: WorkflowSpec, row: dict[str, Any], calendar: WorkingCalendar) -> list[Moment]:
    raw = (row["flags"] or {}).get("clock")
    if not raw or row["due_at"] is None or row["due_date"] is None:
        return []
    return schedule(spec, ClockBasis.from_dict(raw), row["due_date"], row["due_at"], calendar)
