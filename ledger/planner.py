"""One ledger (台账) row planned: its cells read, its registration checked, its history replayed.

``RowPlanner`` holds what one import knows (an ``ImportContext``: the sheet's columns, the
vocabulary, the numbers and open cases already taken) and turns each row into a ``Planned`` case
(its columns, checklist items and events) or into the ``Problem``s that stop it. The walk through
the rulebook is ``ledger.replay.Replay``'s. Nothing here reads a file or touches the database:
reading the sheet, loading what is taken and writing the cases is ``ledger.importer``'s.
"""

from collections.abc import Callable
from typing import Any

from ledger.cells import LOST_DIGITS, CellError, as_text, fold, loose, lossy, read_code, read_date
from ledger.context import ImportContext, Planned, RowFault, is_open
from ledger.model import Column
from ledger.replay import Replay
from ledger.report import Problem
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput
from workflow.fields import check_inputs, normalise
from workflow.uscc import check_uscc


class RowPlanner:
    """``plan`` turns one row into a ``Planned`` case or its problems; ``ctx`` is what the
    import knows (``open_keys``, ``taken`` and ``unstaffed`` are loaded by the importer)."""

    def __init__(self, ctx: ImportContext) -> None:
        self.ctx = ctx
        spec, cols, found = ctx.spec, ctx.cols, ctx.found
        self.missing_fields = {k for k in spec.create.required if k in cols and k not in found}
        self.seen: dict[tuple[str, ...], int] = {}
        self.numbers: dict[str, int] = {}
        self.readers = [
            (k, f.index, self.reader(f.column)) for k, f in found.items() if f.column.role not in ("seq", "export")
        ]

    # --- cells ---------------------------------------------------------------------------------

    def reader(self, col: Column) -> Callable[[Any], Any]:
        """How a cell of this column is read (``CellError`` when it cannot be)."""
        spec, vocab = self.ctx.spec, self.ctx.vocab
        kind, key = col.kind, col.field or col.key
        if kind == "code" and key in spec.fields and spec.fields[key].type == "uscc":
            return _read_uscc
        if kind == "code":
            return read_code
        if kind == "date":
            return read_date
        if kind == "enum" and col.role != "state":
            return lambda raw: vocab.choice(key, raw)
        if kind == "enum_list":
            return lambda raw: vocab.choice_list(key, raw)
        if kind == "dept":
            spec_field = spec.fields.get(key)
            kinds = spec_field.kinds if spec_field else ()
            return lambda raw: vocab.department(raw, kinds)
        if kind == "dept_list":
            return vocab.department_list
        if kind == "integer":
            return _integer
        if kind == "decimal":
            return lambda raw: fold(as_text(raw))
        return lambda raw: raw if col.role == "state" else as_text(raw)

    # --- one row -------------------------------------------------------------------------------

    def plan(self, row: int, values: list[Any]) -> tuple[Planned | None, list[Problem]]:
        ctx = self.ctx
        problems: list[Problem] = []
        parsed: dict[str, Any] = {}
        raw_of: dict[str, Any] = {}
        width = len(values)
        for key, index, read in self.readers:
            raw = values[index] if index < width else None
            if raw is None or (raw.__class__ is str and not raw.strip()):
                continue
            raw_of[key] = raw
            try:
                parsed[key] = read(raw)
            except CellError as exc:
                problems.append(ctx.problem(row, key, str(exc), raw))
        cell_errors = bool(problems)
        inputs, registration_ok = self._registration(row, parsed, raw_of, problems, set(raw_of) - set(parsed))
        replay = Replay(ctx, row, parsed, raw_of)
        # after a bad cell, later faults are often its consequences: report only new columns
        replay.quiet = cell_errors or not registration_ok
        try:
            replay.run(inputs)
        except RowFault as fault:
            found = ctx.problem(row, fault.key, fault.reason, raw_of.get(fault.key or "state"))
            consequence = fault.key in (None, "state") or found.header in {p.header for p in problems}
            if not (replay.quiet and consequence):
                problems.append(found)
            replay.quiet = True  # what the walk did not reach is no contradiction of its own
        problems += replay.leftovers() + replay.unstaffed()
        duplicate_key = self._duplicate(row, inputs, replay, problems)
        number = self._number(row, parsed, raw_of, problems)
        if problems:
            return None, _unique(problems)
        year = replay.created_at.astimezone(SHANGHAI).year
        if number is not None:
            year = int(number.split("-")[1])
        return replay.planned(number, year, duplicate_key), []

    def _registration(self, row: int, parsed: dict[str, Any], raw_of: dict[str, Any], problems: list[Problem],
                      unreadable: set[str]) -> tuple[dict[str, Any], bool]:  # fmt: skip
        ctx = self.ctx
        spec = ctx.spec
        create = spec.create
        given = {c.key: parsed[c.key] for c in ctx.cols.values() if c.role == "field" and c.key in parsed}
        try:
            return check_inputs(spec.fields, given, create.required, create.optional, ctx.org, what="登记"), True
        except InvalidInput as exc:
            for name, reason in exc.errors.items():
                if name not in self.missing_fields and name not in unreadable:
                    problems.append(ctx.problem(row, name, reason, raw_of.get(name)))
        partial: dict[str, Any] = {}
        for name, value in given.items():
            try:
                partial[name] = normalise(spec.fields[name], value, ctx.org)
            except InvalidInput:
                continue
        return partial, False

    def _duplicate(
        self, row: int, inputs: dict[str, Any], replay: Replay, problems: list[Problem]
    ) -> tuple[str, ...] | None:
        ctx = self.ctx
        duplicates = ctx.definition.duplicates
        if duplicates is None:
            return None
        values = [inputs.get(name) for name in duplicates.fields]
        if not all(values) or not is_open(replay.state, ctx.spec):
            return None
        key = tuple(loose(str(v)) for v in values)
        column, shown = duplicates.column, values[-1]
        earlier = self.seen.get(key)
        if earlier is not None:
            problems.append(ctx.problem(row, column, f"与第{earlier}行重复：{duplicates.what}在表中出现两次", shown))
        else:
            self.seen[key] = row
        existing = ctx.open_keys.get(key)
        if existing is not None:
            problems.append(ctx.problem(row, column, f"重复：{duplicates.what}已有未办结案件 {existing}", shown))
        return key

    def _number(self, row: int, parsed: dict[str, Any], raw_of: dict[str, Any], problems: list[Problem]) -> str | None:
        ctx = self.ctx
        text = fold(as_text(parsed["number"])).upper() if "number" in parsed else ""
        parts = text.split("-")
        ours = len(parts) == 3 and parts[0] == ctx.spec.number_prefix and len(parts[1]) == 4 and parts[1].isdigit()
        if not (ours and len(parts[2]) >= 5 and parts[2].isdigit()):
            return None
        earlier = self.numbers.get(text)
        if earlier is not None:
            problems.append(ctx.problem(row, "number", f"编号与第{earlier}行重复", raw_of.get("number")))
        self.numbers.setdefault(text, row)
        if text in ctx.taken:
            reason = f"编号 {text} 已被系统中的案件使用（该案件可能已导入过）"
            problems.append(ctx.problem(row, "number", reason, raw_of.get("number")))
        return text


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    result = []
    for p in problems:
        key = (p.row, p.column, p.header, p.reason)
        if key not in seen:
            seen.add(key)
            result.append(p)
    return result


def _read_uscc(raw: Any) -> str:
    text = read_code(raw)
    if lossy(raw):
        try:
            check_uscc(text)
        except InvalidInput:
            raise CellError(LOST_DIGITS.format(shown=text)) from None
    return text


def _integer(raw: Any) -> Any:
    text = fold(as_text(raw))
    return int(text) if text.isdigit() else text
