"""The supervision ladder (督办): a second state machine on every case.

``normal → warned → overdue → supervised → listed``, climbed against the case's current deadline
at the moments a definition's ``ladder`` gives (DOMAIN.md §5), or raised by hand by a dispatcher
(``supervise``, ``list``) with a reason; ``reset`` brings it back to ``normal`` when a new clock
starts. Like the workflows, it is a ``transitions`` rulebook fired on a plain holder. When the
steps happen is computed here; performing them in a transaction is ``cases``'s job.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum

from transitions import Machine, MachineError, State

from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.errors import GuardFailed
from workflow.spec import LadderStep

LEVELS = ("normal", "warned", "overdue", "supervised", "listed")
LEVEL_LABELS = {
    "normal": "正常",
    "warned": "临期预警",
    "overdue": "逾期催办",
    "supervised": "督办",
    "listed": "挂牌督办",
}
LEVEL_COLOURS = {"normal": "", "warned": "蓝", "overdue": "黄", "supervised": "橙", "listed": "红"}
TRIGGER_OF = {"warned": "warn", "overdue": "mark_overdue", "supervised": "supervise", "listed": "list"}
LEVEL_OF_TRIGGER = {trigger: level for level, trigger in TRIGGER_OF.items()}
MANUAL_TRIGGERS = ("supervise", "list")
"""Triggers a dispatcher may fire by hand, with a reason."""
RECORD_OVERDUE = "record_overdue"
"""Not a level change: the sweep's record that ``due_at`` passed while the case stood above
``overdue`` because a dispatcher raised it by hand before (statistics keep "ever overdue")."""
OVERDUE_TRIGGERS = ("mark_overdue", RECORD_OVERDUE)
"""Events by which a case went overdue (the bulletin's 累计超期数)."""


def rank(level: str) -> int:
    return LEVELS.index(level)


class _Holder:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _build_machine() -> Machine:
    machine = Machine(model=None, states=list(LEVELS), initial="normal", auto_transitions=False, send_event=True)
    for level, trigger in TRIGGER_OF.items():
        below: list[str | Enum | State] = [lower for lower in LEVELS if rank(lower) < rank(level)]
        machine.add_transition(trigger, below, level)
    machine.add_transition("reset", list(LEVELS), "normal")
    return machine


_MACHINE = _build_machine()


def fire(level: str, trigger: str) -> str:
    """The level after ``trigger``; ``GuardFailed`` when it would not raise the case."""
    holder = _Holder(level)
    try:
        _MACHINE.events[trigger].trigger(holder)
    except MachineError as exc:
        target = LEVEL_OF_TRIGGER.get(trigger, "normal")
        raise GuardFailed(
            "ladder_raise", f"案件当前督办级别为“{LEVEL_LABELS[level]}”，不能再设为“{LEVEL_LABELS[target]}”"
        ) from exc
    return str(holder.state)


@dataclass(frozen=True)
class Moment:
    level: str
    at: datetime


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def moments(steps: Sequence[LadderStep], due_date: date, due_at: datetime, calendar: WorkingCalendar) -> list[Moment]:
    """When each level of the ladder falls due for one deadline, in ladder order."""
    result = []
    for step in steps:
        if step.at == "due_day_start":
            at = _start_of(due_date)
        elif step.at == "due_at":
            at = due_at
        else:
            assert step.after_due is not None
            at = (
                calendar.add(due_date, step.after_due).due_at
                if step.after_due.unit != "h"
                else due_at + timedelta(hours=step.after_due.amount)
            )
        result.append(Moment(step.level, at))
    return sorted(result, key=lambda m: rank(m.level))


def due_steps(level: str, schedule: Sequence[Moment], now: datetime) -> list[Moment]:
    """Levels above ``level`` whose moment has come, lowest first (catching up after downtime)."""
    return [m for m in schedule if rank(m.level) > rank(level) and m.at <= now]


def skips_overdue(from_level: str, to_level: str) -> bool:
    """Whether a raise jumps over ``overdue`` (a manual 督办 before the sweep marked it overdue):
    the overdue moment must then still be recorded when it comes."""
    return rank(from_level) < rank("overdue") < rank(to_level)


def overdue_moment(schedule: Sequence[Moment]) -> Moment | None:
    return next((m for m in schedule if m.level == "overdue"), None)


def next_check(level: str, schedule: Sequence[Moment], overdue_unrecorded: bool = False) -> datetime | None:
    """The earliest moment of a level above ``level`` (and the overdue moment while a raise by hand
    left it ``overdue_unrecorded``), or None when nothing is left to happen."""
    pending = [m.at for m in schedule if rank(m.level) > rank(level) or (overdue_unrecorded and m.level == "overdue")]
    return min(pending) if pending else None
