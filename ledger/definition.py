"""What a ledger (台账) of one case type is: its columns and words, from the definition.

``LedgerDefinition`` is one type's ledger: the ``Column``s of its template and export in order,
the other words clerks write for states and choices, which column a refusing guard points at,
what a replay must fire before a step, and the duplicate key. ``ledger_of(spec)`` builds it:
``ledger.derive`` gives every type a complete ledger from its fields, transitions and checklists;
the optional ``ledger:`` section of the YAML (``spec.sections["ledger"]``) then orders, renames
and adds columns. ``check_definition(spec, org)`` refuses a section it cannot serve, naming the
file and the dotted key (``caseflow workflow check`` and start-up call it).

The section's vocabulary (every key optional)::

    ledger:
      others: omit            # derived columns not listed under `columns` are left out (default: append)
      columns:                # in sheet order; a derived key (see ledger.derive) or a new column
        title: {header: 问题标题, aliases: [标题], width: 30, help: …, kind: code, example: …}
        classified: {date_of: [classify_ban, dismiss]}            # one day for several steps
        plan: {input_of: [classify_ban], field: plan}              # one input of several steps
        rectified: {all_items_of: rectification}                   # every chosen item done
        category: {flag: category, values: {ban: {label: 取缔关闭, via: [classify_ban]}}}
      states: {registered: [已收集, 待交办]}    # other words for a state
      choices: {result: {explained: 解释说明}}  # how the ledger writes a choice (its label is still read)
      choice_aliases: {result: {已解释: explained}}
      guards: {before_due: date:request_extension}      # the column a refusing guard points at
      before: {answer: [co_accept, {trigger: co_feedback, inputs: {reply: …}}]}
      duplicates: {column: title, what: 同一企业的同一问题}   # fields: the definition's duplicate_key

Reading cells is ``ledger.cells``'s; using the columns is the import's and the export's.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ledger.cells import header_key
from ledger.derive import DATE_HELP, derived_columns, field_kind, path_triggers
from ledger.model import Column, FlagValue
from workflow.errors import DefinitionError
from workflow.org import Organisation
from workflow.spec import WorkflowSpec

KINDS = ("text", "code", "date", "enum", "enum_list", "dept", "dept_list", "integer", "decimal", "yes_no")
_COLUMN_KEYS = {"header", "aliases", "width", "help", "kind", "required", "example", "date_of", "input_of", "field",
                "all_items_of", "flag", "values", "when_missing"}  # fmt: skip
_SECTION_KEYS = {"others", "columns", "states", "choices", "choice_aliases", "guards", "before", "duplicates"}


@dataclass(frozen=True)
class Step:
    """A step a replay fires, by each unit its actor rule names, before another step."""

    trigger: str
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Duplicates:
    """An open case is a duplicate of another with the same values of ``fields`` (loosely)."""

    fields: tuple[str, ...]
    column: str
    """The column a duplicate is reported in."""
    what: str
    """What the duplicate is, for the clerk (``同名同址的散乱污场所``)."""


@dataclass(frozen=True)
class LedgerDefinition:
    spec: WorkflowSpec
    columns: tuple[Column, ...]
    state_words: Mapping[str, str] = field(default_factory=dict)
    """Another word for a state → the state."""
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Field (or flag column) → value → the label the ledger writes."""
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Field → another word → value (read on import, never written)."""
    guards: Mapping[str, str] = field(default_factory=dict)
    before: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)
    duplicates: Duplicates | None = None

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    @property
    def flags(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "flag")

    def excluded(self, chosen: Mapping[str, str | None]) -> frozenset[str]:
        """Triggers a row may not take: those setting another value of a flag column it chose."""
        result: set[str] = set()
        for col in self.flags:
            value = chosen.get(col.key)
            if value is not None:
                result.update(t for v in col.values if v.value != value for t in v.via)
        return frozenset(result)


class _Section:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.file = spec.source_file

    def fail(self, key: str, reason: str) -> DefinitionError:
        return DefinitionError(self.file, f"ledger.{key}", reason)

    def mapping(self, raw: Any, key: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(key, "应为映射（key: value）")
        return raw

    def names(self, raw: Any, key: str) -> tuple[str, ...]:
        if isinstance(raw, str):
            return (raw,)
        if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
            raise self.fail(key, "应为文本或文本列表")
        return tuple(raw)

    def known(self, name: str, allowed: Any, what: str, key: str) -> str:
        if name not in allowed:
            raise self.fail(key, f"未知{what}“{name}”；可选：{', '.join(allowed)}")
        return name


def ledger_of(spec: WorkflowSpec) -> LedgerDefinition:
    """The ledger of ``spec``: derived, then shaped by its ``ledger:`` section (DefinitionError
    when the section is wrong)."""
    s = _Section(spec)
    raw = s.mapping(spec.sections.get("ledger"), "")
    for key in raw:
        s.known(str(key), sorted(_SECTION_KEYS), "键", str(key))
    derived = {c.key: c for c in derived_columns(spec)}
    columns = _columns(s, raw, derived)
    definition = LedgerDefinition(
        spec,
        columns,
        state_words=_state_words(s, raw.get("states")),
        labels=_labels(s, raw.get("choices"), columns),
        aliases=_choice_aliases(s, raw.get("choice_aliases")),
        guards=_guards(s, raw.get("guards"), columns),
        before=_before(s, raw.get("before")),
        duplicates=_duplicates(s, raw.get("duplicates"), columns),
    )
    _check_headers(s, columns)
    return definition


def check_definition(spec: WorkflowSpec, org: Organisation) -> None:
    """Raise ``DefinitionError(file, key, reason)`` when the ledger cannot serve ``spec``."""
    definition = ledger_of(spec)
    for col in definition.columns:
        if col.kind in ("dept", "dept_list") and col.field in spec.fields:
            kinds = spec.fields[col.field].kinds
            if kinds and not any(d.kind in kinds for d in org.departments):
                raise DefinitionError(spec.source_file, f"ledger.columns.{col.key}", "组织中没有可选的单位")


def _columns(s: _Section, raw: dict[str, Any], derived: dict[str, Column]) -> tuple[Column, ...]:
    others = raw.get("others", "append")
    if others not in ("append", "omit"):
        raise s.fail("others", f"应为 append 或 omit，实际为“{others}”")
    listed = s.mapping(raw.get("columns"), "columns")
    chosen: list[Column] = []
    for key, options in listed.items():
        where = f"columns.{key}"
        options = s.mapping(options, where)
        for name in options:
            s.known(str(name), sorted(_COLUMN_KEYS), "列属性", f"{where}.{name}")
        base = derived.get(str(key))
        chosen.append(_shaped(s, where, str(key), base, options))
    if others == "append":
        listed_keys = {c.key for c in chosen}
        tail = [c for c in derived.values() if c.role == "export" and c.key not in listed_keys]
        rest = [c for c in derived.values() if c.key not in listed_keys and c.role != "export"]
        chosen = [*chosen, *rest, *tail]
    return tuple(chosen)


def _shaped(s: _Section, where: str, key: str, base: Column | None, options: dict[str, Any]) -> Column:
    spec = s.spec
    kinds = [k for k in ("date_of", "input_of", "all_items_of", "flag") if k in options]
    if base is not None and kinds:
        raise s.fail(f"{where}.{kinds[0]}", f"“{key}”是由定义导出的列，不能再声明 {kinds[0]}；请换一个列名")
    if len(kinds) > 1:
        raise s.fail(where, f"{'、'.join(kinds)} 只能选一个")
    if base is None:
        if not kinds:
            allowed = ", ".join(c for c in derived_columns_keys(spec))
            raise s.fail(
                where,
                f"未知列“{key}”；可用由定义导出的列（{allowed}），或用 date_of / input_of / all_items_of / flag 声明新列",
            )
        if key in spec.fields:
            raise s.fail(where, f"新列不能与字段“{key}”同名")
        base = _new_column(s, where, key, kinds[0], options)
    changes: dict[str, Any] = {}
    if "header" in options:
        changes["header"] = _text(s, options["header"], f"{where}.header")
    if "aliases" in options:
        changes["aliases"] = s.names(options["aliases"], f"{where}.aliases")
    if "width" in options:
        width = options["width"]
        if not isinstance(width, int) or isinstance(width, bool) or not 2 <= width <= 100:
            raise s.fail(f"{where}.width", "应为 2–100 的整数")
        changes["width"] = width
    if "help" in options:
        changes["help"] = _text(s, options["help"], f"{where}.help")
    if "kind" in options:
        changes["kind"] = s.known(str(options["kind"]), KINDS, "列类型", f"{where}.kind")
    if "required" in options:
        if not isinstance(options["required"], bool):
            raise s.fail(f"{where}.required", "应为 true 或 false")
        changes["required"] = options["required"]
    if "example" in options:
        changes["example"] = options["example"]
    if "when_missing" in options:
        changes["when_missing"] = _text(s, options["when_missing"], f"{where}.when_missing")
    return replace(base, **changes)


def derived_columns_keys(spec: WorkflowSpec) -> list[str]:
    return [c.key for c in derived_columns(spec)]


def _text(s: _Section, raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise s.fail(key, "应为非空文本")
    return raw


def _new_column(s: _Section, where: str, key: str, kind: str, options: dict[str, Any]) -> Column:
    spec = s.spec
    if kind == "date_of":
        triggers = _triggers(s, options["date_of"], f"{where}.date_of")
        header = f"{_label_of(spec, triggers[0])}日期"
        return Column(key, header, role="date", triggers=triggers, kind="date", width=12, help=DATE_HELP)
    if kind == "input_of":
        triggers = _triggers(s, options["input_of"], f"{where}.input_of")
        name = s.known(str(options.get("field", key)), list(spec.fields), "字段", f"{where}.field")
        for trigger in triggers:
            if not any(name in t.inputs for t in spec.transitions if t.trigger == trigger):
                raise s.fail(f"{where}.field", f"“{trigger}”没有输入字段“{name}”")
        field_spec = spec.fields[name]
        return Column(key, field_spec.label, role="input", field=name, triggers=triggers, kind=field_kind(field_spec),
                      width=12 if field_spec.type == "date" else 14, help=DATE_HELP if field_spec.type == "date" else "")  # fmt: skip
    if kind == "all_items_of":
        name = s.known(str(options["all_items_of"]), list(spec.checklists), "清单", f"{where}.all_items_of")
        if spec.checklists[name].chosen_by is None:
            raise s.fail(f"{where}.all_items_of", f"清单“{name}”的事项不是由字段选定的（没有 chosen_by）")
        header = f"{spec.checklists[name].label}完成日期"
        return Column(key, header, role="items_all", checklist=name, kind="date", width=12, help=DATE_HELP)
    return _flag_column(s, where, key, options)


def _flag_column(s: _Section, where: str, key: str, options: dict[str, Any]) -> Column:
    flag = options["flag"]
    if not isinstance(flag, str) or not flag:
        raise s.fail(f"{where}.flag", "应为案件标记的名称")
    raw_values = s.mapping(options.get("values"), f"{where}.values")
    if not raw_values:
        raise s.fail(f"{where}.values", "须列出标记的取值")
    values = []
    for value, body in raw_values.items():
        at = f"{where}.values.{value}"
        body = s.mapping(body, at)
        for name in body:
            s.known(str(name), ["label", "via", "known_by"], "键", f"{at}.{name}")
        if "label" not in body or "via" not in body:
            raise s.fail(at, "须有 label 和 via（设定该取值的步骤）")
        via = _triggers(s, body["via"], f"{at}.via")
        known_by = s.names(body["known_by"], f"{at}.known_by") if "known_by" in body else ()
        values.append(FlagValue(str(value), _text(s, body["label"], f"{at}.label"), via, known_by))
    header = _text(s, options.get("header"), f"{where}.header")
    return Column(key, header, role="flag", flag=flag, values=tuple(values), kind="enum", width=10)


def _label_of(spec: WorkflowSpec, trigger: str) -> str:
    return next(t.label for t in spec.transitions if t.trigger == trigger)


def _triggers(s: _Section, raw: Any, key: str) -> tuple[str, ...]:
    names = s.names(raw, key)
    for name in names:
        s.known(name, list(s.spec.triggers), "步骤", key)
    return names


def _state_words(s: _Section, raw: Any) -> dict[str, str]:
    words: dict[str, str] = {}
    for state, aliases in s.mapping(raw, "states").items():
        s.known(str(state), list(s.spec.states), "状态", f"states.{state}")
        for word in s.names(aliases, f"states.{state}"):
            if words.get(word, state) != state:
                raise s.fail(f"states.{state}", f"“{word}”已是状态“{words[word]}”的别称")
            words[word] = str(state)
    return words


def _field_choices(s: _Section, name: str, key: str) -> tuple[str, ...]:
    s.known(name, list(s.spec.fields), "字段", key)
    found = s.spec.fields[name]
    return found.choices if found.type != "yes_no" else ("yes", "no")


def _labels(s: _Section, raw: Any, columns: tuple[Column, ...]) -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {}
    for col in columns:
        if col.role == "flag":
            labels[col.key] = {v.value: v.label for v in col.values}
    for name, table in s.mapping(raw, "choices").items():
        key = f"choices.{name}"
        choices = _field_choices(s, str(name), key)
        for value, label in s.mapping(table, key).items():
            s.known(str(value), choices, "取值", f"{key}.{value}")
            labels.setdefault(str(name), {})[str(value)] = _text(s, label, f"{key}.{value}")
    return labels


def _choice_aliases(s: _Section, raw: Any) -> dict[str, dict[str, str]]:
    aliases: dict[str, dict[str, str]] = {}
    for name, table in s.mapping(raw, "choice_aliases").items():
        key = f"choice_aliases.{name}"
        choices = _field_choices(s, str(name), key)
        for word, value in s.mapping(table, key).items():
            s.known(str(value), choices, "取值", f"{key}.{word}")
            aliases.setdefault(str(name), {})[str(word)] = str(value)
    return aliases


def _guards(s: _Section, raw: Any, columns: tuple[Column, ...]) -> dict[str, str]:
    keys = [c.key for c in columns]
    used = {g for t in s.spec.transitions for g in t.guards}
    result = {}
    for guard, column in s.mapping(raw, "guards").items():
        s.known(str(guard), sorted(used), "规则（没有步骤使用它）", f"guards.{guard}")
        result[str(guard)] = s.known(str(column), keys, "列", f"guards.{guard}")
    return result


def _before(s: _Section, raw: Any) -> dict[str, tuple[Step, ...]]:
    result = {}
    for trigger, steps in s.mapping(raw, "before").items():
        key = f"before.{trigger}"
        s.known(str(trigger), list(s.spec.triggers), "步骤", key)
        if not isinstance(steps, list):
            raise s.fail(key, "应为步骤列表")
        found = []
        for index, step in enumerate(steps):
            at = f"{key}.{index}"
            if isinstance(step, str):
                step = {"trigger": step}
            step = s.mapping(step, at)
            name = s.known(str(step.get("trigger")), list(s.spec.triggers), "步骤", f"{at}.trigger")
            found.append(Step(name, dict(s.mapping(step.get("inputs"), f"{at}.inputs"))))
        result[str(trigger)] = tuple(found)
    return result


def _duplicates(s: _Section, raw: Any, columns: tuple[Column, ...]) -> Duplicates | None:
    """The section's ``duplicates`` (the fields default to the definition's ``duplicate_key``);
    without it, the definition's ``duplicate_key`` reported in its last field's column."""
    if raw is None:
        fields = tuple(getattr(s.spec, "duplicate_key", ()))
        if not fields or any(f not in {c.key for c in columns} for f in fields):
            return None
        raw = {}
    body = s.mapping(raw, "duplicates")
    for name in body:
        s.known(str(name), ["fields", "column", "what"], "键", f"duplicates.{name}")
    fields = (
        s.names(body["fields"], "duplicates.fields")
        if "fields" in body
        else tuple(getattr(s.spec, "duplicate_key", ()))
    )
    if not fields:
        raise s.fail("duplicates", "定义没有重复判定字段（duplicate_key），请写 fields")
    for name in fields:
        s.known(name, list(s.spec.create.required), "必填登记字段", "duplicates.fields")
    keys = [c.key for c in columns]
    column = s.known(str(body.get("column", fields[-1])), keys, "列", "duplicates.column")
    labels = "、".join(s.spec.fields[f].label for f in fields)
    what = _text(s, body["what"], "duplicates.what") if "what" in body else f"{labels}相同的{s.spec.name}"
    return Duplicates(fields, column, what)


def _check_headers(s: _Section, columns: tuple[Column, ...]) -> None:
    seen: dict[str, str] = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            word = header_key(name)
            if seen.get(word, col.key) != col.key:
                raise s.fail(f"columns.{col.key}", f"列名“{name}”与列“{seen[word]}”重复")
            seen.setdefault(word, col.key)


__all__ = ["Column", "FlagValue", "LedgerDefinition", "Step", "check_definition", "ledger_of", "path_triggers"]
