"""Writing ledger (台账) workbooks: atomically, streamed, in the shared styles.

``atomic_file`` gives a temporary path that is renamed onto the target at the end, so an
interrupted export leaves nothing behind; ``streamed_workbook`` is a write-only workbook whose
half-written sheets are removed when the block fails; ``styled_cell`` and ``write_header`` make
the cells and the frozen header row of a write-only sheet; ``wall_time`` shows an instant as
Asia/Shanghai wall time. What goes into the sheets is ``ledger.export``'s and
``ledger.annotate``'s.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from workflow.clock import SHANGHAI

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")
HEADER_FONT = Font(bold=True)
PROBLEM_FONT = Font(color="9C0006")
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path next to ``target``, renamed onto it when the block ends without error
    (also on Ctrl-C the temporary file is removed and ``target`` is untouched)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".xlsx.part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def streamed_workbook() -> Iterator[Any]:
    """A write-only workbook; if the block fails (or Ctrl-C), its half-written sheets are closed
    and their temporary files removed."""
    workbook = Workbook(write_only=True)
    try:
        yield workbook
    except BaseException:
        for ws in workbook.worksheets:
            writer = getattr(ws, "_writer", None)
            with suppress(Exception):
                if not ws.closed:
                    ws.close()
            if writer is not None:
                with suppress(OSError):
                    os.remove(writer.out)
        raise


def wall_time(at: datetime | None) -> datetime | None:
    """An instant as Asia/Shanghai wall time (Excel has no time zones)."""
    return at.astimezone(SHANGHAI).replace(tzinfo=None) if at is not None else None


def styled_cell(
    ws: Any,
    value: Any,
    *,
    number_format: str | None = None,
    fill: Any = None,
    font: Any = None,
    comment: str | None = None,
) -> Any:
    """A cell of a write-only sheet with a number format, fill, font or comment."""
    cell = WriteOnlyCell(ws, value=value)
    if number_format:
        cell.number_format = number_format
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    if comment:
        cell.comment = Comment(comment, "caseflow", width=320, height=120)
    return cell


def write_header(ws: Any, headers: list[tuple[str, int]]) -> None:
    """Widths, a frozen bold header row (a write-only sheet: before any other row)."""
    for index, (_, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append([styled_cell(ws, h, fill=HEADER_FILL, font=HEADER_FONT) for h, _ in headers])
