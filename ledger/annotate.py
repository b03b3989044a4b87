"""The annotated copy of a ledger (台账) with problems, for the clerk to correct.

``annotated_copy`` marks every problem of an ``ImportReport`` in a copy of the workbook: the cell
filled red with a comment, a 问题说明 column, and a 问题清单 sheet listing them all (with the
notices). Up to ``FULL_ANNOTATE_ROWS`` rows the clerk's own workbook is annotated and keeps its
formatting; larger ones are copied value by value (streaming). The copy is written atomically
(``ledger.workbook``); finding the problems is ``ledger.importer``'s.
"""

import warnings
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter

from ledger.report import ImportReport, Problem
from ledger.sheet import open_workbook
from ledger.workbook import (
    HEADER_FILL,
    HEADER_FONT,
    PROBLEM_FILL,
    PROBLEM_FONT,
    atomic_file,
    streamed_workbook,
    styled_cell,
    write_header,
)

FULL_ANNOTATE_ROWS = 20_000
"""Up to this many rows the clerk's own workbook is annotated; above, a streamed copy."""


def annotated_copy(report: ImportReport, source: Path, target: Path) -> Path:
    """Write ``target``, the copy of ``source`` with the report's problems marked, and note it in
    ``report.annotated`` (``LedgerService.annotate``)."""
    by_row: dict[int, list[Problem]] = {}
    for p in report.problems:
        by_row.setdefault(p.row, []).append(p)
    with atomic_file(Path(target)) as tmp:
        if report.rows <= FULL_ANNOTATE_ROWS:
            _annotate_in_place(Path(source), tmp, report, by_row)
        else:
            _annotate_streaming(Path(source), tmp, report, by_row)
    report.annotated = str(target)
    return Path(target)


def _problem_sheet(workbook: Any, report: ImportReport, write_only: bool) -> None:
    ws = workbook.create_sheet("问题清单")
    headers = [("行号", 8), ("列", 6), ("列名", 20), ("问题", 80), ("原值", 30)]
    if write_only:
        write_header(ws, headers)
    else:
        for index, (title, width) in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
            cell = ws.cell(1, index, title)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        ws.freeze_panes = "A2"
    for p in report.problems:
        ws.append([p.row, p.column or "—", p.header, p.reason, p.value])
    for note in report.notices:
        ws.append([None, None, "提示", note, None])


def _row_note(problems: list[Problem]) -> str:
    return "；".join(f"{p.column + '列' if p.column else ''}{p.header}：{p.reason}" for p in problems)


def _annotate_in_place(source: Path, target: Path, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = load_workbook(source)
    ws = workbook[report.sheet]
    note_col = ws.max_column + 1
    header = ws.cell(report.header_row, note_col, "问题说明")
    header.font, header.fill = HEADER_FONT, PROBLEM_FILL
    ws.column_dimensions[get_column_letter(note_col)].width = 60
    for row, problems in by_row.items():
        texts: dict[str, list[str]] = {}
        for p in problems:
            if p.column:
                texts.setdefault(p.column, []).append(p.reason)
        for letter, reasons in texts.items():
            cell = ws[f"{letter}{row}"]
            if isinstance(cell, MergedCell):
                cell = next(ws.cell(r.min_row, r.min_col) for r in ws.merged_cells.ranges if cell.coordinate in r)
            cell.fill, cell.font = PROBLEM_FILL, PROBLEM_FONT
            cell.comment = Comment("\n".join(reasons), "caseflow", width=320, height=120)
        note = ws.cell(row, note_col, _row_note(problems))
        note.font = PROBLEM_FONT
    _problem_sheet(workbook, report, write_only=False)
    workbook.save(target)


def _annotate_streaming(source: Path, target: Path, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    original = open_workbook(source)
    try:
        ws_in = original[report.sheet]
        ws_in.reset_dimensions()
        with streamed_workbook() as workbook:
            _copy_marked(ws_in, workbook, report, by_row)
            _problem_sheet(workbook, report, write_only=True)
            workbook.save(target)
    finally:
        original.close()


def _copy_marked(ws_in: Any, workbook: Any, report: ImportReport, by_row: dict[int, list[Problem]]) -> None:
    """Copy the sheet value by value; problem cells red with a comment, notes in a last column."""
    ws = workbook.create_sheet(report.sheet)
    note_at = 0
    rows = ws_in.iter_rows(values_only=True)
    try:
        for number, values in enumerate(rows, start=1):
            problems = by_row.get(number, [])
            reasons: dict[str, list[str]] = {}
            for p in problems:
                if p.column:
                    reasons.setdefault(p.column, []).append(p.reason)
            cells: list[Any] = []
            for index, value in enumerate(values, start=1):
                letter = get_column_letter(index)
                if letter in reasons:
                    cells.append(
                        styled_cell(ws, value, fill=PROBLEM_FILL, font=PROBLEM_FONT, comment="\n".join(reasons[letter]))
                    )
                else:
                    cells.append(value)
            if number == report.header_row:
                note_at = len(values)
                cells.append("问题说明")
            elif problems:
                cells += [None] * max(0, note_at - len(values)) + [_row_note(problems)]
            ws.append(cells)
    finally:
        rows.close()
