"""Validation and normalisation of field values given by people (CLI strings) or programs (JSON).

``normalise(spec, raw, org)`` returns a JSON-friendly value or raises ``InvalidInput`` that says
what was wrong and what is allowed. ``check_inputs`` does it for a whole action at once, naming
every bad field. Which fields an action takes is the definition's business (``workflow.spec``).
"""

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workflow.errors import InvalidInput
from workflow.org import Organisation
from workflow.spec import FieldSpec
from workflow.uscc import check_uscc

_YES = {"yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否"}
_LIST_SPLIT = re.compile(r"[,，、;；\n]")
DEFAULT_MAX_TEXT = 5000


def _split(raw: Any) -> list[str]:
    if isinstance(raw, list | tuple):
        parts = [str(p) for p in raw]
    else:
        parts = _LIST_SPLIT.split(str(raw))
    return [p.strip() for p in parts if p.strip()]


def _text(spec: FieldSpec, raw: Any) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise InvalidInput(spec.name, f"{spec.label}应为文本")
    text = str(raw).strip()
    if "\x00" in text:
        raise InvalidInput(spec.name, f"{spec.label}含有不允许的控制字符")
    limit = spec.max_length or DEFAULT_MAX_TEXT
    if len(text) > limit:
        raise InvalidInput(spec.name, f"{spec.label}最多{limit}个字，实际{len(text)}个字")
    return text


def _choice(spec: FieldSpec, value: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise InvalidInput(spec.name, f"{spec.label}“{value}”无效；可选：{'、'.join(allowed)}")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def normalise(spec: FieldSpec, raw: Any, org: Organisation) -> Any:
    """The stored form of ``raw`` for this field, or ``InvalidInput``."""
    kind = spec.type
    if kind == "text":
        return _text(spec, raw)
    if kind == "text_list":
        return _unique([_text(spec, p) for p in _split(raw)])
    if kind == "choice":
        return _choice(spec, _text(spec, raw), spec.choices)
    if kind == "choice_list":
        values = _unique([_choice(spec, v, spec.choices) for v in _split(raw)])
        if not values:
            raise InvalidInput(spec.name, f"{spec.label}至少选择一项；可选：{'、'.join(spec.choices)}")
        return values
    if kind == "department":
        return org.resolve(_text(spec, raw), spec.name, spec.kinds)
    if kind == "department_list":
        return _unique([org.resolve(v, spec.name, spec.kinds) for v in _split(raw)])
    if kind == "uscc":
        return check_uscc(_text(spec, raw), spec.name)
    if kind == "date":
        return _date(spec, raw).isoformat()
    if kind == "integer":
        return _integer(spec, raw)
    if kind == "decimal":
        return _decimal(spec, raw)
    if kind == "yes_no":
        word = str(raw).strip().lower() if not isinstance(raw, bool) else ("yes" if raw else "no")
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
        raise InvalidInput(spec.name, f"{spec.label}应为 yes 或 no（是/否），实际为“{raw}”")
    raise AssertionError(f"unknown field type {kind}")  # definitions are validated at load


def _date(spec: FieldSpec, raw: Any) -> date:
    if isinstance(raw, datetime):
        raise InvalidInput(spec.name, f"{spec.label}应为日期（YYYY-MM-DD），不含时间")
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(spec.name, f"{spec.label}“{text}”不是有效日期，格式为 YYYY-MM-DD") from None


def _integer(spec: FieldSpec, raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidInput(spec.name, f"{spec.label}应为整数")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidInput(spec.name, f"{spec.label}应为整数，实际为“{raw}”") from None
    if spec.min is not None and value < spec.min or spec.max is not None and value > spec.max:
        raise InvalidInput(spec.name, f"{spec.label}应在{spec.min}到{spec.max}之间，实际为{value}")
    return value


def _decimal(spec: FieldSpec, raw: Any) -> str:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise InvalidInput(spec.name, f"{spec.label}应为数字，实际为“{raw}”") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(spec.name, f"{spec.label}应为不小于0的数字")
    return str(value)


def is_blank(raw: Any) -> bool:
    """Nothing given: None, blank text, or a list of blanks."""
    if raw is None:
        return True
    if isinstance(raw, list | tuple):
        return not _split(raw)
    return isinstance(raw, str) and not raw.strip()


def check_inputs(
    fields: Mapping[str, FieldSpec],
    given: Mapping[str, Any],
    required: Iterable[str],
    optional: Iterable[str],
    org: Organisation,
    *,
    allowed_values: Mapping[str, tuple[str, ...]] | None = None,
    what: str = "此操作",
) -> dict[str, Any]:
    """Validate every given field of one action; raise one ``InvalidInput`` naming all faults.

    Unknown keys, missing required fields, and bad values are all reported. Optional fields not
    given take their default, when the definition has one.
    """
    required = tuple(required)
    accepted = required + tuple(optional)
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    for key, raw in given.items():
        if key not in accepted:
            listed = "、".join(accepted) if accepted else "无"
            errors[key] = f"{what}不接受字段“{key}”；可填字段：{listed}"
            continue
        if is_blank(raw):
            if isinstance(raw, list | tuple) and fields[key].type.endswith("_list") and key not in required:
                result[key] = []  # an explicit empty list clears the field (e.g. no co-units)
            continue
        try:
            value = normalise(fields[key], raw, org)
        except InvalidInput as exc:
            errors.update(exc.errors)
            continue
        narrower = (allowed_values or {}).get(key)
        if narrower is not None and value not in narrower:
            errors[key] = f"{fields[key].label}“{value}”在此操作中不可用；可选：{'、'.join(narrower)}"
            continue
        result[key] = value
    for key in required:
        if key not in result and key not in errors:
            errors[key] = f"缺少必填字段“{fields[key].label}”（{key}）"
    for key in accepted:
        if key not in result and key not in errors and fields[key].default is not None:
            result[key] = fields[key].default
    if errors:
        raise InvalidInput.from_errors(errors)
    return result
