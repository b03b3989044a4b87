"""The import template of a type's ledger (台账): header, example row, dropdowns, explanations.

``write_template`` writes the columns of the type's ledger (``ledger.definition``, without the
export-only ones) with their help as comments, one example row (序号 “示例”: skipped on import;
the ``example`` of each column, or a value derived from its field), a 可选值 sheet feeding the
dropdowns of enumerations and departments, and a 填写说明 sheet explaining every column. The file
is written atomically (``ledger.workbook``).
"""

from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ledger.cells import EXAMPLE_MARK
from ledger.definition import LedgerDefinition
from ledger.model import Column
from ledger.vocabulary import Vocabulary
from ledger.workbook import DATE_FORMAT, HEADER_FILL, HEADER_FONT, REQUIRED_FILL, atomic_file
from workflow.clock import SHANGHAI
from workflow.org import LOCAL_KINDS, Organisation
from workflow.spec import WorkflowSpec

VALIDATION_ROWS = 5000
TODAY = "today"
"""An example cell written ``today`` shows the day the template is written."""


def write_template(definition: LedgerDefinition, org: Organisation, now: datetime, target: Path) -> dict[str, Any]:
    """The import template: header, one example row (skipped on import), an explanation of
    every column and its allowed values, and dropdowns for enumerations and towns."""
    spec = definition.spec
    vocab = Vocabulary(definition, org)
    cols = [c for c in definition.columns if c.role != "export"]
    required = {c.header for c in cols if c.required}
    workbook = Workbook()
    ws = workbook.active
    ws.title = spec.name
    for index, col in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(index)].width = col.width
        cell = ws.cell(1, index, col.header)
        cell.font, cell.fill = HEADER_FONT, REQUIRED_FILL if col.required else HEADER_FILL
        cell.comment = Comment(
            ("必填。" if col.required else "") + (col.help or "文本"), "caseflow", width=300, height=100
        )
    example = _example_row(definition, vocab, now)
    for index, col in enumerate(cols, start=1):
        cell = ws.cell(2, index, example.get(col.key))
        if col.kind == "date":
            cell.number_format = DATE_FORMAT
        elif col.kind == "code":
            cell.number_format = "@"
    ws.freeze_panes = "A2"
    choices = _choice_lists(vocab, cols)
    lists = workbook.create_sheet("可选值")
    ranges: dict[str, str] = {}
    for index, (key, (title, values)) in enumerate(choices.items(), start=1):
        letter = get_column_letter(index)
        lists.column_dimensions[letter].width = max(12, max((len(v) for v in values), default=4) * 2)
        lists.cell(1, index, title).font = HEADER_FONT
        for row, value in enumerate(values, start=2):
            lists.cell(row, index, value)
        ranges[key] = f"'可选值'!${letter}$2:${letter}${len(values) + 1}"
    for index, col in enumerate(cols, start=1):
        if col.key not in ranges:
            continue
        several = col.kind in ("enum_list", "dept_list")
        dv = DataValidation(type="list", formula1=ranges[col.key], allow_blank=True, showErrorMessage=not several,
                            errorTitle="不在可选范围内", error=f"“{col.header}”请从下拉列表中选择", promptTitle=col.header,
                            prompt="可多选，用顿号分隔" if several else "请从下拉列表中选择", showInputMessage=True)  # fmt: skip
        letter = get_column_letter(index)
        dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
        ws.add_data_validation(dv)
    _explanations(workbook.create_sheet("填写说明"), spec, cols, choices)
    workbook.move_sheet("填写说明", offset=-1)
    with atomic_file(Path(target)) as tmp:
        workbook.save(tmp)
    return {
        "file": str(target),
        "type": spec.type,
        "columns": [c.header for c in cols],
        "required": sorted(required),
    }


def _example_row(definition: LedgerDefinition, vocab: Vocabulary, now: datetime) -> dict[str, Any]:
    """Column key → the example cell: the column's ``example`` when the definition gives one,
    else for a row registered today a value of each registration field that has choices."""
    today = now.astimezone(SHANGHAI).date()
    row: dict[str, Any] = {"seq": EXAMPLE_MARK, "date:create": today}
    given = {c.key: c.example for c in definition.columns if c.example is not None}
    if not given:
        row.update(_derived_example(definition, vocab))
    for key, value in given.items():
        row[key] = today if value == TODAY else value
    return row


def _derived_example(definition: LedgerDefinition, vocab: Vocabulary) -> dict[str, Any]:
    spec, row = definition.spec, {}
    for col in definition.columns:
        field = spec.fields.get(col.key) if col.role == "field" else None
        if field is None:
            continue
        if col.kind in ("enum", "enum_list", "yes_no"):
            values = vocab.choices(col.key)
            row[col.key] = values[0] if values else None
        elif col.kind == "dept":
            names = vocab.towns() if _local(vocab, col) else vocab.department_names()
            row[col.key] = names[0] if names else None
    return row


def _choice_lists(vocab: Vocabulary, cols: list[Column]) -> dict[str, tuple[str, list[str]]]:
    """Column key → (title, values) of every enumeration the template offers in a dropdown."""
    result: dict[str, tuple[str, list[str]]] = {}
    for col in cols:
        if col.kind in ("enum", "enum_list", "yes_no"):
            key = "state" if col.role == "state" else (col.field or col.key)
            values = list(vocab.choices(key))
            if values:
                result[col.key] = (col.header, values)
        elif col.kind == "dept" and _local(vocab, col):
            result[col.key] = (col.header, vocab.towns())
        elif col.kind in ("dept", "dept_list"):
            result[col.key] = (col.header, vocab.department_names())
    return result


def _local(vocab: Vocabulary, col: Column) -> bool:
    """Whether a department column takes only towns, streets and parks (a 属地)."""
    field = vocab.spec.fields.get(col.field or col.key)
    return field is not None and bool(field.kinds) and set(field.kinds) <= set(LOCAL_KINDS)


def _explanations(ws: Any, spec: WorkflowSpec, cols: list[Column], choices: dict[str, tuple[str, list[str]]]) -> None:
    headers = [("列名", 18), ("是否必填", 10), ("填写说明", 60), ("可选值", 80)]
    for index, (title, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
        cell = ws.cell(1, index, title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    ws.freeze_panes = "A2"
    for row, col in enumerate(cols, start=2):
        allowed = "、".join(choices[col.key][1]) if col.key in choices else ""
        ws.cell(row, 1, col.header)
        ws.cell(row, 2, "必填" if col.required else "")
        ws.cell(row, 3, col.help or ("日期" if col.kind == "date" else "文本"))
        ws.cell(row, 4, allowed)
    notes = (
        f"本模板用于导入{spec.name}台账。表头可以不在第一行（上方可有标题行），列的顺序不限，可删去不用的列。",
        "“当前状态”不是初始状态时，系统按流程规则从登记起逐步补记各环节（以填写的日期为准，只填日期的按当天 9:00 计），"
        "期限按当时的工作日历计算，办理记录标注为台账导入。",
        "序号填“示例”的行不会导入。导入前可先用 --dry-run 校验；有问题时会生成标注了问题的副本（*.errors.xlsx）。",
    )
    start = len(cols) + 3
    for offset, text in enumerate(notes):
        ws.cell(start + offset, 1, text)
