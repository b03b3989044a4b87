"""Deadline rules: which clock runs after a decision, and when it falls due.

``plan_clock`` looks at one decision (from/to state, the signals the effects raised) and says
whether the case's clock is kept, cleared, or replaced by a new one, and on what basis. A
``ClockBasis`` (start + duration, a fixed last day, or an extension of an earlier basis) is stored
with the case so that a deadline computed on the provisional calendar can be recomputed when the
year's data arrives.
Counting days is the calendar's job; the supervision ladder is ``workflow.ladder``'s.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow.calendar import Deadline, WorkingCalendar
from workflow.case import CaseDraft
from workflow.clock import SHANGHAI
from workflow.durations import Duration, parse_duration
from workflow.spec import ClockSpec, WorkflowSpec

KEEP, CLEAR, START = "keep", "clear", "start"


@dataclass(frozen=True)
class ClockBasis:
    """How a deadline was computed, stored in ``flags['clock']``."""

    start: str
    """ISO instant (a clock counted from an event) or ISO date (counted from a day)."""
    duration: str | None
    """``10wd`` … or None when ``start`` is itself the last day (a fixed deadline date)."""
    state: str
    """The state whose clock this is."""
    on_expiry: str = "ladder"
    extends: "ClockBasis | None" = None
    """An extension (延期) adds ``duration`` to the deadline of this earlier basis, counted from its
    last day as computed now; ``start`` then only records that last day as it was when the
    extension was granted. Counting from the basis rather than from the stored day lets a
    provisional deadline and its extension be recomputed together."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": self.start, "duration": self.duration, "state": self.state, "on_expiry": self.on_expiry,
        }  # fmt: skip
        if self.extends is not None:
            data["extends"] = self.extends.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClockBasis":
        extends = data.get("extends")
        return cls(
            data["start"],
            data.get("duration"),
            data["state"],
            data.get("on_expiry", "ladder"),
            cls.from_dict(extends) if extends else None,
        )


@dataclass(frozen=True)
class ClockPlan:
    action: str
    """``keep`` the running clock, ``clear`` it (no deadline), or ``start`` a new one."""
    basis: ClockBasis | None = None


def _state_clock(spec: WorkflowSpec, state: str) -> ClockSpec | None:
    return spec.states[state].clock


def _basis_for_state(spec: WorkflowSpec, case: CaseDraft, state: str, now: datetime) -> ClockBasis | None:
    clock = _state_clock(spec, state)
    if clock is None:
        return None
    start = now.isoformat()
    if clock.anchor == "assignment" and case.flags.get("assigned_at"):
        start = case.flags["assigned_at"]
    if clock.deadline_field is not None:
        fixed = case.fields.get(clock.deadline_field)
        if fixed:
            return ClockBasis(str(fixed), None, state, clock.on_expiry)
        return ClockBasis(start, str(clock.default), state, clock.on_expiry)
    if clock.duration_expr is not None:
        return ClockBasis(start, str(computed_duration(clock, case)), state, clock.on_expiry)
    if clock.by_field is not None:
        value = case.fields.get(clock.by_field)
        chosen = clock.durations.get(str(value)) or next(iter(clock.durations.values()))
        return ClockBasis(start, str(chosen), state, clock.on_expiry)
    return ClockBasis(start, str(clock.duration), state, clock.on_expiry)


def computed_duration(clock: ClockSpec, case: CaseDraft) -> Duration:
    """The length a computed clock gives for the case (``"10wd"``); a value that is no duration
    is a fault of the definition, reported with the expression."""
    assert clock.duration_expr is not None
    value = clock.duration_expr.evaluate({**case.fields, **case.counters})
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"时限表达式“{clock.duration_expr.source}”给出了“{value}”，不是时长（如 5wd、15d）") from exc


def plan_clock(
    spec: WorkflowSpec,
    case: CaseDraft,
    from_state: str,
    to_state: str,
    internal: bool,
    signals: list[str],
    now: datetime,
) -> ClockPlan:
    """What happens to the case's clock after a decision."""
    current = case.flags.get("clock")
    for signal in signals:
        if signal.startswith("clock:extend:") and current:
            # the deadline moves by the granted working days, counted from the old last day: kept
            # as the old basis, so that recomputing the old deadline moves the extension with it
            extra = parse_duration(signal.rsplit(":", 1)[1])
            base = ClockBasis.from_dict(current)
            return ClockPlan(START, ClockBasis(case.flags["due_date"], str(extra), to_state, base.on_expiry, base))
        if signal.startswith("clock:restart:"):
            duration = parse_duration(signal.rsplit(":", 1)[1])
            return ClockPlan(START, ClockBasis(now.isoformat(), str(duration), to_state))
    if internal:
        return ClockPlan(KEEP)
    if spec.states[to_state].terminal:
        return ClockPlan(CLEAR)
    source_clock = _state_clock(spec, from_state)
    if source_clock is not None and source_clock.keeps_running == to_state and current:
        return ClockPlan(KEEP)  # back to the clock that kept running (e.g. extension refused)
    target_clock = _state_clock(spec, to_state)
    if target_clock is not None and target_clock.keeps_running and current:
        return ClockPlan(KEEP)  # e.g. an extension is requested: the handling deadline runs on
    basis = _basis_for_state(spec, case, to_state, now)
    return ClockPlan(START, basis) if basis is not None else ClockPlan(CLEAR)


def fill_deadline_field(spec: WorkflowSpec, case: CaseDraft, basis: ClockBasis, deadline: Deadline) -> None:
    """A clock kept in a date field (the rectification deadline) that ran on its default length
    writes the last day it computed into the field: the field always shows the deadline, a later
    extension must move past it, and re-entering the state keeps it. Recomputing the default
    (a provisional year) writes the field again."""
    clock = spec.states[basis.state].clock if basis.state in spec.states else None
    if clock is None or clock.deadline_field is None or basis.duration is None:
        return
    case.fields[clock.deadline_field] = deadline.due_date.isoformat()


def compute(basis: ClockBasis, calendar: WorkingCalendar) -> Deadline:
    """The deadline a basis gives on this calendar."""
    if basis.extends is not None and basis.duration is not None:
        base = compute(basis.extends, calendar)
        extended = calendar.add(base.due_date, parse_duration(basis.duration))
        return Deadline(extended.due_date, extended.due_at, base.provisional or extended.provisional)
    if basis.duration is None:
        last = date.fromisoformat(basis.start)
        due_at = datetime.combine(last + timedelta(days=1), time(0), SHANGHAI)
        return Deadline(last, due_at, not calendar.is_known(last.year))
    duration: Duration = parse_duration(basis.duration)
    if "T" in basis.start:
        return calendar.deadline(datetime.fromisoformat(basis.start), duration)
    return calendar.add(date.fromisoformat(basis.start), duration)
