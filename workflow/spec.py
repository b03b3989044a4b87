"""Frozen specifications of a workflow definition, as loaded from ``config/workflows/*.yaml``.

Loading and validation live in ``workflow.loader``; turning a spec into a ``transitions``
machine lives in ``workflow.rulebook``. These classes only describe.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.durations import Duration
from workflow.expressions import Expression

FIELD_TYPES = (
    "text",
    "text_list",
    "choice",
    "choice_list",
    "department",
    "department_list",
    "uscc",
    "date",
    "integer",
    "decimal",
    "yes_no",
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    """Key used by ``--field KEY=VALUE`` and the API."""
    label: str
    """Chinese label shown to people."""
    type: str
    """One of ``FIELD_TYPES``."""
    choices: tuple[str, ...] = ()
    """Allowed values of ``choice`` and ``choice_list``."""
    choice_labels: Mapping[str, str] = field(default_factory=dict)
    """Chinese label of each choice people read (``simple`` → 简单); a choice without one is
    shown as itself. Written in YAML as ``choices: {simple: 简单, …}``."""
    kinds: tuple[str, ...] = ()
    """For ``department`` fields: allowed department kinds (empty: any)."""
    max_length: int | None = None
    """For text: the most characters allowed."""
    min: int | None = None
    """For integers: the least value allowed."""
    max: int | None = None
    """For integers: the greatest value allowed."""
    default: Any = None
    """Value used when an optional field is not given (already validated)."""
    compute: Expression | None = None
    """A computed field: its value follows from the case's other fields (a subsidy's amount),
    recomputed after every decision; nobody gives it."""
    places: int | None = None
    """For a computed decimal: places kept, rounded half up (amounts in 万元: 2)."""


@dataclass(frozen=True)
class ActorRule:
    """One way to be allowed: a role, optionally restricted to a unit relation or department."""

    role: str
    """A role of DOMAIN.md §1, or ``system``."""
    unit: str | None = None
    """A unit relation of the case (``lead_unit``, ``co_unit``, ``town``, ``review_department``)."""
    department: str | None = None
    """A fixed department code (``power``)."""


@dataclass(frozen=True)
class ClockSpec:
    """How long a case may stay in a state; evaluated by the deadline rules."""

    duration: Duration | None = None
    """Fixed length, counted from entering the state (or from ``anchor``)."""
    duration_expr: Expression | None = None
    """A computed length: an expression giving a duration such as ``"10wd"`` from the case's fields."""
    by_field: str | None = None
    """Case field whose value picks the length from ``durations``."""
    durations: Mapping[str, Duration] = field(default_factory=dict)
    """Value of ``by_field`` → length."""
    deadline_field: str | None = None
    """Case field (a date) that holds the deadline itself, e.g. a rectification deadline."""
    default: Duration | None = None
    """Length used when ``deadline_field`` is empty."""
    max: Duration | None = None
    """Longest allowed ``deadline_field``, counted from entering the state the first time."""
    anchor: str = "entry"
    """``entry`` (entering the state) or ``assignment`` (the case's assignment)."""
    keeps_running: str | None = None
    """A state whose clock keeps running while the case is in this one."""
    responsible: str = "office"
    """Who the clock is on: ``office`` or a unit relation."""
    on_expiry: str = "ladder"
    """``ladder`` (climb the supervision ladder) or a trigger fired by the system."""


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    terminal: bool = False
    """Nothing leaves it (不予受理, 已归档)."""
    clock: ClockSpec | None = None
    closed: bool = False
    """The case counts as closed (销号) here though the state may still be left (a site's 已销号
    awaits its 回头看); terminal states are closed too (``is_closed``)."""

    @property
    def is_closed(self) -> bool:
        return self.terminal or self.closed


@dataclass(frozen=True)
class Check:
    """A guard written as an expression: the trigger is refused with ``message`` when it is false."""

    expression: Expression
    message: str
    """The Chinese reason given to the person refused."""


@dataclass(frozen=True)
class Limits:
    """Limits a definition sets on its cases (DOMAIN.md §4), enforced by the named guards."""

    extensions: int = 2
    """How many extensions (延期) a case may be granted."""
    extension_days: int = 15
    """How many working days all of a case's extensions may add up to."""


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    """Destination state; ``None`` for an internal transition (the state does not change)."""
    label: str
    actors: tuple[ActorRule, ...]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    store: tuple[str, ...] = ()
    """Input fields copied onto the case's fields."""
    allowed_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Narrower choices for some inputs on this trigger."""
    when: tuple[str, ...] = ()
    """Named conditions that select this branch among several with the same trigger."""
    guards: tuple[str, ...] = ()
    """Named rules that refuse the trigger with a reason."""
    increment: tuple[str, ...] = ()
    """Counters that go up by one."""
    effects: tuple[str, ...] = ()
    """Effects applied to the case after the state changed, in order: a named one
    (``set_category_ban``) or a general one with its argument, ``name:argument``
    (``open_checklist:clearing``, ``restart_clock:5wd``; see ``workflow.rules.GENERAL_EFFECTS``)."""
    when_expr: tuple[Expression, ...] = ()
    """Conditions written as expressions (all must hold) that select this branch."""
    checks: tuple[Check, ...] = ()
    """Guards written as expressions."""
    evidence: str = "none"
    """``none``, ``optional`` or ``required``: files attached to the action."""
    cites: tuple[str, ...] = ()
    """Opinions (``WorkflowSpec.opinions``) copied into the event: what the decision rests on."""

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class ItemSpec:
    key: str
    label: str
    actors: tuple[ActorRule, ...]
    required: tuple[str, ...] = ()
    """Fields that must be given when completing the item (``meter_reading``)."""
    enabled_by: str | None = None
    """A yes/no case field that switches this optional item on (``cut_gas``)."""
    due: Duration | None = None
    """How long its unit has, counted from the item's opening; None: the case's running deadline."""
    waivable: bool = False
    """Its executor may declare it 不适用 (with a reason); the office approves or rejects, and an
    approved item counts as complete (a site on its own well has no water to cut)."""
    confirmed_by: tuple[ActorRule, ...] = ()
    """Who confirms it once its executor reports it done (the department that issues a permit);
    empty: reporting it done completes it."""
    confirm_due: Duration | None = None
    """How long the confirming department has, counted from the report."""


@dataclass(frozen=True)
class ChecklistSpec:
    name: str
    """``clearing``, ``rectification`` or ``signoffs``."""
    label: str
    state: str
    """The state in which its items are completed."""
    items: Mapping[str, ItemSpec]
    evidence: str = "required"
    ordered: bool = False
    """Items must be completed in the order given (the acceptance sign-offs)."""
    chosen_by: str | None = None
    """A case field listing which items apply (the rectification items)."""
    waiver_approvers: tuple[ActorRule, ...] = ()
    """Who approves or rejects a 不适用 declaration of its items (the office's dispatchers)."""
    waiver_due: Duration | None = None
    """How long the approvers have, counted from the declaration."""


@dataclass(frozen=True)
class ObligationDue:
    """When an obligation falls due."""

    clock: bool = False
    """The case's running deadline (the state clock), moving with it (extensions, recomputation)."""
    duration: Duration | None = None
    """A length of its own, counted from the obligation's opening."""
    before_clock: Duration | None = None
    """This long before the case's running deadline (a co-unit's feedback before the lead's answer) …"""
    at_least: Duration | None = None
    """… but never sooner than this long after opening."""


@dataclass(frozen=True)
class ObligationSpec:
    """One thing a unit owes on a case while the case is in some states (责任事项)."""

    key: str
    label: str
    """Chinese label shown in 待办, notices and reports (``签收``, ``办理并答复``)."""
    unit: str
    """``office``, a unit relation (``lead_unit``, ``co_unit``, ``town`` …; ``co_unit`` gives one
    obligation per co-unit) or a fixed department code (``ecology``)."""
    states: tuple[str, ...]
    """The states in which it is open."""
    due: ObligationDue
    roles: tuple[str, ...] = ("handler",)
    """Roles of the unit that may act on it (``dispatcher`` for the office)."""
    after: tuple[str, ...] = ()
    """Checklists that must be complete, or case flags that must be set, before it opens (submit
    for acceptance once 两断三清 is done; classify once the town's findings and the 生态环境分局's
    view are in): all of them."""
    until: str | None = None
    """What discharges it before the state changes: ``co_feedback`` (this co-unit fed back) or a
    flag of the case (``findings``)."""
    measure: str | None = None
    """What it counts as in the figures (DOMAIN.md §6, §9): ``accept`` (签收: 交办数, 按时签收率,
    退回数) or ``complete`` (办结: 办结数, 平均用时, 重办数); every obligation counts in 按期办结率."""


@dataclass(frozen=True)
class LadderStep:
    level: str
    at: str | None = None
    """``due_day_start`` or ``due_at``."""
    after_due: Duration | None = None
    """Time after ``due_at``."""


@dataclass(frozen=True)
class CreateSpec:
    actors: tuple[ActorRule, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    """Registration is refused with the check's message when one is false (under 200 万元)."""


@dataclass(frozen=True)
class WorkflowSpec:
    type: str
    name: str
    number_prefix: str
    initial: str
    version: str
    """Content hash (sha256, hex) of the definition; cases are pinned to it."""
    source_file: str
    fields: Mapping[str, FieldSpec]
    create: CreateSpec
    states: Mapping[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    checklists: Mapping[str, ChecklistSpec] = field(default_factory=dict)
    counters: tuple[str, ...] = ()
    ladder: tuple[LadderStep, ...] = ()
    violation_departments: Mapping[str, str] = field(default_factory=dict)
    default_review_department: str | None = None
    obligations: Mapping[str, ObligationSpec] = field(default_factory=dict)
    """What each unit owes in each state (the items of the checklists are obligations too)."""
    opinions: Mapping[str, str] = field(default_factory=dict)
    """Case flags that hold a unit's opinion (``findings`` → 属地核查意见), with their labels."""
    computed_order: tuple[str, ...] = ()
    """The computed fields, each after the computed fields it reads."""
    title_field: str = "title"
    """The field that names a case in lists, notices and the ledger."""
    description: str = ""
    """One line saying what the process is, shown when a type is chosen to register a case."""
    duplicate_key: tuple[str, ...] = ()
    """Fields that, equal on two open cases of this type, make the later one a duplicate."""
    limits: Limits = field(default_factory=Limits)
    vocabulary: int = 1
    """The version of the named rules (guards, conditions, effects, relations) the definition
    uses; a pinned old definition keeps the rules of its vocabulary (``workflow.rules``)."""
    relations: Mapping[str, str] = field(default_factory=dict)
    """Unit relations this definition adds: relation name → the department field holding the
    unit (``applicant_town: town``)."""
    sections: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Raw YAML of the top-level sections that a consumer above ``workflow`` owns and validates
    itself (``ledger``, ``notifications``): see ``workflow.loader.CONSUMER_SECTIONS``."""
    source_text: str = field(default="", repr=False, compare=False)

    @property
    def triggers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.setdefault(t.trigger, None)
        return tuple(seen)

    def branches(self, trigger: str, state: str) -> tuple[TransitionSpec, ...]:
        """The transitions for ``trigger`` out of ``state``, in definition order."""
        return tuple(t for t in self.transitions if t.trigger == trigger and state in t.sources)

    def triggers_from(self, state: str) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            if state in t.sources:
                seen.setdefault(t.trigger, None)
        return tuple(seen)

    def item(self, key: str) -> tuple[ChecklistSpec, ItemSpec] | None:
        for checklist in self.checklists.values():
            if key in checklist.items:
                return checklist, checklist.items[key]
        return None
