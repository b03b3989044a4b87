"""The weekly bulletin as documents: a printable HTML page and an ``.xlsx`` workbook, both with
the 期号 and 文号 when given (the official ``.docx`` is ``notifications.bulletin_docx``)."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from notifications.render import TemplateStore

COLUMNS = (
    ("rank_label", "排名", 6),
    ("unit_name", "单位", 24),
    ("assigned", "交办数", 8),
    ("on_time_accept_rate", "按期签收率", 11),
    ("returned", "退回数", 8),
    ("completed", "办结数", 8),
    ("on_time_rate", "按期办结率", 11),
    ("current_overdue", "当前超期数", 11),
    ("total_overdue", "累计超期数", 11),
    ("avg_days", "平均用时(工作日)", 15),
    ("extensions", "延期数", 8),
    ("satisfaction_rate", "满意率", 9),
    ("reworks", "重办数", 8),
    ("warned", "临期预警", 9),
    ("overdue", "逾期催办", 9),
    ("supervised", "督办", 7),
    ("listed", "挂牌督办", 9),
)
OVERDUE_COLUMNS = (
    ("number", "编号", 16), ("title", "标题", 36), ("type_label", "类型", 12), ("obligation_label", "超期环节", 14),
    ("unit_name", "责任单位", 20), ("lead_unit_name", "主办单位", 20), ("due_date", "期限", 12), ("supervision_label", "督办级别", 10),
)  # fmt: skip
_HEADER = Font(bold=True, color="FFFFFF")
_FILL = PatternFill("solid", fgColor="1F4E79")


def _numbered(data: dict[str, Any], issue_no: int | None, doc_number: str | None) -> dict[str, Any]:
    """``data`` with ``issue_no`` (期号) and ``doc_number`` (文号) when they are given."""
    extra = {k: v for k, v in (("issue_no", issue_no), ("doc_number", doc_number)) if v is not None}
    return {**data, **extra}


def bulletin_html(templates: TemplateStore, data: dict[str, Any], office: dict[str, str], *,
                  issue_no: int | None = None, doc_number: str | None = None) -> str:  # fmt: skip
    """A complete, printable HTML page built from the bulletin template's HTML block."""
    context = {
        "bulletin": _numbered(data, issue_no, doc_number),
        "office": office,
        "recipient": {"username": "", "display_name": "", "department_name": ""},
    }
    rendered = templates.render("bulletin", context)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{_escape(rendered.subject)}</title>"
        "<style>body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}"
        "@media print{body{margin:0}}</style></head><body>"
        f"{rendered.html or ''}</body></html>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sheet(ws: Any, columns: tuple[tuple[str, str, int], ...], rows: list[dict[str, Any]], top: int = 1) -> None:
    """A header row at ``top`` (frozen, filtered) and one row per item below it."""
    for index, (_, label, width) in enumerate(columns, start=1):
        cell = ws.cell(row=top, column=index, value=label)
        cell.font, cell.fill = _HEADER, _FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(index)].width = width
    for r, row in enumerate(rows, start=top + 1):
        for c, (key, _, _) in enumerate(columns, start=1):
            ws.cell(row=r, column=c, value=row.get(key))
    ws.freeze_panes = f"A{top + 1}"
    if rows:
        ws.auto_filter.ref = f"A{top}:{get_column_letter(len(columns))}{len(rows) + top}"


def bulletin_xlsx(data: dict[str, Any], *, issue_no: int | None = None, doc_number: str | None = None) -> bytes:
    """The figures on a sheet 通报 (its title row names the 期号 and 文号 when given) and the
    overdue cases on a sheet 超期案件."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "通报"
    numbers = " ".join(part for part in (f"第{issue_no}期" if issue_no is not None else "", doc_number or "") if part)
    title = f"专项工作通报{' ' + numbers if numbers else ''}（{data['week']}，{data['period']}）"
    sheet.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    _sheet(sheet, COLUMNS, data["rows"], top=2)
    overdue = workbook.create_sheet("超期案件")
    _sheet(overdue, OVERDUE_COLUMNS, data["overdue_cases"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def percent(rate: float | None) -> str:
    """A rate as people read it: ``87.5%``, or ``—`` when there is nothing to count."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


SCORE_COLUMNS = (
    ("排名", 6), ("单位", 24), ("得分", 8), ("按时签收率", 11), ("按期办结率", 11), ("满意率", 9),
    ("退回率", 9), ("重办率", 9), ("办结事项", 9), ("超期未办", 9), ("督办", 7), ("挂牌督办", 9),
)  # fmt: skip
"""The assessment's columns (header, width in the workbook)."""


def score_cells(row: dict[str, Any]) -> list[Any]:
    """One unit's line of the assessment, as shown (rates in per cent, "—" where not counted)."""
    f = row["figures"]
    return [
        row["rank"] if row["rank"] is not None else "—", row["unit_name"],
        row["score"] if row["score"] is not None else "—",
        percent(f["on_time_accept_rate"]), percent(f["on_time_rate"]), percent(f["satisfaction_rate"]),
        percent(f["return_rate"]), percent(f["rework_rate"]), f["done"], f["overdue_open"], f["supervised"], f["listed"],
    ]  # fmt: skip


def score_xlsx(result: dict[str, Any]) -> bytes:
    """The assessment on a sheet 考核 (title, one line per unit) and the 红黑榜 on a sheet 红黑榜."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "考核"
    sheet.cell(row=1, column=1, value=f"{result['period_label']}各单位考核得分").font = Font(bold=True, size=14)
    for index, (label, width) in enumerate(SCORE_COLUMNS, start=1):
        cell = sheet.cell(row=2, column=index, value=label)
        cell.font, cell.fill = _HEADER, _FILL
        sheet.column_dimensions[get_column_letter(index)].width = width
    for r, row in enumerate(result["rows"], start=3):
        for c, value in enumerate(score_cells(row), start=1):
            sheet.cell(row=r, column=c, value=value)
    sheet.freeze_panes = "A3"
    board = workbook.create_sheet("红黑榜")
    names = {r["unit"]: (r["unit_name"], r["score"]) for r in result["rows"]}
    board.append(["红榜", "得分", "黑榜", "得分"])
    for i in range(max(len(result["red"]), len(result["black"]))):
        red = names[result["red"][i]] if i < len(result["red"]) else ("", "")
        black = names[result["black"][i]] if i < len(result["black"]) else ("", "")
        board.append([red[0], red[1], black[0], black[1]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
