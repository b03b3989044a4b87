"""Obligations (责任事项): what each unit owes on a case now, derived from its definition.

``owed(rulebook, case)`` reads the definition's ``obligations`` (per state, per co-unit) and the
open checklist items of the current stage, and says for each: the unit, the roles that may act,
the label, how its deadline is counted and whether the unit can act on it now (``ready``) or
waits on another unit first (an extension ruling, an earlier sign-off). ``due_of`` turns a due
rule into a deadline on the working-day calendar.

Pure: storing obligations, closing them when they are no longer owed and climbing their ladder
are ``cases.obligations``'s job, in the transaction of the decision that changed the case.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from workflow import rules
from workflow.calendar import Deadline, WorkingCalendar, end_of_day
from workflow.case import CaseDraft
from workflow.org import Actor
from workflow.rulebook import Rulebook
from workflow.spec import ObligationDue, ObligationSpec

CLOCK = ObligationDue(clock=True)
ITEM_ROLES = ("handler",)
WAIVER_KEY = "waiver:"
"""Prefix of the key of the office's obligation to rule on an item's 不适用 declaration."""
CONFIRM_KEY = "confirm:"
"""Prefix of the key of a department's obligation to confirm an item reported done."""


@dataclass(frozen=True)
class Owed:
    """One obligation the case gives a unit now."""

    key: str
    """The definition's obligation key (``accept``) or the checklist item's key (``cut_water``)."""
    unit: str
    """Department code of the unit that owes it."""
    label: str
    roles: tuple[str, ...]
    """Roles of the unit that may discharge it."""
    due: ObligationDue
    ready: bool
    """The unit can act on it now; False while it waits on another unit."""
    kind: str = "state"
    """``state`` (an obligation of the definition) or ``item`` (a checklist item)."""
    measure: str | None = None
    """What it counts as in the figures (``accept``, ``complete``), if anything in particular."""


def _unit_codes(rulebook: Rulebook, case: CaseDraft, unit: str) -> list[str]:
    if unit == "office":
        return [rulebook.org.office]
    if unit not in rules.relation_names(rulebook.spec):  # a fixed department (the 生态环境分局's view)
        return [unit]
    return sorted(rulebook.units(case, unit))


def _discharged(spec: ObligationSpec, case: CaseDraft, unit: str) -> bool:
    if spec.until is None:
        return False
    if spec.until == "co_feedback":
        return bool((case.co_units.get(unit) or {}).get("feedback_at"))
    return bool(case.flags.get(spec.until))


def _opened(rulebook: Rulebook, case: CaseDraft, after: tuple[str, ...]) -> bool:
    """Whether everything that must come first has: each checklist complete (an item declared
    不适用 and approved counts), each case flag set."""
    for name in after:
        if name in rulebook.spec.checklists:
            items = case.items_of(name)
            if not items or not all(i.done for i in items):
                return False
        elif not case.flags.get(name):
            return False
    return True


def can_act(rulebook: Rulebook, case: CaseDraft, unit: str, roles: tuple[str, ...]) -> bool:
    """Whether someone of ``unit`` with one of ``roles`` has a trigger out of the case's state."""
    actor = Actor("", unit, frozenset(roles))
    return bool(rulebook.allowed_triggers(case, actor))


def owed(rulebook: Rulebook, case: CaseDraft) -> list[Owed]:
    """Every obligation open on the case in its current state, in a stable order."""
    spec = rulebook.spec
    if spec.states[case.state].terminal:
        return []
    result: list[Owed] = []
    for obligation in spec.obligations.values():
        if case.state not in obligation.states:
            continue
        if not _opened(rulebook, case, obligation.after):
            continue
        for unit in _unit_codes(rulebook, case, obligation.unit):
            if _discharged(obligation, case, unit):
                continue
            ready = can_act(rulebook, case, unit, obligation.roles)
            result.append(
                Owed(obligation.key, unit, obligation.label, obligation.roles, obligation.due, ready,
                     measure=obligation.measure)
            )  # fmt: skip
    clock = spec.states[case.state].clock
    for key in rulebook.allowed_items(case):
        found = spec.item(key)
        executor = rulebook.executor(key, case)
        if found is None or executor is None:
            continue
        item = found[1]
        roles = tuple(sorted({r.role for r in item.actors})) or ITEM_ROLES
        due = ObligationDue(duration=item.due) if item.due is not None else CLOCK if clock else ObligationDue()
        result.append(Owed(key, executor, item.label, roles, due, True, "item"))
    return result + _decisions_owed(rulebook, case)


def _decisions_owed(rulebook: Rulebook, case: CaseDraft) -> list[Owed]:
    """What the items of the current stage wait on from another unit: the office's ruling on a
    不适用 declaration, a permit department's confirmation of a reported item."""
    result: list[Owed] = []
    for checklist in rulebook.spec.checklists.values():
        if checklist.state != case.state:
            continue
        for item in case.items_of(checklist.name):
            spec, status = checklist.items[item.key], item.status
            if status == "waiver_pending":
                unit, rules_ = rulebook.waiver_approver(item.key, case), checklist.waiver_approvers
                key, label, due = f"{WAIVER_KEY}{item.key}", f"审批不适用申请（{spec.label}）", checklist.waiver_due
            elif status == "awaiting_confirmation":
                unit, rules_ = rulebook.confirmer(item.key, case), spec.confirmed_by
                key, label, due = f"{CONFIRM_KEY}{item.key}", f"确认{spec.label}", spec.confirm_due
            else:
                continue
            if unit is None:
                continue
            roles = tuple(sorted({r.role for r in rules_})) or ITEM_ROLES
            result.append(Owed(key, unit, label, roles, ObligationDue(duration=due), True, "item"))
    return result


def due_of(
    due: ObligationDue,
    opened_at: datetime,
    clock_due: Deadline | None,
    calendar: WorkingCalendar,
) -> Deadline | None:
    """The deadline of an obligation opened at ``opened_at``; ``clock_due`` is the case's running
    deadline (None when no clock runs). None: no deadline (nothing to chase)."""
    if due.clock:
        return clock_due
    if due.duration is not None:
        return calendar.deadline(opened_at, due.duration)
    if due.before_clock is not None:
        if clock_due is None:
            return None if due.at_least is None else calendar.deadline(opened_at, due.at_least)
        early = _working_days_before(calendar, clock_due.due_date, due.before_clock.amount)
        candidate = Deadline(early, end_of_day(early), clock_due.provisional)
        if due.at_least is not None:
            floor = calendar.deadline(opened_at, due.at_least)
            if floor.due_date > candidate.due_date:
                return floor
        return candidate
    return None


def _working_days_before(calendar: WorkingCalendar, day: date, amount: int) -> date:
    counted = 0
    while counted < amount:
        day -= timedelta(days=1)
        counted += calendar.is_working_day(day)
    return day
