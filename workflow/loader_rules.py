"""Reading the rule parts of a definition: its vocabulary, relations, limits and expressions.

``workflow.loader`` reads the shape of a definition (fields, states, transitions, checklists,
obligations) and calls these for what may be named or written as an expression: guards and
conditions (a name of the vocabulary, or ``{expr, message}``), effects (a name, or a general
effect with its argument, ``{open_checklist: clearing}``), computed fields and durations. Each
fault is a ``DefinitionError`` with the file and the dotted key.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from workflow import rules
from workflow.durations import parse_duration
from workflow.expressions import FIELD_TYPES_TO_CEL, Expression, ExpressionError, compile_expression
from workflow.reader import Reader
from workflow.spec import Check, FieldSpec, Limits


def vocabulary(r: Reader, raw: Any) -> rules.Vocabulary:
    """The vocabulary version a definition names (default: the first)."""
    version = 1 if raw is None else raw
    if not isinstance(version, int) or isinstance(version, bool) or version not in rules.VOCABULARIES:
        known = "、".join(str(v) for v in rules.VOCABULARIES)
        r.fail("vocabulary", f"未知的规则词汇版本 {raw!r}；可选：{known}")
    r.vocabulary = version
    return rules.VOCABULARIES[version]


def relations(r: Reader, raw: Any, fields: Mapping[str, FieldSpec]) -> dict[str, str]:
    """The definition's own unit relations: name → a department (or department list) field."""
    result: dict[str, str] = {}
    for name, field_name in r.mapping(raw or {}, "relations").items():
        key = f"relations.{name}"
        if not str(name).isidentifier() or name in rules.RELATIONS or name == "office":
            r.fail(key, f"关系名须为标识符，且不能与内置关系重名（{'、'.join(rules.RELATIONS)}、office）")
        field = r.one(field_name, fields, key, "field")
        if fields[field].type not in ("department", "department_list"):
            r.fail(key, f"“{field}”不是单位字段（department 或 department_list），不能作为单位关系")
        result[str(name)] = field
    r.relations = (*rules.RELATIONS, *result)
    return result


def limits(r: Reader, raw: Any) -> Limits:
    """``limits: {extensions: {count: 2, days: 15}}``; what is not given keeps the default."""
    data = r.mapping(raw or {}, "limits")
    r.only_keys(data, {"extensions"}, "limits")
    extensions = r.mapping(data.get("extensions") or {}, "limits.extensions")
    r.only_keys(extensions, {"count", "days"}, "limits.extensions")
    default = Limits()
    count = r.integer(extensions, "count", "limits.extensions")
    days = r.integer(extensions, "days", "limits.extensions")
    for name, value in (("count", count), ("days", days)):
        if value is not None and value < 0:
            r.fail(f"limits.extensions.{name}", "不能为负数")
    return Limits(
        default.extensions if count is None else count, default.extension_days if days is None else days
    )


def expression_variables(fields: Mapping[str, FieldSpec], counters: Iterable[str]) -> dict[str, str]:
    """What expressions may read: every field (by its CEL type) and every counter (an int)."""
    found = {name: FIELD_TYPES_TO_CEL[f.type] for name, f in fields.items()}
    found.update({name: "int" for name in counters})
    return found


def expression(r: Reader, raw: Any, key: str, expect: str | None, variables: Mapping[str, str] | None = None) -> Expression:
    try:
        return compile_expression(raw, r.variables if variables is None else variables, expect)
    except ExpressionError as exc:
        r.fail(key, str(exc))


def computed(r: Reader, spec: FieldSpec, data: Mapping[str, Any], key: str, earlier: Mapping[str, str]) -> FieldSpec:
    """A field with ``compute``: its expression may read every other field and the counters
    (computed fields are evaluated in dependency order, ``computed_order``)."""
    if "compute" not in data:
        if "places" in data:
            r.fail(f"{key}.places", "只有计算字段（compute）才有小数位数")
        return spec
    expect = {"integer": "int", "decimal": "double", "text": "string", "choice": "string", "yes_no": "bool"}.get(
        spec.type
    )
    if expect is None:
        r.fail(f"{key}.compute", f"{spec.type} 字段不能计算；可计算的类型：integer、decimal、text、choice、yes_no")
    places = r.integer(data, "places", key)
    if places is not None and (spec.type != "decimal" or not 0 <= places <= 6):
        r.fail(f"{key}.places", "小数位数只用于 decimal 字段，取 0–6")
    found = expression(r, data["compute"], f"{key}.compute", expect, earlier)
    return FieldSpec(**{**spec.__dict__, "compute": found, "places": places})


def computed_order(r: Reader, fields: Mapping[str, FieldSpec]) -> tuple[str, ...]:
    """The computed fields in an order where each comes after those it reads; a cycle is refused."""
    pending = {n: set(f.compute.names) for n, f in fields.items() if f.compute is not None}
    order: list[str] = []
    while pending:
        ready = [n for n, needs in pending.items() if not needs & set(pending)]
        if not ready:
            cycle = "、".join(sorted(pending))
            r.fail(f"fields.{sorted(pending)[0]}.compute", f"计算字段相互引用，无法确定计算顺序：{cycle}")
        for name in ready:
            order.append(name)
            del pending[name]
    return tuple(order)


def checks(r: Reader, raw: Any, key: str) -> tuple[Check, ...]:
    """``[{expr: …, message: …}]`` guards written as expressions."""
    result = []
    for i, entry in enumerate(raw or []):
        result.append(_check(r, entry, f"{key}[{i}]"))
    return tuple(result)


def _check(r: Reader, entry: Any, key: str) -> Check:
    data = r.mapping(entry, key)
    r.only_keys(data, {"expr", "message"}, key)
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        r.fail(f"{key}.message", "须写明不满足时告诉办理人的理由（中文），如“设备投资额不足200万元”")
    return Check(expression(r, data.get("expr"), f"{key}.expr", "bool"), message.strip())


def named_or_checks(
    r: Reader, raw: Any, key: str, registry: Mapping[str, Any], what: str
) -> tuple[tuple[str, ...], tuple[Check, ...]]:
    """A list of named rules (``before_due``) and expression guards (``{expr, message}``)."""
    names, found = [], []
    for i, entry in enumerate([raw] if isinstance(raw, str) else raw or []):
        if isinstance(entry, str):
            r.known([entry], registry, key, what)
            names.append(entry)
        else:
            found.append(_check(r, entry, f"{key}[{i}]"))
    return tuple(names), tuple(found)


def named_or_conditions(
    r: Reader, raw: Any, key: str, registry: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[Expression, ...]]:
    """A list of named conditions and ``{expr: …}`` conditions, all of which must hold."""
    names, found = [], []
    for i, entry in enumerate([raw] if isinstance(raw, str) else raw or []):
        if isinstance(entry, str):
            r.known([entry], registry, key, "condition")
            names.append(entry)
            continue
        data = r.mapping(entry, f"{key}[{i}]")
        r.only_keys(data, {"expr"}, f"{key}[{i}]")
        found.append(expression(r, data.get("expr"), f"{key}[{i}].expr", "bool"))
    return tuple(names), tuple(found)


def effects(r: Reader, raw: Any, key: str, words: rules.Vocabulary, checklists: Iterable[str]) -> tuple[str, ...]:
    """Named effects and general ones with their argument, kept as ``name`` or ``name:argument``."""
    result = []
    lists = tuple(checklists)
    for i, entry in enumerate([raw] if isinstance(raw, str) else raw or []):
        where = f"{key}[{i}]"
        if isinstance(entry, str):
            r.known([entry], words.effects, key, "effect")
            result.append(entry)
            continue
        data = r.mapping(entry, where)
        if len(data) != 1:
            r.fail(where, "通用效果写作 {名称: 参数}，如 {open_checklist: clearing}")
        name, argument = next(iter(data.items()))
        r.known([name], words.general_effects, where, "general effect")
        if not isinstance(argument, str) or not argument:
            r.fail(f"{where}.{name}", "须给出参数")
        if name.endswith("_checklist"):
            r.known([argument], lists, f"{where}.{name}", "checklist")
        elif name == "restart_clock":
            try:
                parse_duration(argument)
            except ValueError as exc:
                r.fail(f"{where}.{name}", str(exc))
        elif not argument.isidentifier():
            r.fail(f"{where}.{name}", "标记名须为标识符")
        result.append(f"{name}:{argument}")
    return tuple(result)


def meta(
    r: Reader, top: Mapping[str, Any], fields: Mapping[str, FieldSpec]
) -> tuple[str, str, tuple[str, ...]]:
    """The title field (default ``title``, else the first required text field of registration),
    the one-line description and the duplicate key."""
    title = top.get("title_field")
    if title is None:
        required = r.names(r.mapping(top.get("create") or {}, "create").get("required"), "create.required")
        texts = [n for n in required if n in fields and fields[n].type == "text"]
        title = "title" if "title" in fields else (texts[0] if texts else None)
        if title is None:
            r.fail("title_field", "须指明用作案件标题的字段（title_field），或登记必填一个文本字段")
    r.one(title, fields, "title_field", "field")
    description = top.get("description", "")
    if not isinstance(description, str):
        r.fail("description", "应为一行中文说明")
    key = r.names(top.get("duplicate_key"), "duplicate_key")
    r.known(key, fields, "duplicate_key", "field")
    return str(title), description.strip(), key
