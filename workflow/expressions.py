"""Expressions in definitions: conditions, computed values and computed durations, written in CEL.

A definition may write a rule that needs no Python: ``guards: [{expr: "investment >= 200.0",
message: …}]``, a branch ``when: [{expr: …}]``, a computed field ``compute: …`` or a computed clock
``duration: {expr: …}``. They are Common Expression Language (https://cel.dev) evaluated by
``cel-python``: no statements, no loops, no attribute access on Python objects, no I/O — a
sandbox by construction; never ``eval``.

``compile_expression`` parses one and type-checks it against the variables it may read (the
definition's fields, counters and computed fields, with CEL types from their field types), so a
wrong expression is refused when the definition loads, naming what is wrong; ``Expression.evaluate``
runs it on a case's values. The checker covers the subset definitions need — literals, the
variables, arithmetic, comparisons, ``&&`` ``||`` ``!`` ``?:``, ``in``, list and map literals,
indexing, ``size``, ``min``/``max``, ``int``/``double``/``string``, ``startsWith``/``endsWith``/
``contains`` — and refuses everything else. Where the values come from is the caller's business.

cel-python builds its LALR parser from the grammar on first use (about 0.25 s); the parser tables
are cached in the user's cache directory (``$XDG_CACHE_HOME/caseflow``, private to the user) so
that later processes start in milliseconds.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NoReturn

FIELD_TYPES_TO_CEL: dict[str, str] = {
    "text": "string", "choice": "string", "department": "string", "uscc": "string", "date": "string",
    "integer": "int", "decimal": "double", "yes_no": "bool",
    "text_list": "list", "choice_list": "list", "department_list": "list",
}  # fmt: skip
"""The CEL type a field of each type is read as (dates as ISO text, ``yes_no`` as a bool)."""

TYPE_WORDS = {"int": "整数", "double": "数值", "string": "文本", "bool": "真假值", "list": "列表", "map": "映射",
              "null": "空值"}  # fmt: skip
_NUMERIC = ("int", "double")
_NOISE_PLACES = Decimal("0.000001")


class ExpressionError(ValueError):
    """An expression that cannot be parsed or does not type-check; the message is Chinese."""


@dataclass(frozen=True)
class Expression:
    """One compiled, type-checked CEL expression."""

    source: str
    result: str
    """Its CEL type: ``bool``, ``int``, ``double``, ``string``, ``list`` or ``map``."""
    names: Mapping[str, str]
    """The variables it reads, with their CEL types."""
    _program: Any = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value on ``values`` (Python values of the fields it names; a missing one is null).

        Raises ``ExpressionError`` when CEL cannot evaluate it (a key missing from a map, a
        division by zero, a variable without a value used in arithmetic)."""
        from celpy.evaluation import CELEvalError

        activation = {name: _to_cel(values.get(name), kind) for name, kind in self.names.items()}
        try:
            result = self._program.evaluate(activation)
        except CELEvalError as exc:
            raise ExpressionError(f"表达式“{self.source}”无法求值：{exc.args[0] if exc.args else exc}") from exc
        if isinstance(result, CELEvalError):
            raise ExpressionError(f"表达式“{self.source}”无法求值：{result.args[0] if result.args else result}")
        return _from_cel(result)


def rounded(value: float | int, places: int) -> Decimal:
    """A computed number as a decimal with ``places`` places, half up. CEL counts in binary
    doubles: rounding to six places first drops the binary noise (``200.1 * 0.05`` is
    10.005000000000001 or 10.004999999999999) so that 10.005 rounds to 10.01 as on paper."""
    exact = Decimal(repr(float(value))).quantize(_NOISE_PLACES, rounding=ROUND_HALF_UP)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def compile_expression(source: str, variables: Mapping[str, str], expect: str | None = None) -> Expression:
    """Parse and type-check ``source`` over ``variables`` (name → CEL type); with ``expect``, its
    result must be of that type. Raises ``ExpressionError`` saying what is wrong."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("表达式为空")
    if len(source) > 2000:
        raise ExpressionError(f"表达式过长（{len(source)}个字符，最多2000个）")
    import celpy
    from celpy.celparser import CELParseError

    _install_cached_parser()
    env = celpy.Environment()
    try:
        tree = env.compile(source)
    except CELParseError as exc:
        raise ExpressionError(f"表达式“{source}”有语法错误：{_first_line(exc)}") from exc
    checker = _Checker(variables)
    result = checker.type_of(tree)
    if expect is not None and result != expect and not (expect == "double" and result == "int"):
        raise ExpressionError(
            f"表达式“{source}”的结果是{TYPE_WORDS.get(result, result)}，此处需要{TYPE_WORDS.get(expect, expect)}"
        )
    program = env.program(tree, functions={"min": _min, "max": _max})
    return Expression(source, result, {n: variables[n] for n in sorted(checker.names)}, program)


# --- types ----------------------------------------------------------------------------------------


class _Checker:
    """Infers the CEL type of a parse tree, refusing what definitions may not write."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables
        self.names: set[str] = set()

    def fail(self, reason: str) -> NoReturn:
        raise ExpressionError(reason)

    def type_of(self, node: Any) -> str:
        import lark

        if isinstance(node, lark.Token):
            return self.fail(f"无法识别“{node}”")
        rule = node.data
        kids = node.children
        method = getattr(self, f"_{rule}", None)
        if method is not None:
            return str(method(kids))
        if len(kids) == 1 and rule in ("expr", "conditionalor", "conditionaland", "relation", "addition",
                                       "multiplication", "unary", "member", "primary", "paren_expr"):  # fmt: skip
            return self.type_of(kids[0])
        return self.fail(f"表达式中不支持“{rule}”这种写法")

    def _same(self, left: str, right: str, what: str) -> str:
        if left == right or "null" in (left, right):
            return left if left != "null" else right
        return self.fail(f"{what}的两边类型不同：{TYPE_WORDS.get(left, left)}与{TYPE_WORDS.get(right, right)}"
                         "（整数与小数不能混用，小数请写成 200.0）")  # fmt: skip

    def _expr(self, kids: list[Any]) -> str:
        if len(kids) == 1:
            return self.type_of(kids[0])
        if self.type_of(kids[0]) != "bool":
            self.fail("“条件 ? 值 : 值”的条件须为真假值")
        return self._same(self.type_of(kids[1]), self.type_of(kids[2]), "“? :”")

    def _logic(self, kids: list[Any], word: str) -> str:
        if len(kids) == 1:
            return self.type_of(kids[0])
        for kid in kids:
            if self.type_of(kid) != "bool":
                self.fail(f"“{word}”两边须为真假值")
        return "bool"

    def _conditionalor(self, kids: list[Any]) -> str:
        return self._logic(kids, "||")

    def _conditionaland(self, kids: list[Any]) -> str:
        return self._logic(kids, "&&")

    def _relation(self, kids: list[Any]) -> str:
        if len(kids) == 1:
            return self.type_of(kids[0])
        operator, right = kids[0], self.type_of(kids[1])
        left = self.type_of(operator.children[0])
        if operator.data == "relation_in":
            if right not in ("list", "map"):
                self.fail("“in”的右边须为列表或映射")
            return "bool"
        if operator.data in ("relation_eq", "relation_ne"):
            self._same(left, right, "比较")
            return "bool"
        kind = self._same(left, right, "比较")
        if kind not in (*_NUMERIC, "string"):
            self.fail(f"{TYPE_WORDS.get(kind, kind)}不能比较大小")
        return "bool"

    def _arith(self, kids: list[Any], allowed: tuple[str, ...]) -> str:
        if len(kids) == 1:
            return self.type_of(kids[0])
        operator, right = kids[0], self.type_of(kids[1])
        left = self.type_of(operator.children[0])
        words = {"addition_add": "+", "addition_sub": "-", "multiplication_mul": "*", "multiplication_div": "/",
                 "multiplication_mod": "%"}  # fmt: skip
        symbol = words.get(operator.data, operator.data)
        kind = self._same(left, right, f"“{symbol}”")
        permitted = ("int",) if symbol == "%" else allowed if symbol == "+" else _NUMERIC
        if kind not in permitted:
            self.fail(f"{TYPE_WORDS.get(kind, kind)}不能做“{symbol}”运算")
        return kind

    def _addition(self, kids: list[Any]) -> str:
        return self._arith(kids, (*_NUMERIC, "string", "list"))

    def _multiplication(self, kids: list[Any]) -> str:
        return self._arith(kids, _NUMERIC)

    def _unary(self, kids: list[Any]) -> str:
        if len(kids) == 1:
            return self.type_of(kids[0])
        operand = self.type_of(kids[1])
        if kids[0].data == "unary_not":
            return "bool" if operand == "bool" else self.fail("“!”只能用于真假值")
        return operand if operand in _NUMERIC else self.fail("负号只能用于数值")

    def _literal(self, kids: list[Any]) -> str:
        kind = kids[0].type
        found = {"INT_LIT": "int", "FLOAT_LIT": "double", "STRING_LIT": "string", "MLSTRING_LIT": "string",
                 "BOOL_LIT": "bool", "NULL_LIT": "null"}.get(kind)  # fmt: skip
        return found or self.fail(f"不支持的常量“{kids[0]}”")

    def _ident(self, kids: list[Any]) -> str:
        name = str(kids[0])
        if name in ("true", "false"):
            return "bool"
        if name not in self.variables:
            known = "、".join(sorted(self.variables)) or "无"
            return self.fail(f"未知字段“{name}”；可用：{known}")
        self.names.add(name)
        return self.variables[name]

    def _list_lit(self, kids: list[Any]) -> str:
        items = kids[0].children if kids else []
        kinds = {self.type_of(k) for k in items}
        if len(kinds) > 1:
            self.fail("列表中的元素类型须一致")
        return "list"

    def _map_lit(self, kids: list[Any]) -> str:
        inits = kids[0].children if kids else []
        keys = {self.type_of(k) for k in inits[0::2]}
        values = {self.type_of(v) for v in inits[1::2]}
        if len(keys) > 1 or len(values) > 1:
            self.fail("映射中的键、值类型须各自一致")
        return "map"

    def _member_index(self, kids: list[Any]) -> str:
        container = kids[0]
        kind = self.type_of(container)
        self.type_of(kids[1])
        if kind == "map":
            return self._value_type(container)
        if kind == "list":
            return self._element_type(container)
        return self.fail(f"{TYPE_WORDS.get(kind, kind)}不能用 [ ] 取值")

    def _value_type(self, node: Any) -> str:
        literal = _unwrap(node, "map_lit")
        if literal is None:
            return self.fail("只能对写在表达式中的映射取值，如 {\"A\": 1.0, \"B\": 0.7}[class]")
        inits = literal.children[0].children if literal.children else []
        return self.type_of(inits[1]) if inits else "null"

    def _element_type(self, node: Any) -> str:
        literal = _unwrap(node, "list_lit")
        if literal is None or not literal.children:
            return "string"  # a list field: its elements are text
        return self.type_of(literal.children[0].children[0])

    def _call(self, name: str, args: list[Any], target: Any | None) -> str:
        kinds = [self.type_of(a) for a in args]
        receiver = self.type_of(target) if target is not None else None
        if name == "size" and (len(kinds) == 1 and receiver is None or not kinds and receiver):
            subject = kinds[0] if kinds else receiver
            return "int" if subject in ("string", "list", "map") else self.fail("size 只能用于文本、列表或映射")
        if name in ("min", "max") and receiver is None and len(kinds) == 2:
            kind = self._same(kinds[0], kinds[1], name)
            return kind if kind in _NUMERIC else self.fail(f"{name} 只能用于数值")
        if name in ("int", "double", "string") and receiver is None and len(kinds) == 1:
            return name
        if name in ("startsWith", "endsWith", "contains") and receiver == "string" and kinds == ["string"]:
            return "bool"
        return self.fail(f"不支持的函数“{name}”（参数{len(kinds)}个）；可用：size、min、max、int、double、string、"
                         "startsWith、endsWith、contains")  # fmt: skip

    def _ident_arg(self, kids: list[Any]) -> str:
        return self._call(str(kids[0]), kids[1].children if len(kids) > 1 else [], None)

    def _member_dot_arg(self, kids: list[Any]) -> str:
        return self._call(str(kids[1]), kids[2].children if len(kids) > 2 else [], kids[0])


def _unwrap(node: Any, rule: str) -> Any:
    """The ``rule`` node under single-child wrappers (``member`` → ``primary`` → ``map_lit``)."""
    import lark

    while isinstance(node, lark.Tree):
        if node.data == rule:
            return node
        if node.data == "paren_expr" or len(node.children) == 1:
            node = node.children[0]
            continue
        return None
    return None


# --- values ---------------------------------------------------------------------------------------


def _to_cel(value: Any, kind: str) -> Any:
    """A field's Python value as the CEL type it was declared with (``200`` of a decimal field
    is the double 200.0; ``yes`` of a yes/no field is true)."""
    from celpy import celtypes

    if value is None:
        return None
    if kind == "bool":
        return celtypes.BoolType(value is True or value == "yes")
    if kind == "int":
        return celtypes.IntType(int(value))
    if kind == "double":
        return celtypes.DoubleType(float(value))
    if kind == "list":
        return celtypes.ListType([celtypes.StringType(str(v)) for v in value])
    return celtypes.StringType(str(value))


def _from_cel(value: Any) -> Any:
    from celpy import celtypes

    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, list):
        return [_from_cel(v) for v in value]
    if isinstance(value, dict):
        return {_from_cel(k): _from_cel(v) for k, v in value.items()}
    return value


def _min(a: Any, b: Any) -> Any:
    return a if a <= b else b


def _max(a: Any, b: Any) -> Any:
    return a if a >= b else b


def _first_line(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return re.sub(r"\s+", " ", text).strip()[:200]


def _cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    path = Path(base) / "caseflow"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o022:
            return None  # never unpickle tables from a directory others may write
    except OSError:
        return None
    return path


def _install_cached_parser() -> None:
    """Give cel-python its LALR parser, built from cached tables when they are ours."""
    from celpy.celparser import CELParser

    if CELParser.CEL_PARSER is not None:
        return
    import celpy
    import lark

    grammar = (Path(str(celpy.__file__)).parent / "cel.lark").read_text()
    directory = _cache_dir()
    options: dict[str, Any] = {
        "parser": "lalr", "start": "expr", "g_regex_flags": re.M, "propagate_positions": True,
        "maybe_placeholders": False, "priority": "invert",
        "lexer_callbacks": {"IDENT": CELParser.ambiguous_literals},
    }  # fmt: skip
    if directory is not None:
        options["cache"] = str(directory / f"cel-{lark.__version__}.lark")
    CELParser.CEL_PARSER = lark.Lark(grammar, **options)
