"""The ledger (台账) every type gets from its definition alone, without a ``ledger:`` section.

``derived_columns(spec)`` in order: 序号 and 编号; the registration fields (``create.required``
then ``optional``, in the order the fields are declared; header = the field's label, how cells are
read from its type); 当前状态 and 登记日期; for each step a row can replay (``path_triggers``: the
steps of the shortest paths from the initial state, not the system's) its day (``date:<step>``,
"<step label>日期") and its inputs (a stored input under its field's name, another as
``<step>.<field>``); for each checklist item its day (``item:<item>``, "<item label>日期") and the
inputs it requires; then the computed fields (a subsidy's amount), 办理期限 and 督办等级, which
the export fills and the import ignores.

What a ``ledger:`` section changes is ``ledger.definition``'s.
"""

from collections import deque
from typing import Any

from ledger.model import Column
from workflow.org import SYSTEM_ROLE
from workflow.spec import FieldSpec, WorkflowSpec

DATE_HELP = "日期，如 2026-09-30（也可写 2026/9/30、2026年9月30日，或 Excel 日期）"
EXPORT_ONLY = "导出时填写，导入时忽略"
_KINDS = {"text": "text", "text_list": "text", "choice": "enum", "choice_list": "enum_list", "department": "dept",
          "department_list": "dept_list", "uscc": "code", "date": "date", "integer": "integer",
          "decimal": "decimal", "yes_no": "yes_no"}  # fmt: skip


def field_kind(spec: FieldSpec) -> str:
    return _KINDS.get(spec.type, "text")


def _c(key: str, header: str, *aliases: str, **kw: Any) -> Column:
    return Column(key, header, tuple(aliases), **kw)


def head(spec: WorkflowSpec) -> tuple[Column, ...]:
    number_help = f"可不填，系统自动编号；填本系统格式的编号（如 {spec.number_prefix}-2026-00001）且未被占用时沿用"
    return (
        _c("seq", "序号", "编号序号", "No", "No.", role="seq", width=6, help="可不填；填“示例”的行不导入"),
        _c("number", "编号", "案件编号", "问题编号", "台账编号", role="number", width=16, help=number_help),
    )


STATE = _c("state", "当前状态", "状态", "办理状态", "办理进度", "目前状态", role="state", kind="enum", width=22,
           help="不填为初始状态；可填状态中文名称或代码，见“可选值”")  # fmt: skip
CREATED = _c("date:create", "登记日期", "收集日期", "录入日期", "发现日期", "排查日期", "反映日期", role="date",
             kind="date", width=12, help=DATE_HELP + "；不填时取最早的办理日期，都不填为导入时间")  # fmt: skip
TAIL = (
    _c("due_date", "办理期限", "当前期限", "期限", role="export", kind="date", width=12, help=EXPORT_ONLY),
    _c("ladder", "督办等级", "督办级别", role="export", width=10, help=EXPORT_ONLY),
)


def path_triggers(spec: WorkflowSpec, excluded: frozenset[str] = frozenset()) -> list[str]:
    """The steps of the shortest paths from the initial state to every state (breadth first, in
    definition order), without ``excluded``."""
    used: set[str] = set()
    queue: deque[str] = deque([spec.initial])
    seen = {spec.initial}
    while queue:
        state = queue.popleft()
        for t in spec.transitions:
            if state in t.sources and t.dest is not None and t.dest not in seen and t.trigger not in excluded:
                seen.add(t.dest)
                used.add(t.trigger)
                queue.append(t.dest)
    return [t for t in spec.triggers if t in used]


def _column_of_field(key: str, spec: FieldSpec, **kw: Any) -> Column:
    kind = field_kind(spec)
    return Column(key, spec.label, kind=kind, width=12 if kind == "date" else 14,
                  help=DATE_HELP if kind == "date" else "", **kw)  # fmt: skip


def derived_columns(spec: WorkflowSpec) -> tuple[Column, ...]:
    """Every column the definition gives, in order (see the module's docstring)."""
    registration = set(spec.create.required) | set(spec.create.optional)
    cols: list[Column] = list(head(spec))
    for name, field_spec in spec.fields.items():
        if name in registration:
            cols.append(_column_of_field(name, field_spec, required=name in spec.create.required))
    cols += [STATE, CREATED]
    taken = {c.key for c in cols}
    for trigger in path_triggers(spec):
        branches = [t for t in spec.transitions if t.trigger == trigger]
        if all(r.role == SYSTEM_ROLE for t in branches for r in t.actors):
            continue  # the system's step happens when it is due: nothing for a clerk to write
        label = branches[0].label
        cols.append(Column(f"date:{trigger}", f"{label}日期", role="date", triggers=(trigger,), kind="date", width=12,
                           help=DATE_HELP))  # fmt: skip
        for t in branches:
            for name in t.inputs:
                stored = name in t.store
                key = name if stored else f"{trigger}.{name}"
                if key in taken or name in registration:
                    continue
                taken.add(key)
                header = spec.fields[name].label if stored else f"{label}{spec.fields[name].label}"
                steps = tuple(
                    x for x in path_triggers(spec)
                    if any(name in b.store for b in spec.transitions if b.trigger == x)
                ) if stored else (trigger,)  # fmt: skip
                column = _column_of_field(key, spec.fields[name], role="input", field=name, triggers=steps)
                cols.append(Column(**{**column.__dict__, "header": header}))
    for checklist in spec.checklists.values():
        for item in checklist.items.values():
            cols.append(Column(f"item:{item.key}", f"{item.label}日期", role="item", item=item.key, kind="date",
                               width=12, help=DATE_HELP))  # fmt: skip
            for name in item.required:
                key = (
                    name
                    if name not in taken and name not in spec.fields.keys() & registration
                    else f"item:{item.key}.{name}"
                )
                taken.add(key)
                cols.append(_column_of_field(key, spec.fields[name], role="item_input", field=name, item=item.key))
    computed = [
        Column(name, f.label, role="export", kind=field_kind(f), width=14, help=f"系统计算（{EXPORT_ONLY}）")
        for name, f in spec.fields.items() if f.compute is not None
    ]  # fmt: skip
    return (*cols, *computed, *TAIL)
