"""The named rules that definitions refer to: unit relations, branch conditions, guards, effects.

A definition names them (``guards: [before_due]``); ``workflow.loader`` refuses unknown names;
``workflow.rulebook`` calls them. Every rule reads a ``RuleContext`` and is pure: effects change
only the in-memory ``CaseDraft``. Guards raise ``GuardFailed`` with a Chinese reason.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from workflow.case import CaseDraft, ItemState
from workflow.clock import SHANGHAI
from workflow.errors import GuardFailed
from workflow.org import Actor, Organisation
from workflow.spec import ChecklistSpec, ClockSpec, WorkflowSpec


@dataclass
class RuleContext:
    spec: WorkflowSpec
    org: Organisation
    case: CaseDraft
    actor: Actor
    trigger: str
    inputs: dict[str, Any]
    now: datetime
    evidence: list[str] = field(default_factory=list)

    @property
    def today(self) -> date:
        """The calendar day in Asia/Shanghai."""
        return self.now.astimezone(SHANGHAI).date()


Relation = Callable[[CaseDraft, WorkflowSpec], set[str]]
Predicate = Callable[[RuleContext], bool]
Guard = Callable[[RuleContext], None]
Effect = Callable[[RuleContext], None]


# --- unit relations: which departments stand in a relation to the case ------------------------


def review_department(case: CaseDraft, spec: WorkflowSpec) -> str | None:
    """The lead department of the case's first violation type (sites), else the default."""
    violations = case.fields.get("violations") or []
    if violations and violations[0] in spec.violation_departments:
        return spec.violation_departments[violations[0]]
    return spec.default_review_department


RELATIONS: dict[str, Relation] = {
    "lead_unit": lambda c, s: {c.fields["lead_unit"]} if c.fields.get("lead_unit") else set(),
    "co_unit": lambda c, s: set(c.co_units),
    "town": lambda c, s: {c.fields["town"]} if c.fields.get("town") else set(),
    "review_department": lambda c, s: {d} if (d := review_department(c, s)) else set(),
}
"""The built-in relations; a definition adds its own as ``relations: {name: department field}``."""


def field_units(case: CaseDraft, name: str) -> set[str]:
    """The departments a department or department-list field of the case holds."""
    value = case.fields.get(name)
    if not value:
        return set()
    return {str(v) for v in value} if isinstance(value, list | tuple) else {str(value)}


def relation_units(case: CaseDraft, spec: WorkflowSpec, relation: str) -> set[str]:
    """The units standing in ``relation`` to the case: a built-in one or one the definition adds."""
    if relation in spec.relations:
        return field_units(case, spec.relations[relation])
    return RELATIONS[relation](case, spec)


def relation_names(spec: WorkflowSpec) -> tuple[str, ...]:
    return (*RELATIONS, *(r for r in spec.relations if r not in RELATIONS))


# --- branch conditions --------------------------------------------------------------------------


def returns_to_clearing(ctx: RuleContext) -> bool:
    """A failed acceptance goes back to clearing for a ban case, and for a rectify case that
    has already failed once."""
    return ctx.case.flags.get("category") == "ban" or ctx.case.count("rectify_fail_count") >= 1


CONDITIONS: dict[str, Predicate] = {"returns_to_clearing": returns_to_clearing}


# --- guards -------------------------------------------------------------------------------------


def _guard(name: str, ok: bool, reason: str) -> None:
    if not ok:
        raise GuardFailed(name, reason)


def co_units_exclude_lead(ctx: RuleContext) -> None:
    lead = ctx.inputs.get("lead_unit")
    co = ctx.inputs["co_units"] if "co_units" in ctx.inputs else ctx.case.fields.get("co_units") or []
    _guard("co_units_exclude_lead", lead not in co, "主办单位不能同时作为协办单位")


def lead_unit_changes(ctx: RuleContext) -> None:
    same = ctx.inputs.get("lead_unit") == ctx.case.fields.get("lead_unit")
    _guard("lead_unit_changes", not same, "改派须指定不同的主办单位")


def before_due(ctx: RuleContext) -> None:
    due = ctx.case.due_at
    _guard("before_due", due is None or ctx.now < due, "办理期限已过，不能再申请延期")


def extension_limits(ctx: RuleContext) -> None:
    """At most ``limits.extensions`` extensions adding up to ``limits.extension_days`` working days."""
    limits = ctx.spec.limits
    used, days = ctx.case.count("extension_days"), int(ctx.inputs.get("days", 0))
    _guard(
        "extension_limits",
        ctx.case.count("extension_count") < limits.extensions,
        f"每件问题最多延期{limits.extensions}次，已延期{ctx.case.count('extension_count')}次",
    )
    _guard(
        "extension_limits",
        used + days <= limits.extension_days,
        f"延期累计不得超过{limits.extension_days}个工作日：已延期{used}个，本次申请{days}个",
    )


def extension_grant_within_limits(ctx: RuleContext) -> None:
    most = ctx.spec.limits.extension_days
    requested = int((ctx.case.flags.get("pending_extension") or {}).get("days", most))
    days, used = int(ctx.inputs["days"]), ctx.case.count("extension_days")
    _guard("extension_grant_within_limits", days <= requested, f"批准天数不能超过申请的{requested}个工作日")
    _guard(
        "extension_grant_within_limits",
        used + days <= most,
        f"延期累计不得超过{most}个工作日：已延期{used}个，本次批准{days}个",
    )


def all_co_units_fed_back(ctx: RuleContext) -> None:
    waiting = [code for code, a in ctx.case.co_units.items() if not a.get("feedback_at")]
    names = "、".join(ctx.org.name(c) for c in waiting)
    _guard("all_co_units_fed_back", not waiting, f"尚有协办单位未反馈意见：{names}")


def co_assignment_open(ctx: RuleContext) -> None:
    assignment = ctx.case.co_units.get(ctx.actor.department) or {}
    _guard("co_assignment_open", not assignment.get("accepted_at"), "本单位已签收该协办事项")


def co_assignment_accepted(ctx: RuleContext) -> None:
    assignment = ctx.case.co_units.get(ctx.actor.department) or {}
    _guard("co_assignment_accepted", bool(assignment.get("accepted_at")), "请先签收协办事项再反馈")


def other_item_described(ctx: RuleContext) -> None:
    needs = "other" in (ctx.inputs.get("items") or [])
    _guard(
        "other_item_described",
        not needs or bool(ctx.inputs.get("other_item")),
        "选择“其他”整改事项时须填写说明（other_item）",
    )


def classified_on(ctx: RuleContext) -> date:
    stored = ctx.case.flags.get("classified_on")
    return date.fromisoformat(stored) if stored else ctx.today


def deadline_clock(spec: WorkflowSpec, field_name: str) -> ClockSpec | None:
    """The clock that keeps its deadline in the date field ``field_name``, if any."""
    for state in spec.states.values():
        if state.clock is not None and state.clock.deadline_field == field_name:
            return state.clock
    return None


def deadline_clocks(spec: WorkflowSpec, field_name: str) -> list[tuple[str, ClockSpec]]:
    """(state, clock) of every state whose clock keeps its deadline in the field ``field_name``."""
    return [
        (name, state.clock)
        for name, state in spec.states.items()
        if state.clock is not None and state.clock.deadline_field == field_name
    ]


def longest_days(clock: ClockSpec | None) -> int | None:
    """A deadline field's longest allowed length in calendar days (``max: 90d``), if any."""
    if clock is None or clock.max is None:
        return None
    return clock.max.amount if clock.max.unit == "d" else None


def rectify_deadline_within_limit(ctx: RuleContext) -> None:
    """The rectification deadline lies after today and within the clock's ``max`` of the day
    the site was classified."""
    given = ctx.inputs.get("deadline")
    if given is None:
        return
    most = longest_days(deadline_clock(ctx.spec, "deadline"))
    deadline, start = date.fromisoformat(given), classified_on(ctx)
    _guard("rectify_deadline_within_limit", deadline > ctx.today, "整改期限必须晚于今天")
    if most is None:
        return
    latest = start + timedelta(days=most)
    _guard(
        "rectify_deadline_within_limit",
        deadline <= latest,
        f"整改期限自认定之日（{start}）起最长{most}天，即不晚于{latest}",
    )


def rectify_extension_unused(ctx: RuleContext) -> None:
    _guard("rectify_extension_unused", ctx.case.count("rectify_extension_count") == 0, "整改期限只能延长一次")


def deadline_moves_later(ctx: RuleContext) -> None:
    current = ctx.case.fields.get("deadline")
    later = current is None or ctx.inputs["deadline"] > current
    _guard("deadline_moves_later", later, f"新的整改期限须晚于原期限 {current}")


def _active_checklist(ctx: RuleContext) -> ChecklistSpec | None:
    return next((c for c in ctx.spec.checklists.values() if c.state == ctx.case.state), None)


def checklist_complete(ctx: RuleContext) -> None:
    checklist = _active_checklist(ctx)
    if checklist is None:
        return
    waiting = [i.label for i in ctx.case.items_of(checklist.name) if not i.done]
    _guard("checklist_complete", not waiting, f"{checklist.label}尚未全部完成：{'、'.join(waiting)}")


def signoffs_complete(ctx: RuleContext) -> None:
    waiting = [i.label for i in ctx.case.items_of("signoffs") if not i.done]
    _guard(
        "signoffs_complete",
        bool(ctx.case.items_of("signoffs")) and not waiting,
        f"验收签字尚未完成：{'、'.join(waiting)}",
    )


GUARDS: dict[str, Guard] = {
    g.__name__: g
    for g in (
        co_units_exclude_lead,
        lead_unit_changes,
        before_due,
        extension_limits,
        extension_grant_within_limits,
        all_co_units_fed_back,
        co_assignment_open,
        co_assignment_accepted,
        other_item_described,
        rectify_deadline_within_limit,
        rectify_extension_unused,
        deadline_moves_later,
        checklist_complete,
        signoffs_complete,
    )
}


# --- effects --------------------------------------------------------------------------------------


def open_co_assignments(ctx: RuleContext) -> None:
    """Keep the records of co-units that stay, open one for each new co-unit, drop the rest."""
    wanted = ctx.case.fields.get("co_units") or []
    previous = ctx.case.co_units
    ctx.case.co_units = {
        code: previous.get(code) or {"accepted_at": None, "feedback_at": None, "feedback": None} for code in wanted
    }


def co_accept(ctx: RuleContext) -> None:
    ctx.case.co_units[ctx.actor.department]["accepted_at"] = ctx.now.isoformat()


def co_feedback(ctx: RuleContext) -> None:
    record = ctx.case.co_units[ctx.actor.department]
    record["feedback_at"], record["feedback"] = ctx.now.isoformat(), ctx.inputs["reply"]


def start_handling_clock(ctx: RuleContext) -> None:
    ctx.case.flags["assigned_at"] = ctx.now.isoformat()
    ctx.case.signals.append("clock:handling:start")


def record_extension_request(ctx: RuleContext) -> None:
    ctx.case.flags["pending_extension"] = {"days": ctx.inputs["days"], "reason": ctx.inputs["reason"]}


def grant_extension(ctx: RuleContext) -> None:
    days = int(ctx.inputs["days"])
    ctx.case.counters["extension_days"] = ctx.case.count("extension_days") + days
    ctx.case.flags.pop("pending_extension", None)
    ctx.case.signals.append(f"clock:extend:{days}wd")


def clear_extension_request(ctx: RuleContext) -> None:
    ctx.case.flags.pop("pending_extension", None)


def restart_clock_5wd(ctx: RuleContext) -> None:
    ctx.case.signals.append("clock:restart:5wd")


def raise_to_convenors_at_second_reopen(ctx: RuleContext) -> None:
    if ctx.case.count("reopen_count") >= 2 and not ctx.case.flags.get("raised_to_convenors"):
        ctx.case.flags["raised_to_convenors"] = ctx.now.isoformat()
        ctx.case.signals.append("raised_to_convenors")


def _opinion(ctx: RuleContext) -> dict[str, Any]:
    return {
        "at": ctx.now.isoformat(), "unit": ctx.actor.department, "by": ctx.actor.username,
        "text": ctx.inputs.get("notes"), "evidence": list(ctx.evidence),
    }  # fmt: skip


def record_findings(ctx: RuleContext) -> None:
    """The town hands in its verification (属地核查意见); handed in again, the later one stands."""
    ctx.case.flags["findings"] = _opinion(ctx)


def record_ecology_view(ctx: RuleContext) -> None:
    """The 生态环境分局 hands in its view on the classification (生态环境分局意见)."""
    ctx.case.flags["ecology_view"] = _opinion(ctx)


def set_category_ban(ctx: RuleContext) -> None:
    ctx.case.flags["category"] = "ban"
    ctx.case.flags.setdefault("classified_on", ctx.today.isoformat())


def set_category_rectify(ctx: RuleContext) -> None:
    """Without a given deadline the rectifying clock runs on its default (``30d`` from now, counted
    on the calendar with the rest-day rule); ``workflow.deadlines.fill_deadline_field`` then
    writes the date it gives into the field."""
    ctx.case.flags["category"] = "rectify"
    ctx.case.flags["classified_on"] = ctx.today.isoformat()


def _open_items(ctx: RuleContext, checklist_name: str, keys: list[str], reset: bool) -> None:
    checklist = ctx.spec.checklists[checklist_name]
    for position, key in enumerate(checklist.items):
        if key not in keys:
            continue
        existing = ctx.case.items.get(key)
        if existing is None:
            label = checklist.items[key].label
            ctx.case.items[key] = ItemState(checklist_name, key, label, position)
        elif reset:
            existing.reset()


def _enabled_clearing_keys(ctx: RuleContext) -> list[str]:
    checklist = ctx.spec.checklists["clearing"]
    return [
        key
        for key, item in checklist.items.items()
        if item.enabled_by is None or ctx.case.fields.get(item.enabled_by) == "yes"
    ]


def open_clearing_checklist(ctx: RuleContext) -> None:
    _open_items(ctx, "clearing", _enabled_clearing_keys(ctx), reset=False)


def reset_clearing_checklist(ctx: RuleContext) -> None:
    _open_items(ctx, "clearing", _enabled_clearing_keys(ctx), reset=True)
    _drop_signoffs(ctx)


def open_rectification_items(ctx: RuleContext) -> None:
    _open_items(ctx, "rectification", list(ctx.case.fields.get("items") or []), reset=False)


def _drop_signoffs(ctx: RuleContext) -> None:
    for item in ctx.case.items_of("signoffs"):
        del ctx.case.items[item.key]


def open_signoffs(ctx: RuleContext) -> None:
    _drop_signoffs(ctx)
    _open_items(ctx, "signoffs", list(ctx.spec.checklists["signoffs"].items), reset=False)


def _redo(ctx: RuleContext) -> None:
    for key in ctx.inputs.get("redo_items") or []:
        if key in ctx.case.items:
            ctx.case.items[key].reset()


def fail_to_clearing(ctx: RuleContext) -> None:
    _drop_signoffs(ctx)
    if ctx.case.flags.get("category") != "ban":
        set_category_ban(ctx)
    open_clearing_checklist(ctx)
    _redo(ctx)


def fail_to_rectifying(ctx: RuleContext) -> None:
    _drop_signoffs(ctx)
    _redo(ctx)


EFFECTS: dict[str, Effect] = {
    e.__name__: e
    for e in (
        open_co_assignments,
        co_accept,
        co_feedback,
        start_handling_clock,
        record_extension_request,
        grant_extension,
        clear_extension_request,
        restart_clock_5wd,
        raise_to_convenors_at_second_reopen,
        record_findings,
        record_ecology_view,
        set_category_ban,
        set_category_rectify,
        open_clearing_checklist,
        reset_clearing_checklist,
        open_rectification_items,
        open_signoffs,
        fail_to_clearing,
        fail_to_rectifying,
    )
}


# --- general effects: one argument each, written ``name:argument`` in a definition --------------


def open_checklist(ctx: RuleContext, name: str) -> None:
    """Open the items of checklist ``name`` that apply: those its ``chosen_by`` field lists, else
    all whose ``enabled_by`` field (if any) says yes; items already open are kept as they are."""
    checklist = ctx.spec.checklists[name]
    if checklist.chosen_by is not None:
        keys = list(ctx.case.fields.get(checklist.chosen_by) or [])
    else:
        keys = [k for k, i in checklist.items.items() if i.enabled_by is None or ctx.case.fields.get(i.enabled_by) == "yes"]
    _open_items(ctx, name, keys, reset=False)


def reset_checklist(ctx: RuleContext, name: str) -> None:
    """Open checklist ``name`` again from the start: every applicable item is owed anew."""
    for item in ctx.case.items_of(name):
        del ctx.case.items[item.key]
    open_checklist(ctx, name)


def drop_checklist(ctx: RuleContext, name: str) -> None:
    """Remove the items of checklist ``name`` (sign-offs of a failed acceptance)."""
    for item in ctx.case.items_of(name):
        del ctx.case.items[item.key]


def restart_clock(ctx: RuleContext, duration: str) -> None:
    """Start the case's clock afresh for ``duration`` (``5wd``) from now."""
    ctx.case.signals.append(f"clock:restart:{duration}")


def set_flag(ctx: RuleContext, name: str) -> None:
    """Record that ``name`` happened now (a case flag other rules and obligations may wait on)."""
    ctx.case.flags[name] = ctx.now.isoformat()


GeneralEffect = Callable[[RuleContext, str], None]
GENERAL_EFFECTS: dict[str, GeneralEffect] = {
    e.__name__: e for e in (open_checklist, reset_checklist, drop_checklist, restart_clock, set_flag)
}
"""Effects with one argument: a checklist name, a duration or a flag name."""


@dataclass(frozen=True)
class Vocabulary:
    """The named rules of one vocabulary version. A rule whose meaning changes gets a new
    version; definitions pinned to an older one keep the older rules."""

    version: int
    relations: dict[str, Relation]
    conditions: dict[str, Predicate]
    guards: dict[str, Guard]
    effects: dict[str, Effect]
    general_effects: dict[str, GeneralEffect]

    def apply(self, effect: str, ctx: RuleContext) -> None:
        name, _, argument = effect.partition(":")
        if argument:
            self.general_effects[name](ctx, argument)
        else:
            self.effects[name](ctx)


VOCABULARIES: dict[int, Vocabulary] = {1: Vocabulary(1, RELATIONS, CONDITIONS, GUARDS, EFFECTS, GENERAL_EFFECTS)}
CURRENT_VOCABULARY = 1
