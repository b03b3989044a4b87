"""Sandboxed rendering of the notification templates (PITFALLS.md #22–#24).

One ``<event>.j2`` file per event of ``notifications.events.EVENTS``, each defining three blocks:
``subject`` (one line), ``text`` (plain text: SMS, group robots, the text part of e-mail) and
``html`` (e-mail, in-app). The defaults ship in ``notifications/templates/``; an admin overrides
any of them with a file of the same name in ``CASEFLOW_CONFIG_DIR/templates/``.

Safety, in layers:

- Two ``ImmutableSandboxedEnvironment`` s, both ``StrictUndefined``: ``html`` with autoescape,
  ``text`` without (an SMS keeps ``&`` as ``&``). ``subject`` and ``text`` render in the text
  environment, ``html`` in the HTML one.
- Templates are compiled from source strings; there is no loader, and ``{% extends %}``,
  ``{% include %}``, ``{% import %}`` are refused when a template is checked, as are ``|safe``
  and ``{% autoescape %}`` (case data typed by users must stay escaped in HTML).
- Only plain data goes in: ``plain_data`` deep-copies the context keeping dict (str keys), list,
  str, int, float, bool and None, and refuses anything else.
- Caps (``Limits``): template source, each rendered block (measured while streaming with
  ``generate``-style block functions), wall time per render, the size of every string or
  container a template builds (``*``, ``+``, ``%``, ``**`` go through ``call_binop``; ``~``,
  list/dict literals, every filter and every method call are checked), and everything written
  in one render including ``{% set %}``/macro buffers. Loops are instrumented at compile time so
  that the time cap is checked on every iteration even when nothing is written.
- Only a whitelist of methods of strings, lists and dicts may be called from a template.

``TemplateStore.check`` parses, checks the rules above and test-renders the three blocks with
every sample context of the event (``notifications.samples``), reporting ``Problem(line,
message)``. An override that fails is not used: the default (or the previous good version) keeps
working. ``save_override`` validates first and writes atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import string
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, pass_context
from jinja2.visitor import NodeTransformer

from notifications.events import EVENTS
from notifications.samples import sample_contexts, type_samples
from workflow.errors import CaseflowError, InvalidInput

log = logging.getLogger("caseflow.templates")

BLOCKS = ("subject", "text", "html")
"""The blocks every template defines; ``subject`` and ``text`` are plain, ``html`` escaped."""
DEFAULT_DIR = Path(__file__).parent / "templates"
TYPE_DIR = Path(__file__).resolve().parent.parent / "config" / "templates"
"""Shipped per-type templates: ``<type>/<event>.j2`` overrides the shared ``<event>.j2`` for
cases of that type, and is the only template of an event the type declares itself."""


@dataclass(frozen=True)
class Limits:
    source_bytes: int = 64 * 1024
    """Template source, UTF-8."""
    block_bytes: int = 64 * 1024
    """Each rendered block, UTF-8."""
    seconds: float = 1.0
    """Wall time of one render (all three blocks)."""
    string_chars: int = 64 * 1024
    """Any string a template builds (``'x' * n``, ``~``, filters, methods)."""
    value_weight: int = 1_000_000
    """Any list/dict a template builds, and the whole context: elements plus characters."""
    written_bytes: int = 1024 * 1024
    """Everything written in one render, including ``{% set %}`` blocks and macro bodies."""
    int_bits: int = 16_384
    """Integers built by ``*`` and ``**``."""
    depth: int = 32
    """Nesting of the context data."""


@dataclass(frozen=True)
class Problem:
    line: int | None
    """Line in the template source (1-based), when known."""
    message: str

    def __str__(self) -> str:
        return f"第{self.line}行：{self.message}" if self.line else self.message


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """One template file as ``caseflow templates check`` reports it."""

    name: str
    origin: str
    """``default`` or ``override``."""
    path: Path
    problems: list[Problem]
    active: bool
    """Whether this version is the one rendered now."""

    @property
    def ok(self) -> bool:
        return not self.problems


class RenderError(CaseflowError):
    """A template could not be rendered with this context."""

    code = "template_error"
    http_status = 500

    def __init__(self, name: str, problems: list[Problem]) -> None:
        text = "；".join(str(p) for p in problems)
        super().__init__(
            f"模板 {name} 渲染失败：{text}",
            {"template": name, "problems": [_problem_dict(p) for p in problems]},
        )
        self.name = name
        self.problems = problems


class TemplateRejected(InvalidInput):
    """A template source failed the check; nothing was written."""

    code = "template_rejected"

    def __init__(self, name: str, problems: list[Problem]) -> None:
        super().__init__(f"templates/{name}.j2", "；".join(str(p) for p in problems))
        self.name = name
        self.problems = problems
        self.details["problems"] = [_problem_dict(p) for p in problems]


class LimitExceeded(SecurityError):
    """A template went over one of the ``Limits``."""


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "message": problem.message}


# --------------------------------------------------------------------------------------------
# Plain data in


def plain_data(value: Any, limits: Limits | None = None) -> Any:
    """A deep copy of ``value`` made only of dict (str keys), list, str, int, float, bool and None.

    Raises ``TypeError`` naming the path of anything else (objects, tuples, Markup, enums…) and
    ``ValueError`` when the data is nested too deeply or is larger than ``limits.value_weight``.
    """
    limits = limits or Limits()
    budget = [limits.value_weight]

    def copy(item: Any, path: str, depth: int) -> Any:
        if depth > limits.depth:
            raise ValueError(f"模板数据嵌套过深：{path}")
        budget[0] -= 1
        kind = type(item)
        if item is None or kind is bool or kind is float:
            result: Any = item
        elif kind is int:
            if item.bit_length() > limits.int_bits:
                raise ValueError(f"模板数据中的整数过大：{path}")
            result = item
        elif kind is str:
            budget[0] -= len(item)
            result = item
        elif kind is list:
            result = [copy(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item)]
        elif kind is dict:
            result = {}
            for key, v in item.items():
                if type(key) is not str:
                    raise TypeError(f"模板数据的键只能是字符串：{path} 中有 {type(key).__name__} 键")
                budget[0] -= len(key)
                result[key] = copy(v, f"{path}.{key}", depth + 1)
        else:
            raise TypeError(f"模板数据只能是 dict/list/str/int/float/bool/None：{path} 是 {kind.__name__}")
        if budget[0] < 0:
            raise ValueError(f"模板数据过大（超过 {limits.value_weight} 个单位）")
        return result

    return copy(value, "context", 0)


# --------------------------------------------------------------------------------------------
# The per-render budget


@dataclass
class _Budget:
    limits: Limits
    clock: Callable[[], float]
    deadline: float
    written: int = 0
    memo: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def tick(self) -> None:
        if self.clock() > self.deadline:
            raise LimitExceeded(f"渲染超时（超过 {self.limits.seconds:g} 秒）")

    def write(self, size: int) -> None:
        self.written += size
        if self.written > self.limits.written_bytes:
            raise LimitExceeded(f"输出过大（一次渲染写出超过 {self.limits.written_bytes} 字节）")


_BUDGET: ContextVar[_Budget | None] = ContextVar("caseflow_template_budget", default=None)


def _tick() -> _Budget | None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
    return budget


def _weight(value: Any, budget: _Budget) -> int:
    """Elements plus characters of a value, counting shared parts each time they appear (what
    ``str()`` of it would cost), memoised so that self-doubling structures are measured fast."""
    if isinstance(value, str | bytes):
        return len(value) + 1
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    attrs = getattr(value, "_Namespace__attrs", None) if isinstance(value, Namespace) else None
    if attrs is not None:
        return 1 + _weight(attrs, budget)
    if isinstance(value, list | tuple | set | frozenset | dict):
        hit = budget.memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        limit = budget.limits.value_weight
        total = 1
        parts = (p for kv in value.items() for p in kv) if isinstance(value, dict) else value
        for part in parts:
            total += _weight(part, budget)
            if total > limit:
                break
        budget.memo[id(value)] = (value, total)
        return total
    return 1


def _checked(value: Any) -> Any:
    """Refuse ``value`` when it is larger than the caps; wrap lazy iterators so that what they
    yield is counted as it is produced."""
    budget = _BUDGET.get()
    if budget is None:
        return value
    if isinstance(value, str | bytes) and len(value) > budget.limits.string_chars:
        raise LimitExceeded(f"字符串过长（{len(value)} 个字符，上限 {budget.limits.string_chars}）")
    if isinstance(value, types.GeneratorType | map | filter | zip):
        return _guarded_iter(value)
    if _weight(value, budget) > budget.limits.value_weight:
        raise LimitExceeded(f"数据过大（上限 {budget.limits.value_weight} 个单位）")
    return value


def _guarded_iter(iterator: Iterator[Any]) -> Iterator[Any]:
    total = 0
    for item in iterator:
        budget = _tick()
        if budget is not None:
            total += _weight(item, budget)
            if total > budget.limits.value_weight:
                raise LimitExceeded(f"数据过大（上限 {budget.limits.value_weight} 个单位）")
        yield item


def _too_long(estimate: int) -> None:
    budget = _BUDGET.get()
    if budget is not None and estimate > budget.limits.string_chars:
        raise LimitExceeded(f"结果过长（约 {estimate} 个字符，上限 {budget.limits.string_chars}）")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_MAX_FORMAT_WIDTH = 1000


def _check_percent_format(fmt: Any) -> None:
    """``'%5000000d' % 1`` allocates before anything can measure it: cap widths up front."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else str(fmt)
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*" or (number is not None and int(number) > _MAX_FORMAT_WIDTH):
                raise LimitExceeded(f"格式宽度过大或不允许（{match.group(0)}），上限 {_MAX_FORMAT_WIDTH}")


def _check_brace_format(fmt: str) -> None:
    """The same for ``'{:>5000000}'.format(x)``; nested fields in a spec are refused."""
    for _literal, field_name, spec, _conversion in string.Formatter().parse(fmt):
        if field_name is None or not spec:
            continue
        if "{" in spec:
            raise LimitExceeded("格式说明中不允许嵌套字段")
        if any(int(n) > _MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec)):
            raise LimitExceeded(f"格式宽度过大（{spec}），上限 {_MAX_FORMAT_WIDTH}")


# --------------------------------------------------------------------------------------------
# Filters: every filter is wrapped (time, size of the result); amplifiers are checked first.


def _est_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    s, old, new = str(s), str(old), str(new)
    n = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    _too_long(len(s) + n * len(new))


def _pre_center(value: Any, width: Any = 80) -> None:
    if isinstance(width, int):
        _too_long(max(len(str(value)), width))


def _pre_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    s = str(value)
    w = width if isinstance(width, int) else len(str(width))
    _too_long(len(s) + (s.count("\n") + 1) * max(w, 0))


def _pre_wordwrap(
    value: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None, **kwargs: Any
) -> None:
    s = str(value)
    wrap = kwargs.get("wrapstring", wrapstring)
    sep = len(str(wrap)) if wrap is not None else 1
    lines = len(s) // max(width if isinstance(width, int) else 1, 1) + s.count("\n") + 1
    _too_long(len(s) + lines * sep)


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_percent_format(value)


def _pre_sum(value: Any, attribute: Any = None, start: Any = 0, **kwargs: Any) -> None:
    start = kwargs.get("start", start)
    if not isinstance(start, int | float):
        raise LimitExceeded("sum 只能对数字求和")


def _pre_count_arg(position: int, name: str) -> Callable[..., None]:
    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        count = kwargs.get(name, args[position] if len(args) > position else None)
        budget = _BUDGET.get()
        if isinstance(count, int) and budget is not None and count > budget.limits.value_weight:
            raise LimitExceeded(f"{name} 过大（上限 {budget.limits.value_weight}）")

    return check


_FILTER_PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "format": _pre_format,
    "replace": lambda value, old="", new="", count=None, *_a, **_k: _est_replace(value, old, new, count),
    "sum": _pre_sum,
    "batch": _pre_count_arg(0, "linecount"),
    "slice": _pre_count_arg(0, "slices"),
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: tick the clock, check known amplifiers first and the result after. The
    wrapper takes the context, which also stops Jinja from folding it at compile time."""
    pass_arg = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    precheck = _FILTER_PRECHECKS.get(name)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        if _tick() is not None and precheck is not None:
            precheck(value, *args, **kwargs)
        if pass_arg == "context":
            result = func(context, value, *args, **kwargs)
        elif pass_arg == "eval_context":
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg == "environment":
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return _checked(result)

    guarded.__name__ = f"guarded_{name}"
    return guarded


def _join(original: Callable[..., Any]) -> Callable[..., Any]:
    """``|join`` measured while its items are gathered (the separator repeats n−1 times)."""

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        if attribute is not None:
            value = map(make_attrgetter(eval_ctx.environment, attribute), value)
        items = []
        total = 0
        for item in value:
            _tick()
            total += len(str(item)) + len(str(d))
            _too_long(total)
            items.append(item)
        return original(eval_ctx, items, d)

    join.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return join


def _cn_date(value: Any) -> str:
    """``2026-10-13`` → ``2026年10月13日``; ``2026-10-13 09:30`` → ``2026年10月13日 09:30``;
    anything else unchanged."""
    text = str(value)
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(.*)", text)
    if match is None:
        return text
    year, month, day, rest = match.groups()
    return f"{year}年{int(month)}月{int(day)}日{rest}"


def _parse_minute(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def _elapsed(start: Any, end: Any) -> str:
    """Calendar time from ``start`` to ``end`` (both ``YYYY-MM-DD[ HH:MM]``, Asia/Shanghai) in
    words: ``3天``, ``2天5小时``, ``7小时``; empty when under an hour, negative or unknown."""
    a, b = _parse_minute(str(start)), _parse_minute(str(end))
    if a is None or b is None or b <= a:
        return ""
    delta = b - a
    days, hours = delta.days, delta.seconds // 3600
    if days and hours:
        return f"{days}天{hours}小时"
    if days:
        return f"{days}天"
    return f"{hours}小时" if hours else ""


# --------------------------------------------------------------------------------------------
# Method calls: a whitelist for the plain data types; amplifiers checked first.

_STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric",
        "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition",
        "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "striptags", "swapcase",
        "title", "unescape", "upper", "zfill",
    }
)  # fmt: skip
_ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    dict: frozenset({"get", "items", "keys", "values", "copy"}),
    list: frozenset({"count", "index", "copy"}),
    tuple: frozenset({"count", "index"}),
}


def _method_precheck(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int):
            _too_long(max(len(owner), width))
    elif name == "replace":
        _est_replace(
            owner,
            args[0] if args else "",
            args[1] if len(args) > 1 else "",
            args[2] if len(args) > 2 else None,
        )


def _precheck_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[..., Any]:
    """Refuse calls outside the whitelist; returns what to call (``str.join`` is replaced by a
    measured version)."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(obj, types.BuiltinMethodType | types.MethodType) or owner is None:
        return cast(Callable[..., Any], obj)
    if isinstance(owner, type) and issubclass(owner, str | bytes | int | float | list | tuple | dict | set):
        raise SecurityError(f"不允许在模板中调用 {owner.__name__}.{obj.__name__}")
    for kind, allowed in _ALLOWED_METHODS.items():
        if isinstance(owner, kind):
            if obj.__name__ not in allowed:
                raise SecurityError(f"不允许在模板中调用 {kind.__name__}.{obj.__name__}()")
            _method_precheck(owner, obj.__name__, args, kwargs)
            if isinstance(owner, str) and obj.__name__ == "join":
                return _measured_str_join(owner)
            return obj
    if isinstance(owner, bytes | int | float | set | frozenset):
        raise SecurityError(f"不允许在模板中调用 {type(owner).__name__}.{obj.__name__}()")
    return obj


def _measured_str_join(sep: str) -> Callable[..., str]:
    def join(iterable: Any) -> str:
        items = []
        total = 0
        for item in iterable:
            _tick()
            total += len(str(item)) + len(sep)
            _too_long(total)
            items.append(item)
        return sep.join(items)

    return join


# --------------------------------------------------------------------------------------------
# Compile-time instrumentation


class _Instrument(NodeTransformer):
    """Loops tick the clock on every iteration; ``~`` and list/tuple/dict literals are measured;
    every written expression and every piece of literal text is counted toward
    ``Limits.written_bytes`` (this covers ``{% set %}`` blocks and macro bodies, which do not
    stream)."""

    def _tick_stmt(self, lineno: int, size: int | None = None) -> nodes.ExprStmt:
        args: list[nodes.Expr] = [nodes.Const(size, lineno=lineno)] if size else []
        call = nodes.Call(nodes.Name("caseflow_tick", "load", lineno=lineno), args, [], None, None, lineno=lineno)
        return nodes.ExprStmt(call, lineno=lineno)

    def _measured(self, node: nodes.Expr, name: str = "caseflow_cap") -> nodes.Expr:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    # ``generic_visit`` transforms the children in place and returns the node itself.

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.body.insert(0, self._tick_stmt(node.lineno))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._measured(node)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return self._measured(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return self._measured(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return self._measured(node) if node.ctx == "load" else node

    def visit_Output(self, node: nodes.Output) -> list[nodes.Node]:
        self.generic_visit(node)
        static = 0
        children: list[nodes.Expr] = []
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                static += len(child.data.encode("utf-8"))
                children.append(child)
            else:
                children.append(self._measured(child, "caseflow_written"))
        node.nodes = children
        return [self._tick_stmt(node.lineno, static), node]


# --------------------------------------------------------------------------------------------
# The environments


def _caseflow_tick(size: int = 0) -> str:
    budget = _BUDGET.get()
    if budget is not None and size:
        budget.write(size)
    return ""


@pass_context
def _caseflow_cap(context: Context, value: Any) -> Any:
    return _checked(value)


@pass_context
def _caseflow_written(context: Context, value: Any) -> Any:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
        budget.write(len(str(value).encode("utf-8", "replace")))
    return value


def _precheck_binop(budget: _Budget, operator: str, left: Any, right: Any) -> None:
    """``'x' * 50000000`` and friends are refused before they allocate."""
    limits = budget.limits
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int):
                text = isinstance(seq, str | bytes)
                size = len(seq) if text else _weight(seq, budget)
                cap = limits.string_chars if text else limits.value_weight
                if size * max(n, 0) > cap:
                    raise LimitExceeded(f"乘法结果过大（{size}×{n}，上限 {cap}）")
                return
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > limits.int_bits
        ):
            raise LimitExceeded("整数乘法结果过大")
    elif operator == "**":
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and right > 0 and abs(left) > 1 and right * left.bit_length() > limits.int_bits:
            raise LimitExceeded("乘方结果过大")
    elif operator == "+":
        if isinstance(left, str | bytes) and isinstance(right, str | bytes):
            if len(left) + len(right) > limits.string_chars:
                raise LimitExceeded(f"字符串过长（上限 {limits.string_chars}）")
        elif (
            isinstance(left, list | tuple)
            and isinstance(right, list | tuple)
            and _weight(left, budget) + _weight(right, budget) > limits.value_weight
        ):
            raise LimitExceeded(f"数据过大（上限 {limits.value_weight} 个单位）")
    elif operator == "%" and isinstance(left, str | bytes):
        _check_percent_format(left)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with caseflow's caps: intercepted operators, measured calls and attribute
    access that tick the render clock."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,
            auto_reload=False,
            cache_size=0,
        )
        self.globals.pop("lipsum", None)
        self.globals["caseflow_tick"] = _caseflow_tick
        filters = dict(self.filters)
        filters["join"] = _join(filters["join"])
        filters["cn_date"] = _cn_date
        filters["elapsed"] = _elapsed
        self.filters = {name: _guard_filter(name, f) for name, f in filters.items()}
        self.filters["caseflow_cap"] = _caseflow_cap
        self.filters["caseflow_written"] = _caseflow_written

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _tick()
        if budget is not None:
            _precheck_binop(budget, operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        target = _precheck_call(obj, args, kwargs)
        if target is not obj:
            return _checked(target(*args, **kwargs))
        return _checked(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _BUDGET.get() is not None:
            _check_brace_format(value.__self__)
        return wrapped


# --------------------------------------------------------------------------------------------
# Compiling and checking


@dataclass(frozen=True)
class _Compiled:
    name: str
    origin: str
    path: Path | None
    source: str
    text: Template
    html: Template


_REFUSED_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Extends, "不允许使用 {% extends %}：模板只能使用传入的数据，不能引用其他文件"),
    (nodes.Include, "不允许使用 {% include %}：模板只能使用传入的数据，不能引用其他文件"),
    (nodes.Import, "不允许使用 {% import %}：模板只能使用传入的数据，不能引用其他文件"),
    (nodes.FromImport, "不允许使用 {% from … import %}：模板只能使用传入的数据，不能引用其他文件"),
    (nodes.EvalContextModifier, "不允许使用 {% autoescape %}：HTML 中的案件数据必须转义"),
)


def _structure_problems(ast: nodes.Template) -> list[Problem]:
    problems: list[Problem] = []
    for kind, message in _REFUSED_NODES:
        for node in ast.find_all(kind):
            problems.append(Problem(node.lineno, message))
    for node in ast.find_all(nodes.Filter):
        if node.name == "safe":
            problems.append(Problem(node.lineno, "不允许使用 |safe：HTML 中的案件数据必须转义"))
    names = {block.name for block in ast.find_all(nodes.Block)}
    for block in BLOCKS:
        if block not in names:
            problems.append(Problem(None, f"缺少区块 {{% block {block} %}}"))
    for node in ast.body:
        if isinstance(node, nodes.Block):
            continue
        if isinstance(node, nodes.Output) and all(
            isinstance(c, nodes.TemplateData) and not c.data.strip() for c in node.nodes
        ):
            continue
        problems.append(
            Problem(
                node.lineno,
                "区块之外只能有空白和注释：内容、赋值和宏请写在 subject/text/html 区块之内",
            )
        )
    return sorted(problems, key=lambda p: (p.line or 0, p.message))


def _error_line(exc: BaseException) -> int | None:
    """The template line of the innermost template frame in the traceback."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            with contextlib.suppress(Exception):  # a line number is a courtesy
                line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _suspended_line(template: Template, generator: Any) -> int | None:
    """The template line where a block stopped writing (for limits hit while streaming)."""
    frame = getattr(generator, "gi_frame", None)
    if frame is None:
        return None
    try:
        return template.get_corresponding_lineno(frame.f_lineno)
    except Exception:  # noqa: BLE001 - a line number is a courtesy
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"语法错误：{exc.message}"
    if isinstance(exc, UndefinedError):
        return f"未定义的变量或字段：{exc.message}"
    if isinstance(exc, LimitExceeded):
        return f"超出限制：{exc}"
    if isinstance(exc, SecurityError):
        return f"不安全的操作被拒绝：{exc}"
    if isinstance(exc, RecursionError):
        return "递归过深"
    if isinstance(exc, MemoryError):
        return "内存不足"
    return f"渲染出错：{type(exc).__name__}: {exc}"


class TemplateStore:
    """The templates in force: the defaults, with valid overrides in their place.

    ``clock`` (monotonic seconds) is injectable so that tests can drive the time cap.
    """

    def __init__(
        self,
        default_dir: Path = DEFAULT_DIR,
        override_dir: Path | None = None,
        *,
        type_dir: Path | None = TYPE_DIR,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_dir = Path(default_dir)
        self.override_dir = Path(override_dir) if override_dir is not None else None
        self.type_dir = Path(type_dir) if type_dir is not None else None
        self._typed: dict[tuple[str, str], _Compiled] = {}
        """Per-type templates in force, by (type, event): shipped, or overridden under
        ``override_dir/<type>/``."""
        self.limits = limits or Limits()
        self.clock = clock
        self._text_env = _Sandbox(autoescape=False)
        self._html_env = _Sandbox(autoescape=True)
        self._lock = threading.Lock()
        self._defaults: dict[str, _Compiled | None] = {}
        """Shipped templates, compiled on first use (None: the file is broken)."""
        self._overrides: dict[str, _Compiled] = {}
        """Admin overrides in force; each passed the full check when it was loaded or saved."""
        self.load_problems: dict[str, list[Problem]] = {}
        """Problems of the files loaded last (``default:NAME`` / ``override:NAME``)."""
        self.reload()

    # -- loading -----------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the override directory. A file that fails the check is logged and ignored:
        the version in force before (the default, or an earlier good override) keeps working."""
        self.load_problems = {k: v for k, v in self.load_problems.items() if not k.startswith("override:")}
        present = set()
        if self.override_dir is not None and self.override_dir.is_dir():
            for path in sorted(self.override_dir.glob("*.j2")):
                name = path.name[: -len(".j2")]
                if name not in EVENTS:
                    log.warning("template override %s names no event; ignored", path)
                    self.load_problems[f"override:{name}"] = [_unknown_event(name)]
                    continue
                present.add(name)
                compiled, problems = self._load_file(name, path, "override")
                if compiled is None:
                    self.load_problems[f"override:{name}"] = problems
                    kept = "previous override" if name in self._overrides else "default"
                    log.warning(
                        "template override %s refused, keeping the %s: %s",
                        path,
                        kept,
                        "; ".join(map(str, problems)),
                    )
                    continue
                self._overrides[name] = compiled
        for name in [n for n in self._overrides if n not in present]:
            del self._overrides[name]
        self._load_typed()

    def _typed_files(self) -> list[tuple[str, Path, str]]:
        """(type, path, origin) of every per-type template, shipped ones first."""
        found = []
        for root, origin in ((self.type_dir, "type"), (self.override_dir, "override")):
            if root is not None and root.is_dir():
                found += [(p.parent.name, p, origin) for p in sorted(root.glob("*/*.j2"))]
        return found

    def _load_typed(self) -> None:
        """Per-type templates: each checked with its type's samples (when there are any); a
        broken one is ignored and the shared template (or the shipped one) serves instead."""
        typed: dict[tuple[str, str], _Compiled] = {}
        for case_type, path, origin in self._typed_files():
            name = path.name[: -len(".j2")]
            compiled, problems = self._load_file(name, path, origin, case_type=case_type)
            key = f"{origin}:{case_type}/{name}"
            self.load_problems.pop(key, None)
            if compiled is None:
                self.load_problems[key] = problems
                log.warning("template %s refused: %s", path, "; ".join(map(str, problems)))
                continue
            typed[(case_type, name)] = compiled
        self._typed = typed

    def typed_names(self, case_type: str) -> set[str]:
        """The events ``case_type`` has a template of its own for."""
        return {name for t, name in self._typed if t == case_type}

    def _default(self, name: str) -> _Compiled | None:
        """The shipped template of ``name``, compiled on first use. Shipped templates are
        checked against the samples by the test suite and ``check_all``, not at every start."""
        with self._lock:
            if name not in self._defaults:
                path = self.default_dir / f"{name}.j2"
                compiled, problems = self._load_file(name, path, "default", samples=False)
                if compiled is None:
                    self.load_problems[f"default:{name}"] = problems
                    log.error("default template %s is invalid: %s", path, "; ".join(map(str, problems)))
                self._defaults[name] = compiled
            return self._defaults[name]

    def _read(self, path: Path) -> tuple[str | None, list[Problem]]:
        try:
            with path.open("rb") as handle:
                data = handle.read(self.limits.source_bytes + 1)
        except OSError as exc:
            return None, [Problem(None, f"无法读取 {path}：{exc.strerror or exc}")]
        if len(data) > self.limits.source_bytes:
            return None, [Problem(None, f"模板过大（超过 {self.limits.source_bytes} 字节）")]
        try:
            return data.decode("utf-8"), []
        except UnicodeDecodeError as exc:
            return None, [Problem(None, f"模板不是 UTF-8 编码：{exc.reason}（第 {exc.start} 字节）")]

    def _load_file(
        self, name: str, path: Path, origin: str, *, samples: bool = True, case_type: str | None = None
    ) -> tuple[_Compiled | None, list[Problem]]:
        source, problems = self._read(path)
        if source is None:
            return None, problems
        compiled, problems = self._validate(name, source, origin, path, samples=samples, case_type=case_type)
        return (compiled if not problems else None), problems

    # -- checking ----------------------------------------------------------------------------

    def check(self, name: str, source: str, case_type: str | None = None) -> list[Problem]:
        """Everything wrong with ``source`` as the template of event ``name`` (empty: usable);
        with ``case_type``, as that type's own template."""
        return self._validate(name, source, "check", None, case_type=case_type)[1]

    def _compile(self, env: _Sandbox, ast: nodes.Template, name: str) -> Template:
        ast.set_environment(env)
        code = env.compile(ast, name=name, filename=f"{name}.j2")
        return env.template_class.from_code(env, code, env.make_globals(None), None)

    def _validate(
        self, name: str, source: str, origin: str, path: Path | None, *, samples: bool = True,
        case_type: str | None = None,
    ) -> tuple[_Compiled | None, list[Problem]]:  # fmt: skip
        """Parse, check the rules, compile for both environments and (``samples``) render
        every sample context of the event (of ``case_type``'s samples for a per-type template:
        its own events are checked against its definition by ``notifications.check_definition``)."""
        if name not in EVENTS and case_type is None:
            return None, [_unknown_event(name)]
        size = len(source.encode("utf-8"))
        if size > self.limits.source_bytes:
            return None, [Problem(None, f"模板过大（{size} 字节，上限 {self.limits.source_bytes}）")]
        try:
            ast = self._text_env.parse(source, name=name, filename=f"{name}.j2")
        except TemplateSyntaxError as exc:
            return None, [Problem(exc.lineno, _describe(exc))]
        except Exception as exc:  # noqa: BLE001 - e.g. an integer literal too long to parse
            return None, [Problem(_error_line(exc), _describe(exc))]
        problems = _structure_problems(ast)
        if problems:
            return None, problems
        try:
            # One parse serves both environments: lexing does not depend on autoescape, and
            # code generation reads it from the environment the tree is compiled with.
            ast = _Instrument().visit(ast)
            text = self._compile(self._text_env, ast, name)
            html = self._compile(self._html_env, ast, name)
            compiled = _Compiled(name, origin, path, source, text, html)
        except Exception as exc:  # noqa: BLE001 - anything the compiler refuses
            return None, [Problem(_error_line(exc), _describe(exc))]
        if case_type is not None:
            chosen = type_samples(name, case_type) if samples else []
        else:
            chosen = sample_contexts(name) if samples else []
        for label, context in chosen:
            # Stop at the first sample that fails: one timeout must not cost a second per sample.
            try:
                rendered = self._render_compiled(compiled, plain_data(context, self.limits))
            except RenderError as exc:
                return compiled, [Problem(p.line, f"{p.message}（样例：{label}）") for p in exc.problems]
            if not rendered.subject:
                return compiled, [Problem(None, f"主题为空（样例：{label}）")]
        return compiled, []

    def check_all(self) -> list[CheckResult]:
        """Every default and every override file as they are on disk now, each given the full
        check (for ``caseflow templates check``)."""
        results = []
        for name in EVENTS:
            path = self.default_dir / f"{name}.j2"
            _compiled, problems = self._load_file(name, path, "default")
            in_force = name not in self._overrides and not problems
            results.append(CheckResult(name, "default", path, problems, in_force))
        if self.override_dir is not None and self.override_dir.is_dir():
            for path in sorted(self.override_dir.glob("*.j2")):
                name = path.name[: -len(".j2")]
                if name not in EVENTS:
                    results.append(CheckResult(name, "override", path, [_unknown_event(name)], False))
                    continue
                _compiled, problems = self._load_file(name, path, "override")
                current = self._overrides.get(name)
                in_force = current is not None and current.path == path and not problems
                results.append(CheckResult(name, "override", path, problems, in_force))
        for case_type, path, origin in self._typed_files():
            name = path.name[: -len(".j2")]
            _compiled, problems = self._load_file(name, path, origin, case_type=case_type)
            current = self._typed.get((case_type, name))
            in_force = current is not None and current.path == path and not problems
            results.append(
                CheckResult(f"{case_type}/{name}", "type" if origin == "type" else origin, path, problems, in_force)
            )
        return results

    # -- overrides ---------------------------------------------------------------------------

    def save_override(self, name: str, source: str) -> Path:
        """Validate ``source`` and, only if it passes, write it atomically as the override of
        ``name`` and put it in force. Raises ``TemplateRejected`` with the problems otherwise."""
        if self.override_dir is None:
            raise InvalidInput("template", "未配置 CASEFLOW_CONFIG_DIR，无法保存模板")
        path = self.override_dir / f"{name}.j2"
        compiled, problems = self._validate(name, source, "override", path)
        if compiled is None or problems:
            raise TemplateRejected(name, problems)
        _write_atomically(path, source.encode("utf-8"))
        self._overrides[name] = compiled
        self.load_problems.pop(f"override:{name}", None)
        log.info("template override %s saved", path)
        return path

    def remove_override(self, name: str) -> bool:
        """Delete the override of ``name`` and go back to the default; False if there was none."""
        if self.override_dir is None or name not in EVENTS:
            return False
        path = self.override_dir / f"{name}.j2"
        if not path.exists():
            return False
        path.unlink()
        self._overrides.pop(name, None)
        self.load_problems.pop(f"override:{name}", None)
        return True

    def source(self, name: str) -> str:
        """The source in force for ``name``."""
        return self._entry(name).source

    def default_source(self, name: str) -> str:
        """The shipped source of ``name`` (what an admin's edit starts from)."""
        return self._entry(name, default=True).source

    def origin(self, name: str) -> str:
        """``default`` or ``override``."""
        return self._entry(name).origin

    # -- rendering ---------------------------------------------------------------------------

    def render(self, event: str, context: dict[str, Any]) -> Rendered:
        """Render ``event`` with ``context`` (plain data, see ``notifications.events``).

        If an override fails at run time (e.g. on data the samples did not have), the default is
        rendered instead and a warning logged; if that fails too, ``RenderError``. A case's type
        may have its own template of the event (``<type>/<event>.j2``), used in its place.
        """
        case = context.get("case")
        typed = self._typed.get((case.get("type"), event)) if isinstance(case, dict) else None
        entry = typed or self._entry(event)
        try:
            data = plain_data(context, self.limits)
        except (TypeError, ValueError) as exc:
            raise RenderError(event, [Problem(None, str(exc))]) from exc
        try:
            return self._render_compiled(entry, data)
        except RenderError as exc:
            if typed is not None:  # a type's own version failed: the shared one, if the event has one
                default = (self._overrides.get(event) or self._default(event)) if event in EVENTS else None
            else:
                default = self._default(event) if entry.origin == "override" else None
            if default is None:
                raise
            log.warning(
                "template override %s failed (%s); rendering the default",
                event,
                "; ".join(map(str, exc.problems)),
            )
            return self._render_compiled(default, data)

    def preview(self, event: str, context: dict[str, Any] | None = None) -> Rendered:
        """``render`` with the sample context when none is given (the admin's preview)."""
        if context is None:
            context = sample_contexts(event)[0][1]
        return self.render(event, context)

    def has(self, event: str, case_type: str) -> bool:
        """Whether a case of ``case_type`` can be told of ``event`` (a template exists)."""
        return (case_type, event) in self._typed or event in EVENTS

    def _entry(self, name: str, *, default: bool = False) -> _Compiled:
        if name not in EVENTS:
            raise RenderError(name, [_unknown_event(name)])
        entry = None if default else self._overrides.get(name)
        entry = entry or self._default(name)
        if entry is None:
            raise RenderError(name, self.load_problems.get(f"default:{name}", []))
        return entry

    def _render_compiled(self, compiled: _Compiled, data: dict[str, Any]) -> Rendered:
        budget = _Budget(self.limits, self.clock, self.clock() + self.limits.seconds)
        token = _BUDGET.set(budget)
        try:
            subject = self._block(compiled.text, "subject", data, budget)
            text = self._block(compiled.text, "text", data, budget)
            html = self._block(compiled.html, "html", data, budget)
        finally:
            _BUDGET.reset(token)
        return Rendered(" ".join(subject.split()), text.strip(), html.strip())

    def _block(self, template: Template, block: str, data: dict[str, Any], budget: _Budget) -> str:
        parts: list[str] = []
        size = 0
        generator = None
        try:
            context = template.new_context(data)
            generator = template.blocks[block](context)
            for chunk in generator:
                size += len(chunk.encode("utf-8", "replace"))
                if size > self.limits.block_bytes:
                    raise LimitExceeded(f"区块 {block} 输出过大（超过 {self.limits.block_bytes} 字节）")
                budget.tick()
                parts.append(chunk)
        except Exception as exc:  # noqa: BLE001 - every failure of a template is reported
            line = _error_line(exc) or _suspended_line(template, generator)
            problem = Problem(line, f"区块 {block}：{_describe(exc)}")
            raise RenderError(template.name or "?", [problem]) from exc
        return "".join(parts)


def _unknown_event(name: str) -> Problem:
    return Problem(None, f"没有名为 {name} 的事件，此模板不会被使用（可用：{'、'.join(EVENTS)}）")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def template_store(config_dir: Path | None = None, **kwargs: Any) -> TemplateStore:
    """The store of an installation: the shipped defaults, overridden from
    ``CASEFLOW_CONFIG_DIR/templates/``."""
    return TemplateStore(DEFAULT_DIR, config_dir / "templates" if config_dir is not None else None, **kwargs)
