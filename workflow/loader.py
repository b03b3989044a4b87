"""Loading workflow definitions: YAML → frozen ``WorkflowSpec``, validated before use.

Every fault is a ``DefinitionError`` naming the file and the dotted key: unknown or unreachable
states, dead ends, unknown guards, conditions, effects, roles, unit relations, departments and
fields, bad durations. Building the state machine is ``workflow.rulebook``'s job.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workflow import loader_rules, rules
from workflow.durations import Duration
from workflow.errors import DefinitionError
from workflow.org import SYSTEM_ROLE, Organisation
from workflow.reader import Reader as _Reader
from workflow.spec import (
    FIELD_TYPES,
    ActorRule,
    ChecklistSpec,
    ClockSpec,
    CreateSpec,
    FieldSpec,
    ItemSpec,
    LadderStep,
    ObligationDue,
    ObligationSpec,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from workflow.yamlfile import load_text

LADDER_LEVELS = ("warned", "overdue", "supervised", "listed")
EVIDENCE_MODES = ("none", "optional", "required")
CONSUMER_SECTIONS = ("ledger", "notifications", "bulletin")
"""Top-level keys kept raw in ``WorkflowSpec.sections`` for the package that owns them; each is
validated by its consumer's ``check_definition`` (``caseflow workflow check`` runs them all)."""
_TOP_KEYS = {*CONSUMER_SECTIONS, "title_field", "description", "duplicate_key", "limits", "vocabulary", "relations",
    "type", "name", "number_prefix", "initial", "create", "fields", "counters", "states",
    "transitions", "checklists", "ladder", "violation_departments", "default_review_department", "obligations",
    "opinions",
}  # fmt: skip


def definition_version(data: Any) -> str:
    """Content hash of a parsed definition: formatting and comments do not change it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_workflow_text(text: str, file: str, org: Organisation) -> WorkflowSpec:
    """Parse and validate one definition given as text (a file, or a stored pinned version)."""
    data = load_text(text, file)
    r = _Reader(file, org)
    top = r.mapping(data, "(document)")
    r.only_keys(top, _TOP_KEYS, None)
    words = loader_rules.vocabulary(r, top.get("vocabulary"))
    counters = r.names(top.get("counters"), "counters")
    fields = _fields(r, r.mapping(top.get("fields"), "fields"), counters)
    relations = loader_rules.relations(r, top.get("relations"), fields)
    r.variables = loader_rules.expression_variables(fields, counters)
    title_field, description, duplicate_key = loader_rules.meta(r, top, fields)
    states = _states(r, r.mapping(top.get("states"), "states"), fields)
    checklists = _checklists(r, top.get("checklists") or {}, states, fields)
    violation_departments = {
        str(k): str(v) for k, v in r.mapping(top.get("violation_departments") or {}, "violation_departments").items()
    }
    violation_choices = fields["violations"].choices if "violations" in fields else ()
    for name, code in violation_departments.items():
        r.known(
            [name], violation_choices, f"violation_departments.{name}", "violation type (fields.violations.choices)"
        )
        r.known([code], org.codes(), f"violation_departments.{name}", "department")
    review = top.get("default_review_department")
    if review is not None:
        r.known([review], org.codes(), "default_review_department", "department")
    opinions = _opinions(r, top.get("opinions") or {})
    transitions = tuple(
        _transition(r, raw, f"transitions[{i}]", states, fields, counters, opinions, words, checklists)
        for i, raw in enumerate(top.get("transitions") or [])
    )
    if not transitions:
        r.fail("transitions", "a workflow needs at least one transition")
    initial = r.text(top, "initial", "(document)")
    r.known([initial], states, "initial", "state")
    spec = WorkflowSpec(
        type=r.text(top, "type", "(document)"),
        name=r.text(top, "name", "(document)"),
        number_prefix=r.text(top, "number_prefix", "(document)"),
        initial=initial,
        version=definition_version(data),
        source_file=file,
        fields=fields,
        create=_create(r, r.mapping(top.get("create"), "create"), fields),
        states=states,
        transitions=transitions,
        checklists=checklists,
        counters=counters,
        ladder=_ladder(r, top.get("ladder") or {}),
        violation_departments=violation_departments,
        default_review_department=review,
        obligations=_obligations(r, top.get("obligations") or {}, states, checklists),
        opinions=opinions,
        computed_order=loader_rules.computed_order(r, fields),
        title_field=title_field,
        description=description,
        duplicate_key=duplicate_key,
        limits=loader_rules.limits(r, top.get("limits")),
        vocabulary=words.version,
        relations=relations,
        sections={name: top[name] for name in CONSUMER_SECTIONS if top.get(name) is not None},
        source_text=text,
    )
    _check_graph(r, spec)
    _check_obligations(r, spec)
    return spec


def load_workflow(path: Path, org: Organisation) -> WorkflowSpec:
    return load_workflow_text(path.read_text(encoding="utf-8"), str(path), org)


def load_workflows(directory: Path, org: Organisation) -> dict[str, WorkflowSpec]:
    """Every ``*.yaml`` in ``directory``, keyed by workflow type; two files of one type fail."""
    return load_workflow_files(sorted(directory.glob("*.yaml")), org)


def load_workflow_files(paths: Iterable[Path], org: Organisation) -> dict[str, WorkflowSpec]:
    """The definition files ``paths``, keyed by workflow type; two files of one type fail."""
    specs: dict[str, WorkflowSpec] = {}
    for path in paths:
        spec = load_workflow(path, org)
        if spec.type in specs:
            raise DefinitionError(str(path), "type", f"{spec.type!r} is also defined in {specs[spec.type].source_file}")
        specs[spec.type] = spec
    return specs


def _fields(r: _Reader, raw: Mapping[str, Any], counters: tuple[str, ...]) -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = {}
    allowed = {"label", "type", "choices", "kinds", "max_length", "min", "max", "default", "compute", "places"}
    for name, value in raw.items():
        key = f"fields.{name}"
        data = r.mapping(value, key)
        r.only_keys(data, allowed, key)
        kind = data.get("type")
        if kind not in FIELD_TYPES:
            r.fail(f"{key}.type", f"unknown field type {kind!r}; allowed: {', '.join(FIELD_TYPES)}")
        choices, choice_labels = _choices(r, data.get("choices"), f"{key}.choices")
        if kind in ("choice", "choice_list") and not choices:
            r.fail(f"{key}.choices", "a choice field needs choices")
        kinds = r.names(data.get("kinds"), f"{key}.kinds")
        r.known(kinds, ("unit", "street", "town", "park"), f"{key}.kinds", "department kind")
        spec = FieldSpec(
            name=name,
            label=r.text(data, "label", key),
            type=kind,
            choices=choices,
            choice_labels=choice_labels,
            kinds=kinds,
            max_length=r.integer(data, "max_length", key),
            min=r.integer(data, "min", key),
            max=r.integer(data, "max", key),
        )
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            r.fail(f"{key}.min", f"min {spec.min} is greater than max {spec.max}")
        if spec.max_length is not None and spec.max_length < 1:
            r.fail(f"{key}.max_length", "max_length must be at least 1")
        if data.get("default") is not None:
            from workflow.fields import normalise  # fields imports spec; avoid a cycle at import

            try:
                default = normalise(spec, data["default"], r.org)
            except Exception as exc:  # noqa: BLE001 - any fault of a default is a definition fault
                r.fail(f"{key}.default", f"invalid default: {exc}")
            spec = FieldSpec(**{**spec.__dict__, "default": default})
        fields[name] = spec
    readable = loader_rules.expression_variables(fields, counters)
    for name, spec in fields.items():
        others = {k: v for k, v in readable.items() if k != name}
        fields[name] = loader_rules.computed(r, spec, raw[name], f"fields.{name}", others)
    return fields


def _choices(r: _Reader, raw: Any, key: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """``[a, b]`` (values people read as they are) or ``{a: 标签, …}`` (values with labels)."""
    if isinstance(raw, dict):
        labels = {}
        for value, label in raw.items():
            if not isinstance(value, str) or not isinstance(label, str) or not label.strip():
                r.fail(f"{key}.{value}", "每个选项写作 值: 中文名称，如 simple: 简单")
            labels[value] = label
        return tuple(labels), labels
    return r.names(raw, key), {}


def _clock(r: _Reader, raw: Any, key: str, fields: Mapping[str, FieldSpec]) -> ClockSpec:
    data = r.mapping(raw, key)
    allowed = {
        "duration",
        "by_field",
        "durations",
        "field",
        "default",
        "max",
        "from",
        "keeps_running",
        "responsible",
        "on_expiry",
    }
    r.only_keys(data, allowed, key)
    by_field, deadline_field = data.get("by_field"), data.get("field")
    expr = None
    if isinstance(data.get("duration"), dict):
        computed = r.mapping(data["duration"], f"{key}.duration")
        r.only_keys(computed, {"expr"}, f"{key}.duration")
        expr = loader_rules.expression(r, computed.get("expr"), f"{key}.duration.expr", "string")
    kinds = [k for k in ("duration", "by_field", "field") if data.get(k) is not None]
    if len(kinds) != 1:
        r.fail(key, "a clock needs exactly one of duration, by_field (with durations) or field")
    durations: dict[str, Duration] = {}
    if by_field is not None:
        r.known([by_field], fields, f"{key}.by_field", "field")
        raw_durations = r.mapping(data.get("durations"), f"{key}.durations")
        r.known(raw_durations, fields[by_field].choices, f"{key}.durations", f"value of {by_field}")
        missing = set(fields[by_field].choices) - set(raw_durations)
        if missing:
            r.fail(f"{key}.durations", f"no duration for {', '.join(sorted(missing))}")
        durations = {k: r.duration(v, f"{key}.durations.{k}") for k, v in raw_durations.items()}
    if deadline_field is not None:
        r.known([deadline_field], fields, f"{key}.field", "field")
        if fields[deadline_field].type != "date":
            r.fail(f"{key}.field", f"{deadline_field!r} is not a date field")
    anchor = data.get("from", "entry")
    r.known([anchor], ("entry", "assignment"), f"{key}.from", "clock anchor")
    responsible = data.get("responsible", "office")
    r.known([responsible], ("office", *r.relations), f"{key}.responsible", "responsible party")
    return ClockSpec(
        duration=r.duration(data["duration"], f"{key}.duration") if "duration" in data and expr is None else None,
        duration_expr=expr,
        by_field=by_field,
        durations=durations,
        deadline_field=deadline_field,
        default=r.duration(data["default"], f"{key}.default") if "default" in data else None,
        max=_calendar_days(r, data["max"], f"{key}.max") if "max" in data else None,
        anchor=anchor,
        keeps_running=data.get("keeps_running"),
        responsible=responsible,
        on_expiry=data.get("on_expiry", "ladder"),
    )


def _calendar_days(r: _Reader, raw: Any, key: str) -> Duration:
    """The longest deadline a date field may hold, in calendar days (``90d``)."""
    found = r.duration(raw, key)
    if found.unit != "d":
        r.fail(key, f"最长期限须以天计（如 90d），而不是 {found}")
    return found


def _states(r: _Reader, raw: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> dict[str, StateSpec]:
    states: dict[str, StateSpec] = {}
    for name, value in raw.items():
        key = f"states.{name}"
        data = r.mapping(value, key)
        r.only_keys(data, {"label", "terminal", "closed", "clock"}, key)
        terminal, closed = _flag(r, data, "terminal", key, False), _flag(r, data, "closed", key, False)
        # vocabulary 1 predates the flag: definitions stored then name their closed state `closed`
        closed = closed or (r.vocabulary == 1 and name == "closed")
        clock = _clock(r, data["clock"], f"{key}.clock", fields) if data.get("clock") else None
        if terminal and clock is not None:
            r.fail(f"{key}.clock", "a terminal state has no clock")
        states[name] = StateSpec(name, r.text(data, "label", key), terminal, clock, closed)
    if not states:
        r.fail("states", "a workflow needs states")
    for name, state in states.items():
        if state.clock and state.clock.keeps_running:
            r.known([state.clock.keeps_running], states, f"states.{name}.clock.keeps_running", "state")
    return states


def _actors(r: _Reader, raw: Any, key: str) -> tuple[ActorRule, ...]:
    if not isinstance(raw, list) or not raw:
        r.fail(key, "expected a non-empty list of {role, unit?, department?}")
    result = []
    for i, item in enumerate(raw):
        data = r.mapping(item, f"{key}[{i}]")
        r.only_keys(data, {"role", "unit", "department"}, f"{key}[{i}]")
        role = r.one(data.get("role"), (*r.org.roles, SYSTEM_ROLE), f"{key}[{i}].role", "role")
        unit, department = data.get("unit"), data.get("department")
        if unit is not None:
            r.known([unit], r.relations, f"{key}[{i}].unit", "unit relation")
        if department is not None:
            r.known([department], r.org.codes(), f"{key}[{i}].department", "department")
        result.append(ActorRule(role, unit, department))
    return tuple(result)


def _create(r: _Reader, data: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> CreateSpec:
    required = r.names(data.get("required"), "create.required")
    optional = r.names(data.get("optional"), "create.optional")
    r.known(required, fields, "create.required", "field")
    r.known(optional, fields, "create.optional", "field")
    computed = [n for n in (*required, *optional) if fields[n].compute is not None]
    if computed:
        r.fail("create", f"计算字段“{computed[0]}”由系统计算，不能在登记时填写")
    checks = loader_rules.checks(r, data.get("guards"), "create.guards")
    return CreateSpec(_actors(r, data.get("actors"), "create.actors"), required, optional, checks)


def _transition(
    r: _Reader,
    raw: Any,
    key: str,
    states: Mapping[str, StateSpec],
    fields: Mapping[str, FieldSpec],
    counters: tuple[str, ...],
    opinions: Mapping[str, str],
    words: rules.Vocabulary,
    checklists: Mapping[str, ChecklistSpec],
) -> TransitionSpec:
    data = r.mapping(raw, key)
    allowed = {"trigger", "label", "source", "dest", "internal", "actors", "required", "optional", "store",
               "allowed_values", "when", "guards", "increment", "effects", "evidence", "cites"}  # fmt: skip
    r.only_keys(data, allowed, key)
    trigger = r.text(data, "trigger", key)
    if not trigger.isidentifier() or trigger.startswith("_"):
        r.fail(f"{key}.trigger", f"{trigger!r} is not a valid trigger name")
    sources = r.names(data.get("source"), f"{key}.source")
    if not sources:
        r.fail(f"{key}.source", "missing")
    r.known(sources, states, f"{key}.source", "state")
    for source in sources:
        if states[source].terminal:
            r.fail(f"{key}.source", f"{source!r} is terminal: nothing may leave it")
    internal = data.get("internal", False)
    dest = None if internal else data.get("dest")
    if not internal:
        dest = r.one(dest, states, f"{key}.dest", "state")
    required = r.names(data.get("required"), f"{key}.required")
    optional = r.names(data.get("optional"), f"{key}.optional")
    store = r.names(data.get("store"), f"{key}.store")
    r.known(required, fields, f"{key}.required", "field")
    r.known(optional, fields, f"{key}.optional", "field")
    r.known(store, required + optional, f"{key}.store", "input of this trigger")
    computed = [n for n in required + optional if fields[n].compute is not None]
    if computed:
        r.fail(f"{key}.required", f"计算字段“{computed[0]}”由系统计算，不能作为操作的输入")
    values = {
        str(k): r.names(v, f"{key}.allowed_values.{k}")
        for k, v in r.mapping(data.get("allowed_values") or {}, f"{key}.allowed_values").items()
    }
    for name, choices in values.items():
        r.known([name], required + optional, f"{key}.allowed_values", "input of this trigger")
        r.known(choices, fields[name].choices, f"{key}.allowed_values.{name}", f"choice of {name}")
    increment = r.names(data.get("increment"), f"{key}.increment")
    r.known(increment, counters, f"{key}.increment", "counter")
    evidence = data.get("evidence", "none")
    r.known([evidence], EVIDENCE_MODES, f"{key}.evidence", "evidence mode")
    cites = r.names(data.get("cites"), f"{key}.cites")
    for name in cites:
        if name not in opinions:
            known = "、".join(opinions) or "（未定义 opinions）"
            r.fail(f"{key}.cites", f"引用的意见“{name}”未在 opinions 中定义；已定义：{known}")
    when, when_expr = loader_rules.named_or_conditions(r, data.get("when"), f"{key}.when", words.conditions)
    guards, checks = loader_rules.named_or_checks(r, data.get("guards"), f"{key}.guards", words.guards, "guard")
    return TransitionSpec(
        trigger=trigger,
        sources=sources,
        dest=dest,
        label=r.text(data, "label", key),
        actors=_actors(r, data.get("actors"), f"{key}.actors"),
        required=required,
        optional=optional,
        store=store,
        allowed_values=values,
        when=when,
        guards=guards,
        increment=increment,
        effects=loader_rules.effects(r, data.get("effects"), f"{key}.effects", words, checklists),
        when_expr=when_expr,
        checks=checks,
        evidence=evidence,
        cites=cites,
    )


def _opinions(r: _Reader, raw: Any) -> dict[str, str]:
    """Case flags that hold a unit's opinion → their Chinese labels (``findings: 属地核查意见``)."""
    result: dict[str, str] = {}
    for name, label in r.mapping(raw, "opinions").items():
        if not str(name).isidentifier():
            r.fail(f"opinions.{name}", "意见名称须为标识符（字母、数字、下划线），即记录该意见的案件标记名")
        if not isinstance(label, str) or not label.strip():
            r.fail(f"opinions.{name}", "须给出意见的中文名称，如“属地核查意见”")
        result[str(name)] = label
    return result


def _checklists(
    r: _Reader, raw: Any, states: Mapping[str, StateSpec], fields: Mapping[str, FieldSpec]
) -> dict[str, ChecklistSpec]:
    result: dict[str, ChecklistSpec] = {}
    seen_items: dict[str, str] = {}
    for name, value in r.mapping(raw, "checklists").items():
        key = f"checklists.{name}"
        if not str(name).isidentifier():
            r.fail(key, "清单名须为标识符（字母、数字、下划线）")
        data = r.mapping(value, key)
        r.only_keys(data, {"label", "state", "evidence", "ordered", "chosen_by", "items", "waivable",
                           "waiver_approvers", "waiver_due"}, key)  # fmt: skip
        waivable_default, ordered = _flag(r, data, "waivable", key, False), bool(data.get("ordered", False))
        if waivable_default and ordered:
            r.fail(f"{key}.waivable", "须按顺序办理的事项（如验收签字）不能声明不适用")
        state = r.one(data.get("state"), states, f"{key}.state", "state")
        evidence = data.get("evidence", "required")
        r.known([evidence], EVIDENCE_MODES, f"{key}.evidence", "evidence mode")
        chosen_by = data.get("chosen_by")
        items: dict[str, ItemSpec] = {}
        for item_key, item_value in r.mapping(data.get("items"), f"{key}.items").items():
            ikey = f"{key}.items.{item_key}"
            if item_key in seen_items:
                r.fail(ikey, f"item key also used in checklist {seen_items[item_key]!r}")
            seen_items[item_key] = name
            idata = r.mapping(item_value, ikey)
            r.only_keys(idata, {"label", "actors", "required", "enabled_by", "due", "waivable", "confirmed_by",
                                "confirm_due"}, ikey)  # fmt: skip
            waivable = _flag(r, idata, "waivable", ikey, waivable_default)
            if waivable and ordered:
                r.fail(f"{ikey}.waivable", "须按顺序办理的事项（如验收签字）不能声明不适用")
            confirmed_by, confirm_due = _confirmation(r, idata, ikey)
            required = r.names(idata.get("required"), f"{ikey}.required")
            r.known(required, fields, f"{ikey}.required", "field")
            enabled_by = idata.get("enabled_by")
            if enabled_by is not None:
                r.known([enabled_by], fields, f"{ikey}.enabled_by", "field")
                if fields[enabled_by].type != "yes_no":
                    r.fail(f"{ikey}.enabled_by", f"{enabled_by!r} is not a yes_no field")
            items[item_key] = ItemSpec(
                item_key,
                r.text(idata, "label", ikey),
                _actors(r, idata.get("actors"), f"{ikey}.actors"),
                required,
                enabled_by,
                r.duration(idata["due"], f"{ikey}.due") if idata.get("due") is not None else None,
                waivable,
                confirmed_by,
                confirm_due,
            )
        if chosen_by is not None:
            r.known([chosen_by], fields, f"{key}.chosen_by", "field")
            r.known(fields[chosen_by].choices, items, f"fields.{chosen_by}.choices", f"item of checklist {name}")
        approvers, waiver_due = _waiver(r, data, key, any(i.waivable for i in items.values()))
        result[name] = ChecklistSpec(
            name, r.text(data, "label", key), state, items, evidence, ordered, chosen_by, approvers, waiver_due
        )
    return result


def _flag(r: _Reader, data: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        r.fail(f"{key}.{name}", f"应为 true 或 false，而不是 {value!r}")
    return value


def _waiver(r: _Reader, data: Mapping[str, Any], key: str, used: bool) -> tuple[tuple[ActorRule, ...], Duration | None]:
    """Who approves a 不适用 declaration and how long they have (default: the dispatchers, 1wd)."""
    if not used:
        for name in ("waiver_approvers", "waiver_due"):
            if name in data:
                r.fail(f"{key}.{name}", "本清单没有可声明不适用的事项（waivable: true），此项无意义")
        return (), None
    raw = data.get("waiver_approvers", [{"role": "dispatcher"}])
    approvers = _actors(r, raw, f"{key}.waiver_approvers")
    due = r.duration(data.get("waiver_due", "1wd"), f"{key}.waiver_due")
    return approvers, due


def _confirmation(r: _Reader, data: Mapping[str, Any], key: str) -> tuple[tuple[ActorRule, ...], Duration | None]:
    """Who confirms an item its executor reports done (the permit's department), and by when."""
    if "confirmed_by" not in data:
        if "confirm_due" in data:
            r.fail(f"{key}.confirm_due", "只有需确认的事项（confirmed_by）才有确认期限")
        return (), None
    raw = data["confirmed_by"]
    if not isinstance(raw, list) or not raw:
        r.fail(f"{key}.confirmed_by", "应为确认单位的列表，如 [{role: handler, department: market_regulation}]")
    rules_ = _actors(r, raw, f"{key}.confirmed_by")
    for i, rule in enumerate(rules_):
        if rule.department is None and rule.unit is None:
            r.fail(f"{key}.confirmed_by[{i}]", "确认单位须指明 department（单位代码）或 unit（与案件的关系）")
    if "confirm_due" not in data:
        r.fail(f"{key}.confirm_due", "需确认的事项须给出确认期限，如 5wd")
    return rules_, r.duration(data["confirm_due"], f"{key}.confirm_due")


def _ladder(r: _Reader, raw: Any) -> tuple[LadderStep, ...]:
    steps = []
    data = r.mapping(raw, "ladder")
    r.known(data, LADDER_LEVELS, "ladder", "ladder level")
    for level in LADDER_LEVELS:
        if level not in data:
            continue
        step = r.mapping(data[level], f"ladder.{level}")
        r.only_keys(step, {"at", "after_due"}, f"ladder.{level}")
        if ("at" in step) == ("after_due" in step):
            r.fail(f"ladder.{level}", "give exactly one of at (due_day_start|due_at) or after_due (a duration)")
        if "at" in step:
            r.known([step["at"]], ("due_day_start", "due_at"), f"ladder.{level}.at", "ladder moment")
        after = r.duration(step["after_due"], f"ladder.{level}.after_due") if "after_due" in step else None
        steps.append(LadderStep(level, step.get("at"), after))
    return tuple(steps)


def _check_graph(r: _Reader, spec: WorkflowSpec) -> None:
    """Every state reachable from the initial one; every non-terminal state has a way out."""
    reachable, frontier = {spec.initial}, [spec.initial]
    while frontier:
        state = frontier.pop()
        for t in spec.transitions:
            if state in t.sources and t.dest is not None and t.dest not in reachable:
                reachable.add(t.dest)
                frontier.append(t.dest)
    for name in spec.states:
        if name not in reachable:
            r.fail(f"states.{name}", f"unreachable from the initial state {spec.initial!r}")
    for name, state_spec in spec.states.items():
        leaves = any(name in t.sources and t.dest not in (None, name) for t in spec.transitions)
        if not state_spec.terminal and not leaves:
            r.fail(f"states.{name}", "dead end: not terminal, and no transition leaves it")
    for name, state_spec in spec.states.items():
        expiry = state_spec.clock.on_expiry if state_spec.clock else "ladder"
        if expiry != "ladder" and not spec.branches(expiry, name):
            r.fail(f"states.{name}.clock.on_expiry", f"{expiry!r} is neither 'ladder' nor a trigger out of {name!r}")


OBLIGATION_UNTIL = ("co_feedback",)
OBLIGATION_MEASURES = ("accept", "complete")
"""What an obligation may count as in the figures (``ObligationSpec.measure``)."""
"""Named discharges besides a case flag: ``co_feedback`` (this co-unit has fed back)."""


def _obligation_due(r: _Reader, raw: Any, key: str) -> ObligationDue:
    if raw == "clock":
        return ObligationDue(clock=True)
    if isinstance(raw, str):
        return ObligationDue(duration=r.duration(raw, key))
    data = r.mapping(raw, key)
    r.only_keys(data, {"before_clock", "at_least"}, key)
    if "before_clock" not in data:
        r.fail(key, "give 'clock', a duration (3wd), or {before_clock: 2wd, at_least: 3wd}")
    return ObligationDue(
        before_clock=r.duration(data["before_clock"], f"{key}.before_clock"),
        at_least=r.duration(data["at_least"], f"{key}.at_least") if "at_least" in data else None,
    )


def _obligations(
    r: _Reader, raw: Any, states: Mapping[str, StateSpec], checklists: Mapping[str, ChecklistSpec]
) -> dict[str, ObligationSpec]:
    result: dict[str, ObligationSpec] = {}
    item_keys = {k for c in checklists.values() for k in c.items}
    for name, value in r.mapping(raw, "obligations").items():
        key = f"obligations.{name}"
        if not str(name).isidentifier() or name in item_keys:
            r.fail(key, "an obligation key is an identifier that names no checklist item")
        data = r.mapping(value, key)
        r.only_keys(data, {"label", "unit", "states", "due", "roles", "after", "until", "measure"}, key)
        unit = r.one(
            data.get("unit"), ("office", *r.relations, *r.org.codes()), f"{key}.unit",
            "unit (office, a relation or a department code)",
        )  # fmt: skip
        in_states = r.names(data.get("states"), f"{key}.states")
        if not in_states:
            r.fail(f"{key}.states", "missing: the states in which the obligation is open")
        r.known(in_states, states, f"{key}.states", "state")
        for state in in_states:
            if states[state].terminal:
                r.fail(f"{key}.states", f"{state!r} is terminal: nothing is owed there")
        roles = r.names(data.get("roles"), f"{key}.roles") or (("dispatcher",) if unit == "office" else ("handler",))
        r.known(roles, r.org.roles, f"{key}.roles", "role")
        after = r.names(data.get("after"), f"{key}.after")
        for first in after:
            if not first.isidentifier():
                r.fail(
                    f"{key}.after", f"“{first}”不是清单名或案件标记名；after 应为一个名称或名称列表（全部满足后才开启）"
                )
        until = data.get("until")
        if until is not None and (not isinstance(until, str) or not until.isidentifier()):
            r.fail(f"{key}.until", f"expected {', '.join(OBLIGATION_UNTIL)} or the name of a case flag")
        if "due" not in data:
            r.fail(f"{key}.due", "missing: 'clock', a duration, or {before_clock, at_least}")
        due = _obligation_due(r, data["due"], f"{key}.due")
        if due.clock or due.before_clock:
            clockless = [s for s in in_states if states[s].clock is None]
            if clockless:
                r.fail(f"{key}.due", f"state {clockless[0]!r} has no clock to follow")
        measure = data.get("measure")
        if measure is not None:
            r.known([measure], OBLIGATION_MEASURES, f"{key}.measure", "measure")
        result[name] = ObligationSpec(
            name, r.text(data, "label", key), unit, in_states, due, roles, after, until, measure
        )
    return result


def _can_act(spec: WorkflowSpec, obligation: ObligationSpec, state: str) -> bool:
    """Whether the obligation's unit, in one of its roles, has an action in ``state``."""
    for t in spec.transitions:
        if state not in t.sources:
            continue
        for rule in t.actors:
            if rule.role not in obligation.roles:
                continue
            if obligation.unit == "office" and rule.unit is None and rule.department is None:
                return True
            if obligation.unit in (rule.unit, rule.department):
                return True
    return False


def _check_obligations(r: _Reader, spec: WorkflowSpec) -> None:
    """Every unit that owes something has an action that discharges it (DOMAIN.md §9): in one of
    the obligation's states at least (in the others it may wait on another unit's ruling)."""
    for name, obligation in spec.obligations.items():
        if not any(_can_act(spec, obligation, state) for state in obligation.states):
            roles = "/".join(obligation.roles)
            r.fail(
                f"obligations.{name}",
                f"{obligation.unit} ({roles}) owes {obligation.label!r} in {', '.join(obligation.states)} "
                "but has no action there: add a transition it may fire",
            )
