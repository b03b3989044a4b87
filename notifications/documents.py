"""The weekly bulletin as documents: a printable HTML page and an ``.xlsx`` workbook (a sheet per
section), both with the 期号 and 文号 when given (the official ``.docx`` is
``notifications.bulletin_docx``)."""

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


OVERALL_COLUMNS = (("label", "指标", 26), ("week", "本周", 12), ("year", "本年累计", 12))
TOWN_COLUMNS = (
    ("unit_name", "镇（街道、园区）", 20), ("found_week", "本周发现", 9), ("found_year", "本年发现", 9),
    ("banned", "取缔", 7), ("rectified", "整顿", 7), ("clearing_done", "两断三清已完成", 13),
    ("clearing_owed", "两断三清应完成", 13), ("passed", "验收通过", 9), ("failed", "验收未通过", 10),
    ("revisited", "回头看", 8), ("relapsed", "复发", 7), ("open", "在办", 7), ("overdue", "超期", 7),
)  # fmt: skip
TIMELINESS_COLUMNS = (
    ("unit_name", "单位", 22), ("item", "事项", 10), ("owed", "本年应办", 9), ("done", "本年办结", 9),
    ("on_time", "其中按时", 9), ("on_time_rate", "按时办结率", 11), ("done_week", "本周办结", 9),
    ("overdue_now", "当前超期", 9), ("avg_days", "平均用时(工作日)", 15),
)  # fmt: skip
SECTIONS = ("一、总体情况", "二、企业问题办理情况（分单位）", "三、“散乱污”整治情况（分镇街）",
            "四、供水供电供气及协办单位办理时效", "五、超期事项", "六、红黑榜", "七、下一步工作要求")  # fmt: skip
"""The bulletin's sections, in order (every rendering follows them)."""


def _titled(ws: Any, title: str) -> None:
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)


def bulletin_xlsx(data: dict[str, Any], *, issue_no: int | None = None, doc_number: str | None = None) -> bytes:
    """One sheet per section, in the bulletin's order: 总体情况; 通报 (the per-unit figures; its
    title row names the 期号 and 文号 when given); 散乱污分镇街; 办理时效 (utilities, then
    co-units); 超期案件; 红黑榜; 工作要求."""
    workbook = Workbook()
    overall = workbook.active
    overall.title = "总体情况"
    numbers = " ".join(part for part in (f"第{issue_no}期" if issue_no is not None else "", doc_number or "") if part)
    title = f"专项工作通报{' ' + numbers if numbers else ''}（{data['week']}，{data['period']}）"
    _titled(overall, f"{SECTIONS[0]}（{data['week']}，{data['period']}）")
    _sheet(overall, OVERALL_COLUMNS, data.get("overall") or [], top=2)
    sheet = workbook.create_sheet("通报")
    _titled(sheet, f"{title} {SECTIONS[1]}")
    _sheet(sheet, COLUMNS, data["rows"], top=2)
    towns = workbook.create_sheet("散乱污分镇街")
    _titled(towns, f"{SECTIONS[2]}（认定、两断三清、验收、回头看、复发为本年累计）")
    _sheet(towns, TOWN_COLUMNS, data.get("towns") or [], top=2)
    timely = workbook.create_sheet("办理时效")
    _titled(timely, SECTIONS[3])
    timeliness = data.get("timeliness") or {}
    utilities, co_units = timeliness.get("utilities") or [], timeliness.get("co_units") or []
    timely.cell(row=2, column=1, value="（一）供水、供电、供气单位").font = Font(bold=True)
    _sheet(timely, TIMELINESS_COLUMNS, utilities, top=3)
    below = 3 + len(utilities) + 2
    timely.cell(row=below, column=1, value="（二）协办单位").font = Font(bold=True)
    _sheet(timely, TIMELINESS_COLUMNS, co_units, top=below + 1)
    timely.freeze_panes = None
    timely.auto_filter.ref = None
    overdue = workbook.create_sheet("超期案件")
    _sheet(overdue, OVERDUE_COLUMNS, data["overdue_cases"])
    board = workbook.create_sheet("红黑榜")
    board.append(["红榜", "黑榜"])
    red, black = data.get("red") or [], data.get("black") or []
    for i in range(max(len(red), len(black))):
        board.append([red[i] if i < len(red) else "", black[i] if i < len(black) else ""])
    for column in ("A", "B"):
        board.column_dimensions[column].width = 26
    requirements = workbook.create_sheet("工作要求")
    _titled(requirements, SECTIONS[6])
    requirements.column_dimensions["A"].width = 100
    for r, paragraph in enumerate((data.get("requirements") or {}).get("paragraphs") or [], start=2):
        requirements.cell(row=r, column=1, value=paragraph).alignment = Alignment(wrap_text=True, vertical="top")
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
