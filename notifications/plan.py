"""Which notices a case type sends: its definition's ``notifications:`` section, parsed and
checked, merged over the engine's defaults.

A section looks like this (every key optional)::

    notifications:
      subject: {label: 企业, field: enterprise_name, kind: organisation}   # who/what a case is about
      events:                         # the type's own notices; templates in templates/<type>/
        granted: {label: 拨付通知, urgent: false}
      triggers:                       # trigger → notices, in order (``create``: registration)
        assign: [assigned]
        close: [{event: closed, closed: true}]           # only when it arrives in a closed state
        fail_acceptance: [{event: item_request, dest: clearing}]   # only on that branch
        "*": []                       # triggers without an entry of their own (default: closing)
      signals:                        # a rule effect's signal → notices
        some_signal: [raised]
      recipients:                     # event → who, in order (each user once)
        assigned: [{role: handler, unit: lead_unit}, {role: handler, unit: co_unit}]
        returned: [{role: dispatcher}]
        closed: [{role: handler, unit: involved}, creator]

A recipient is a role across all units (``{role: convenor}``), a role in a unit related to the
case (``unit``: a relation of the definition, or ``responsible`` — the unit the running clock
is on —, ``executors`` of the open items, ``item_decider``, ``item_executor``, ``involved`` —
every unit the case concerns), a role in a fixed department (``{role: handler, department:
ecology}``), or ``creator`` (the user who registered the case).

The engine's defaults need no section: the ladder's steps go to the responsible unit, item
declarations and reports to the unit that rules on them and the rulings back to the executor,
and a change that brings a case into a closed state (``StateSpec.is_closed``) to the units
involved and the creator. Nothing else is sent unless the type says so. A section's ``triggers``,
``signals`` and ``recipients`` entries replace the default of the same key.

``check_definition`` refuses a section naming an unknown trigger, state, event, template,
relation, role or department (``DefinitionError`` with the file and the dotted key); rendering
is ``notifications.render``'s business, delivery ``notifications.outbox``'s.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifications.events import EVENTS, EventSpec
from workflow.errors import DefinitionError
from workflow.ladder import TRIGGER_OF
from workflow.org import ROLES, Organisation
from workflow.rules import relation_names
from workflow.spec import WorkflowSpec

ANY_TRIGGER = "*"
ITEM_TRIGGERS = ("complete_item", "waive_item", "approve_waiver", "reject_waiver", "confirm_item", "reject_item")
"""The engine's own triggers on a checklist item (``cases.service``)."""
ENGINE_TRIGGERS = ("create", *TRIGGER_OF.values(), *ITEM_TRIGGERS)
"""Triggers the engine fires besides a definition's: registration, the ladder's steps, items."""
ENGINE_RELATIONS = ("responsible", "executors", "item_decider", "item_executor", "involved")
"""Relations the engine resolves itself, besides a definition's unit relations."""
SUBJECT_KINDS = ("organisation", "place")


@dataclass(frozen=True)
class Recipient:
    """One recipient rule."""

    role: str | None = None
    """Users with this role; None only for ``creator``."""
    unit: str | None = None
    """A relation of the case (or one of ``ENGINE_RELATIONS``); None: across all units."""
    department: str | None = None
    """A fixed department code."""
    creator: bool = False


@dataclass(frozen=True)
class Notice:
    """One notice a trigger (or a signal) sends."""

    event: str
    dest: str | None = None
    """Only when the change brings the case into this state (one branch of a trigger)."""
    closed: bool = False
    """Only when the change brings the case into a state flagged closed."""
    confirming: bool = False
    """Only when the reported item awaits its issuing department's confirmation."""


@dataclass(frozen=True)
class Subject:
    label: str = ""
    """Who or what a case is about, as notices name it (企业, 场所); empty: not shown."""
    field: str | None = None
    """The case field holding its name."""
    kind: str = "organisation"
    """``organisation`` (shown with its credit code) or ``place`` (shown with its location)."""


@dataclass(frozen=True)
class NotificationPlan:
    type: str
    events: Mapping[str, EventSpec]
    """Every notice this type may send: the shared events and its own."""
    own_events: tuple[str, ...]
    """The type's own events (templates only under ``templates/<type>/``)."""
    on: Mapping[str, tuple[Notice, ...]]
    signals: Mapping[str, tuple[Notice, ...]]
    recipients: Mapping[str, tuple[Recipient, ...]]
    subject: Subject = field(default_factory=Subject)

    def notices(self, trigger: str) -> tuple[Notice, ...]:
        return self.on.get(trigger, self.on.get(ANY_TRIGGER, ()))

    def used_events(self) -> list[str]:
        seen: dict[str, None] = {}
        for notices in (*self.on.values(), *self.signals.values()):
            for n in notices:
                seen.setdefault(n.event, None)
        return list(seen)


_R = Recipient
DEFAULT_ON: dict[str, tuple[Notice, ...]] = {
    "warn": (Notice("warned"),),
    "mark_overdue": (Notice("overdue"),),
    "supervise": (Notice("supervised"),),
    "list": (Notice("listed"),),
    "complete_item": (Notice("item_decision_requested", confirming=True),),
    "waive_item": (Notice("item_decision_requested"),),
    **{t: (Notice("item_decided"),) for t in ITEM_TRIGGERS[2:]},
    ANY_TRIGGER: (Notice("closed", closed=True),),
}
DEFAULT_RECIPIENTS: dict[str, tuple[Recipient, ...]] = {
    "warned": (_R("handler", "responsible"),),
    "overdue": (_R("handler", "responsible"), _R("unit_head", "responsible")),
    "supervised": (_R("unit_head", "responsible"), _R("dispatcher")),
    "listed": (_R("convenor"),),
    "raised": (_R("convenor"), _R("unit_head", "lead_unit")),
    "item_request": (_R("handler", "executors"),),
    "item_decision_requested": (_R("handler", "item_decider"),),
    "item_decided": (_R("handler", "item_executor"),),
    "closed": (_R("handler", "involved"), _R(creator=True)),
}

_CACHE: dict[tuple[str, str, int], NotificationPlan] = {}


def plan_of(spec: WorkflowSpec) -> NotificationPlan:
    """The parsed plan of ``spec`` (cached per definition version). Raises ``DefinitionError``
    on a malformed section; ``check_definition`` checks the names it uses as well."""
    key = (spec.type, spec.version, id(spec.sections.get("notifications")))
    plan = _CACHE.get(key)
    if plan is None:
        plan = _CACHE[key] = _parse(spec)
    return plan


def _err(spec: WorkflowSpec, key: str, reason: str) -> DefinitionError:
    return DefinitionError(spec.source_file, f"notifications.{key}" if key else "notifications", reason)


def _mapping(spec: WorkflowSpec, value: Any, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _err(spec, key, f"应为映射（键: 值），而不是 {type(value).__name__}")
    return value


def _list(spec: WorkflowSpec, value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    return value


def _notice(spec: WorkflowSpec, raw: Any, key: str) -> Notice:
    if isinstance(raw, str):
        return Notice(raw)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("event"), str):
        raise _err(spec, key, "通知应写作事件名，或 {event: 事件名, dest: 状态, closed: true}")
    unknown = set(raw) - {"event", "dest", "closed", "confirming"}
    if unknown:
        raise _err(spec, f"{key}.{sorted(unknown)[0]}", "不认识的键；可用：event、dest、closed、confirming")
    dest = raw.get("dest")
    if dest is not None and dest not in spec.states:
        raise _err(spec, f"{key}.dest", f"没有状态“{dest}”；可选：{'、'.join(spec.states)}")
    return Notice(str(raw["event"]), dest, bool(raw.get("closed")), bool(raw.get("confirming")))


def _recipient(spec: WorkflowSpec, raw: Any, key: str) -> Recipient:
    if raw == "creator":
        return Recipient(creator=True)
    if not isinstance(raw, Mapping):
        raise _err(spec, key, "收件人应写作 {role: 角色, unit: 单位关系} / {role: 角色, department: 部门} / creator")
    unknown = set(raw) - {"role", "unit", "department"}
    if unknown:
        raise _err(spec, f"{key}.{sorted(unknown)[0]}", "不认识的键；可用：role、unit、department，或写 creator")
    role = raw.get("role")
    if not isinstance(role, str) or not role.isidentifier():
        raise _err(spec, f"{key}.role", f"未知角色“{role}”；可选：{'、'.join(ROLES)}，或 departments.yaml 中增加的角色")
    unit, department = raw.get("unit"), raw.get("department")
    if unit is not None and department is not None:
        raise _err(spec, key, "unit 与 department 只能写一个")
    known = (*relation_names(spec), *ENGINE_RELATIONS)
    if unit is not None and unit not in known:
        raise _err(spec, f"{key}.unit", f"未知单位关系“{unit}”；可选：{'、'.join(known)}")
    return Recipient(str(role), unit, str(department) if department is not None else None)


def _parse(spec: WorkflowSpec) -> NotificationPlan:
    section = _mapping(spec, spec.sections.get("notifications"), "")
    unknown = set(section) - {"subject", "events", "triggers", "signals", "recipients"}
    if unknown:
        raise _err(spec, sorted(unknown)[0], "不认识的键；可用：subject、events、triggers、signals、recipients")
    own: dict[str, EventSpec] = {}
    for name, raw in _mapping(spec, section.get("events"), "events").items():
        raw = _mapping(spec, raw, f"events.{name}")
        if name in EVENTS:
            raise _err(spec, f"events.{name}", f"“{name}”是共用事件，不能重新声明；请换一个名字")
        if not isinstance(raw.get("label"), str) or not raw["label"].strip():
            raise _err(spec, f"events.{name}.label", "每个自有通知都要有中文名称（label）")
        own[str(name)] = EventSpec(str(name), raw["label"].strip(), bool(raw.get("urgent", False)))
    on = dict(DEFAULT_ON)
    for trigger, raw in _mapping(spec, section.get("triggers"), "triggers").items():
        on[str(trigger)] = tuple(_notice(spec, n, f"triggers.{trigger}[{i}]") for i, n in enumerate(_list(spec, raw, "")))
    signals = {
        str(name): tuple(_notice(spec, n, f"signals.{name}[{i}]") for i, n in enumerate(_list(spec, raw, "")))
        for name, raw in _mapping(spec, section.get("signals"), "signals").items()
    }
    recipients = dict(DEFAULT_RECIPIENTS)
    for event, raw in _mapping(spec, section.get("recipients"), "recipients").items():
        key = f"recipients.{event}"
        recipients[str(event)] = tuple(_recipient(spec, r, f"{key}[{i}]") for i, r in enumerate(_list(spec, raw, key)))
    subject_raw = _mapping(spec, section.get("subject"), "subject")
    kind = subject_raw.get("kind", "organisation")
    if kind not in SUBJECT_KINDS:
        raise _err(spec, "subject.kind", f"应为 {' 或 '.join(SUBJECT_KINDS)}，而不是 {kind!r}")
    subject_field = subject_raw.get("field")
    if subject_field is not None and subject_field not in spec.fields:
        raise _err(spec, "subject.field", f"没有字段“{subject_field}”；可选：{'、'.join(spec.fields)}")
    subject = Subject(str(subject_raw.get("label") or ""), subject_field, kind)
    return NotificationPlan(spec.type, {**EVENTS, **own}, tuple(own), on, signals, recipients, subject)


def template_roots(override_dirs: Iterable[Path | None] = ()) -> list[Path]:
    """Where templates are looked for, most specific first: each override root, then the
    shipped ``config/templates``."""
    from notifications.render import TYPE_DIR

    return [Path(d) for d in override_dirs if d is not None] + [TYPE_DIR]


def template_exists(event: str, case_type: str, roots: Sequence[Path]) -> bool:
    from notifications.render import DEFAULT_DIR

    if any((root / case_type / f"{event}.j2").is_file() for root in roots):
        return True
    return event in EVENTS and (
        (DEFAULT_DIR / f"{event}.j2").is_file() or any((root / f"{event}.j2").is_file() for root in roots)
    )


def check_definition(
    spec: WorkflowSpec, org: Organisation | None = None, template_dirs: Sequence[Path | None] = ()
) -> NotificationPlan:
    """Whether this installation can send ``spec``'s notices: the section parses, every trigger,
    signal, state, event, relation, role and department it names exists, every notice sent has
    a template (under ``template_dirs`` — e.g. ``CASEFLOW_CONFIG_DIR/templates`` — or shipped)
    and someone to receive it. Raises ``DefinitionError(file, key, reason)``."""
    plan = plan_of(spec)
    section = _mapping(spec, spec.sections.get("notifications"), "")
    known_triggers = (*spec.triggers, *ENGINE_TRIGGERS, ANY_TRIGGER)
    for trigger in _mapping(spec, section.get("triggers"), "triggers"):
        if trigger not in known_triggers:
            allowed = "、".join((*spec.triggers, *ENGINE_TRIGGERS))
            raise _err(spec, f"triggers.{trigger}", f'本定义没有触发动作“{trigger}”；可选：{allowed}，或 "*"（其余动作）')
    roots = template_roots(template_dirs)
    declared = [(f"triggers.{t}", plan.on.get(t, ())) for t in _mapping(spec, section.get("triggers"), "triggers")]
    declared += [(f"signals.{s}", plan.signals[s]) for s in _mapping(spec, section.get("signals"), "signals")]
    for key, notices in declared:
        for i, notice in enumerate(notices):
            where = f"{key}[{i}]"
            if notice.event not in plan.events:
                raise _err(
                    spec,
                    where,
                    f"未知通知“{notice.event}”；可选：{'、'.join(plan.events)}（自有通知请在 events 下声明）",
                )
            if not template_exists(notice.event, spec.type, roots):
                raise _err(spec, where, f"通知“{notice.event}”没有模板：应有 templates/{spec.type}/{notice.event}.j2")
            if not plan.recipients.get(notice.event):
                raise _err(spec, where, f"通知“{notice.event}”没有收件人：请在 recipients.{notice.event} 下写明发给谁")
    for event in _mapping(spec, section.get("recipients"), "recipients"):
        if event not in plan.events:
            raise _err(spec, f"recipients.{event}", f"未知通知“{event}”；可选：{'、'.join(plan.events)}")
    for event, rules in plan.recipients.items():
        for i, rule in enumerate(rules):
            known_roles = org.roles if org is not None else ROLES
            if rule.role is not None and rule.role not in known_roles:
                raise _err(spec, f"recipients.{event}[{i}].role", f"未知角色“{rule.role}”；可选：{'、'.join(known_roles)}")
            if rule.department is not None and org is not None and org.find(rule.department) is None:
                raise _err(spec, f"recipients.{event}[{i}].department", f"未知部门“{rule.department}”")
    for name in plan.own_events:
        if not template_exists(name, spec.type, roots):
            raise _err(spec, f"events.{name}", f"自有通知“{name}”没有模板：应有 templates/{spec.type}/{name}.j2")
    return plan
