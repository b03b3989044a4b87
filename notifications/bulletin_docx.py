"""The weekly bulletin (工作通报) as an official document (公文, GB/T 9704-2012) in ``.docx``.

``bulletin_docx`` lays out the data of ``cases.reports.bulletin`` (as ``Periodic.bulletin_data``
returns it) on A4 with the standard margins (top 37 mm, bottom 35 mm, left 28 mm, right 26 mm):
the 期号 and the 文号 above a plain rule, the title in 2号 方正小标宋简体, the body in 3号
仿宋_GB2312 on a fixed 28.95 pt line (22 lines a page), headings in 黑体 (一、) and 楷体 (（一）),
the seven sections (一、总体情况; 二、企业问题办理情况（分单位）; 三、“散乱污”整治情况（分镇街） and
四、供水供电供气及协办单位办理时效 with their tables; 五、超期事项; 六、红黑榜; 七、下一步工作要求, the
office's text), "特此通报。", the note of the attachments, the office's name and the date (2026年12月7日)
right-aligned; then the attachments on landscape pages: the per-unit figures (the columns of the
``.xlsx``) and the overdue cases. Page numbers "— 1 —" (a PAGE field) are centred at the foot.
Every font is set for East Asian text too (``w:eastAsia``), on the styles and on the runs: the
font names are for the reader's Word or WPS (PITFALLS.md "python-docx and Chinese fonts").

``bulletin_issue`` gives a bulletin its 期号 and 文号: the 期号 is the ISO week number of the
week (the bulletin of 2026-W49 is 第49期, one bulletin a week) unless one is given; the 文号
fills the configured pattern (``notifications.yaml`` ``bulletin_doc_number``) with the ISO year
of the week and the 期号.

Left to others: the figures (``cases.reports``), the HTML page and the workbook
(``notifications.documents``), writing the file or serving the download (the CLI, the pages and
the API), and PDF (a reader's Word, WPS or LibreOffice prints the document).
"""

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from notifications.config import NotificationConfig
from notifications.documents import COLUMNS, OVERDUE_COLUMNS

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
TITLE_SIZE = Pt(22)  # 2号
BODY_SIZE = Pt(16)  # 3号
TABLE_SIZE = Pt(10.5)  # 5号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
LINE = Pt(28.95)
"""Fixed line pitch of the body: 225 mm of type area / 22 lines."""
INDENT = Pt(32)
"""Two characters of 3号."""
MARGINS = {"top": Mm(37), "bottom": Mm(35), "left": Mm(28), "right": Mm(26)}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NUMERALS = "一二三四五六七八九十"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_LEVELS = (("listed", "挂牌督办"), ("supervised", "督办"), ("overdue", "逾期催办"))


@dataclass(frozen=True)
class BulletinIssue:
    """The 期号 and the 文号 of one week's bulletin."""

    year: int
    """The ISO year of the week: the year of the 文号."""
    issue_no: int
    """The 期号 N of "第N期"."""
    doc_number: str
    """The 文号, e.g. 桐联办通〔2026〕49号."""


def bulletin_issue(week: str, config: NotificationConfig, issue_no: int | None = None) -> BulletinIssue:
    """The 期号 (by default the ISO week number of ``week``: one bulletin a week, the first week of
    the year is 第1期) and the 文号 from the configured pattern."""
    match = _WEEK.match(week.upper())
    if match is None:
        raise ValueError(f"not an ISO week: {week!r}")
    year, number = int(match.group(1)), int(match.group(2))
    issue = number if issue_no is None else issue_no
    return BulletinIssue(year, issue, config.bulletin_number(year, issue))


def official_date(day: date) -> str:
    """``2026-12-07`` → ``2026年12月7日`` (DOMAIN.md §13)."""
    return f"{day.year}年{day.month}月{day.day}日"


def _period(data: dict[str, Any]) -> str:
    """``2026-11-30 至 2026-12-06`` → ``2026年11月30日至12月6日``."""
    try:
        first, last = (date.fromisoformat(part.strip()) for part in str(data["period"]).split("至"))
    except ValueError:
        return str(data["period"])
    tail = official_date(last) if last.year != first.year else f"{last.month}月{last.day}日"
    return f"{official_date(first)}至{tail}"


def _chinese_number(n: int) -> str:
    if n <= 10:
        return NUMERALS[n - 1]
    if n < 20:
        return "十" + NUMERALS[n - 11]
    return NUMERALS[n // 10 - 1] + "十" + (NUMERALS[n % 10 - 1] if n % 10 else "")


def cell_text(value: Any) -> str:
    """A figure as the tables show it: integers as they are, average days to one decimal, and
    the preformatted rates ("87.5%", "—") unchanged."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# --- fonts, styles, page ---------------------------------------------------------------------------


def set_fonts(element: Any, font: str) -> None:
    """Name ``font`` for Latin and East Asian text on a run's or a style's ``rPr``; theme fonts
    would win over the names, so they go."""
    rfonts = _rpr(element).get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if rfonts.get(qn(theme)) is not None:
            del rfonts.attrib[qn(theme)]
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attribute), font)


def _child(parent: Any, tag: str) -> Any:
    found = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        parent.append(found)
    return found


def _rpr(element: Any) -> Any:
    """The ``w:rPr`` of a run, a style or ``w:rPrDefault``."""
    if hasattr(element, "get_or_add_rPr"):
        return element.get_or_add_rPr()
    return _child(element, "w:rPr")


def _paragraph_style(document: Any, name: str, style_id: str, font: str, size: Pt, *, bold: bool = False,
                     line: Pt = LINE, align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY) -> Any:  # fmt: skip
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.style_id = style_id
    style.base_style = document.styles["Normal"]
    style.quick_style = True
    style.font.size, style.font.bold = size, bold
    set_fonts(style.element, font)
    fmt = style.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, line
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.alignment = align
    fmt.widow_control = False
    return style


def _styles(document: Any) -> None:
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")) if defaults is not None else None
    if rpr_default is not None:
        set_fonts(rpr_default, BODY_FONT)
        lang = _child(_rpr(rpr_default), "w:lang")
        lang.set(qn("w:val"), "zh-CN")
        lang.set(qn("w:eastAsia"), "zh-CN")
    normal = document.styles["Normal"]
    normal.font.size = BODY_SIZE
    set_fonts(normal.element, BODY_FONT)
    fmt = normal.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, LINE
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = False
    _paragraph_style(document, "公文正文", "GongwenBody", BODY_FONT, BODY_SIZE)
    _paragraph_style(document, "公文标题", "GongwenTitle", TITLE_FONT, TITLE_SIZE, line=Pt(35),
                     align=WD_ALIGN_PARAGRAPH.CENTER)  # fmt: skip
    _paragraph_style(document, "一级标题", "GongwenHeading1", HEADING1_FONT, BODY_SIZE)
    _paragraph_style(document, "二级标题", "GongwenHeading2", HEADING2_FONT, BODY_SIZE)
    _paragraph_style(document, "表格文字", "GongwenTable", BODY_FONT, TABLE_SIZE, line=Pt(18),
                     align=WD_ALIGN_PARAGRAPH.CENTER)  # fmt: skip
    _paragraph_style(document, "页码", "GongwenPageNumber", PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE, line=Pt(20),
                     align=WD_ALIGN_PARAGRAPH.CENTER)  # fmt: skip


def _page(section: Any, *, landscape: bool = False) -> None:
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    if landscape:  # the portrait margins turned with the sheet: the binding edge keeps its width
        section.top_margin, section.bottom_margin = MARGINS["left"], MARGINS["right"]
        section.left_margin, section.right_margin = MARGINS["top"], MARGINS["bottom"]
    else:
        section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
        section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance = Mm(15)
    section.footer_distance = Mm(21)  # the number's line starts about 7 mm below the type area


def _field(paragraph: Any, instruction: str, shown: str) -> None:
    """A complex field (``PAGE``) with ``shown`` as its last computed value."""

    def part(kind: str) -> None:
        run = paragraph.add_run()
        char = OxmlElement("w:fldChar")
        char.set(qn("w:fldCharType"), kind)
        run._r.append(char)

    part("begin")
    code = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    code._r.append(text)
    part("separate")
    paragraph.add_run(shown)
    part("end")


def _footer(section: Any) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph.style = "页码"
    paragraph.add_run("— ")
    _field(paragraph, "PAGE", "1")
    paragraph.add_run(" —")
    for run in paragraph.runs:
        set_fonts(run._r, PAGE_NUMBER_FONT)


# --- paragraphs ---------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, document: Any) -> None:
        self.document = document

    def para(self, text: str = "", style: str = "公文正文", *, indent: bool = True, font: str | None = None,
             align: Any = None, right: Pt | None = None) -> Any:  # fmt: skip
        paragraph = self.document.add_paragraph(style=style)
        if indent:
            paragraph.paragraph_format.first_line_indent = INDENT
        if align is not None:
            paragraph.alignment = align
        if right is not None:
            paragraph.paragraph_format.right_indent = right
        if text:
            run = paragraph.add_run(text)
            set_fonts(run._r, font or _STYLE_FONTS[style])
        return paragraph

    def heading(self, level: int, text: str) -> Any:
        return self.para(text, "一级标题" if level == 1 else "二级标题")


_STYLE_FONTS = {"公文正文": BODY_FONT, "公文标题": TITLE_FONT, "一级标题": HEADING1_FONT, "二级标题": HEADING2_FONT,
                "表格文字": BODY_FONT, "页码": PAGE_NUMBER_FONT}  # fmt: skip


_AFTER_PBDR = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
               "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
               "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
               "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
               "w:rPr", "w:sectPr", "w:pPrChange")  # fmt: skip
"""What follows ``w:pBdr`` in ``w:pPr`` (the schema's order: Word refuses a document out of it)."""


def _rule(paragraph: Any) -> None:
    """A plain (black) full-width rule under ``paragraph`` (the separator of the 版头)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "8"), ("w:space", "4"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    ppr.insert_element_before(borders, *_AFTER_PBDR)


def _sum(rows: list[dict[str, Any]], key: str) -> int:
    return sum(r[key] for r in rows if isinstance(r.get(key), int))


def _units(rows: Sequence[dict[str, Any]]) -> str:
    return "、".join(str(r["unit_name"]) for r in rows)


# --- tables ---------------------------------------------------------------------------------------------


def _cell(cell: Any, text: str, *, bold: bool = False, left: bool = False) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    paragraph.style = "表格文字"
    if left:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    run = paragraph.add_run(text)
    run.bold = bold or None
    set_fonts(run._r, HEADING1_FONT if bold else BODY_FONT)


_AFTER_CANT_SPLIT = ("w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del",
                     "w:trPrChange")  # fmt: skip


def _table(document: Any, headers: Sequence[str], widths: Sequence[float], rows: Sequence[Sequence[str]],
           left: Sequence[int] = ()) -> Any:  # fmt: skip
    table = document.add_table(rows=1 + len(rows), cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), "57")  # 1 mm: room for "100.0%" in a narrow column
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    table._tbl.tblPr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
    for row in table.rows:  # a row stays on one page
        row._tr.get_or_add_trPr().insert_element_before(OxmlElement("w:cantSplit"), *_AFTER_CANT_SPLIT)
    header_row = table.rows[0]  # repeated on every page
    header_row._tr.get_or_add_trPr().insert_element_before(OxmlElement("w:tblHeader"), *_AFTER_CANT_SPLIT[2:])
    for index, width in enumerate(widths):
        table.columns[index].width = Mm(width)
        for cell in table.columns[index].cells:
            cell.width = Mm(width)
    for index, label in enumerate(headers):
        _cell(header_row.cells[index], label, bold=True)
    for r, values in enumerate(rows, start=1):
        cells = table.rows[r].cells
        if values[0] == "合计" and values[1] == "":  # the per-unit table: 合计 across 排名 and 单位
            merged = cells[0].merge(cells[1])
            _cell(merged, "合计", bold=True)
            cells = [merged, merged, *cells[2:]]
            values = ["", "", *values[2:]]
        for c, value in enumerate(values):
            if c > 1 or values[0]:
                _cell(cells[c], value, left=c in left)
    return table


def _label(text: str) -> str:
    return text.replace("(", "（").replace(")", "）")


def unit_table_rows(data: dict[str, Any]) -> list[list[str]]:
    """The rows of attachment 1: one per unit (ranked), then 合计."""
    rows = sorted(data["rows"], key=lambda r: r["rank"])
    body = [[cell_text(r.get(key)) for key, _, _ in COLUMNS] for r in rows]
    total = []
    for key, _, _ in COLUMNS:
        if key in ("rank", "rank_label"):
            total.append("合计")
        elif key == "unit_name":
            total.append("")
        elif all(isinstance(r.get(key), int) and not isinstance(r.get(key), bool) for r in rows):
            total.append(str(_sum(rows, key)))
        else:
            total.append("—")
    return [*body, total]


def overdue_table_rows(data: dict[str, Any]) -> list[list[str]]:
    """The rows of attachment 2: 序号 and the columns of the workbook's 超期案件 sheet."""
    result = []
    for index, case in enumerate(data["overdue_cases"], start=1):
        values = [str(index)]
        for key, _, _ in OVERDUE_COLUMNS:
            value = case.get(key) or ""
            if key == "due_date" and value:
                value = official_date(date.fromisoformat(value))
            values.append(str(value) or "—")
        result.append(values)
    return result


_NARROW = {"rank": 8, "rank_label": 8, "unit_name": 37, "on_time_accept_rate": 15, "on_time_rate": 15, "satisfaction_rate": 15,
           "avg_days": 14}  # fmt: skip
UNIT_WIDTHS = tuple(_NARROW.get(key, 11) for key, _, _ in COLUMNS)
"""Millimetres, 225 in all (the landscape type area)."""
OVERDUE_WIDTHS = (10, 34, 42, 18, 26, 26, 18, 34, 17)


# --- the document ---------------------------------------------------------------------------------------


def _masthead(w: _Writer, data: dict[str, Any], issue_no: int, doc_number: str) -> None:
    w.para(f"第{issue_no}期", "二级标题", indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    _rule(w.para(doc_number, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER))
    w.para(indent=False)
    year, week = data["week"].upper().split("-W")
    w.para(f"关于{year}年第{int(week)}周各单位", "公文标题", indent=False)
    w.para("问题办理情况的通报", "公文标题", indent=False)
    w.para(indent=False)
    w.para("各成员单位：", indent=False)


def _body(w: _Writer, data: dict[str, Any], attachments: list[str]) -> None:
    """The seven sections (一、总体情况 … 七、下一步工作要求), the tables of 三 and 四 in the body
    (narrow enough for a portrait page), the per-unit figures and the overdue list as attachments."""
    rows = sorted(data["rows"], key=lambda r: r["rank"])
    overdue = data["overdue_cases"]

    def see(key: str) -> str:
        return f"附件{attachments.index(key) + 1 if len(attachments) > 1 else ''}"

    w.para(f"现将{_period(data)}各单位企业问题和“散乱污”整治事项办理情况通报如下。")
    w.heading(1, "一、总体情况")
    w.para(_overall_text(data, rows, overdue))
    w.heading(1, "二、企业问题办理情况（分单位）")
    if rows:
        top, bottom = rows[:3], rows[-1]
        text = f"按本期考核得分排名，位列前{len(top)}名的是{_units(top)}"
        if len(rows) > len(top):
            text += f"；排名末位的是{bottom['unit_name']}"
        w.para(text + f"。各单位具体指标见{see('units')}（各项指标按各单位承担的全部责任事项计，含“散乱污”整治事项）。")
        late = [r for r in rows if r.get("current_overdue")]
        if late:
            w.para(
                "当前有超期未办结事项的单位："
                + "、".join(f"{r['unit_name']}{r['current_overdue']}项" for r in late)
                + "。"
            )
        else:
            w.para("参与排名的单位当前均无超期未办结事项。")
    else:
        w.para("本期无可统计的办理情况。")
    w.heading(1, "三、“散乱污”整治情况（分镇街）")
    _towns(w, data)
    w.heading(1, "四、供水供电供气及协办单位办理时效")
    _timeliness(w, data)
    w.heading(1, "五、超期事项")
    if overdue:
        w.para(f"截至通报时，共有{len(overdue)}项事项超期未办结（计入承担该事项的单位），清单见{see('overdue')}。")
        n = 0
        for level, label in _LEVELS:
            cases = [c for c in overdue if c.get("supervision") == level]
            if cases:
                n += 1
                w.heading(2, f"（{_chinese_number(n)}）{label}{len(cases)}项")
                w.para(
                    "、".join(
                        f"{c['number']}（{c.get('unit_name') or '—'}，{c.get('obligation_label') or '—'}）"
                        for c in cases
                    )
                    + "。"
                )
    else:
        w.para("截至通报时，无超期未办结事项。")
    w.heading(1, "六、红黑榜")
    red, black = data.get("red") or [], data.get("black") or []
    if red or black:
        w.para(f"红榜：{'、'.join(red) or '—'}。黑榜：{'、'.join(black) or '—'}。")
    else:
        w.para("本期参与排名的单位不足，不列红黑榜。")
    w.heading(1, "七、下一步工作要求")
    for paragraph in (data.get("requirements") or {}).get("paragraphs") or [FALLBACK_REQUIREMENTS]:
        w.para(paragraph)
    w.para("特此通报。")


FALLBACK_REQUIREMENTS = ("请各单位对照通报，认真落实“一把手”负责制，按期签收、按期办结；超期事项的承办单位须于收到通报后"
                         "尽快办结，并书面说明超期原因。")  # fmt: skip


FIGURE_KEYS = ("assigned", "accepted", "completed", "on_time_rate", "overdue_open", "supervised", "listed")
"""The city's figures in 一、总体情况; the other lines are the types' registrations."""


def _overall_text(data: dict[str, Any], rows: list[dict[str, Any]], overdue: list[Any]) -> str:
    lines = {line["key"]: line for line in data.get("overall") or []}
    if not lines:
        return (f"本期共交办{_sum(rows, 'assigned')}件，办结{_sum(rows, 'completed')}件；截至通报时，超期未办结"
                f"{len(overdue)}件。")  # fmt: skip

    def both(key: str, unit: str) -> str:
        line = lines[key]
        return f"{line['label'].split('（')[0]}{line['week']}{unit}（本年累计{line['year']}{unit}）"

    found = [line for line in data.get("overall") or [] if line["key"] not in FIGURE_KEYS]  # each type's 新登记

    def named(line: dict[str, Any], when: str) -> str:
        name, _, unit = line["label"].partition("（")
        return f"{name}{line[when]}{unit.rstrip('）')}" if when == "week" else f"{line[when]}{unit.rstrip('）')}"

    registered = (
        f"本周{'、'.join(named(line, 'week') for line in found)}（本年累计分别为{'、'.join(named(line, 'year') for line in found)}）；"
        if found else ""
    )  # fmt: skip
    return (
        f"{registered}"
        f"{both('assigned', '件')}，{both('accepted', '件')}，{both('completed', '件')}，"
        f"按期办结率{lines['on_time_rate']['week']}（本年{lines['on_time_rate']['year']}）；"
        f"截至通报时，超期未办结{lines['overdue_open']['week']}项，本周处于督办的{lines['supervised']['week']}项、"
        f"挂牌督办的{lines['listed']['week']}项。"
    )


TOWN_HEADERS = ("镇（街道、园区）", "本周发现", "本年发现", "取缔", "整顿", "两断三清（完成/应完成）", "验收通过", "验收未通过",
                "回头看", "复发", "在办", "超期")  # fmt: skip
TOWN_KEYS = ("unit_name", "found_week", "found_year", "banned", "rectified", "clearing", "passed", "failed", "revisited",
             "relapsed", "open", "overdue")  # fmt: skip
TOWN_WIDTHS = (30, 11, 11, 10, 10, 18, 11, 11, 11, 10, 10, 10)
"""Millimetres, 153 in all (one A4 portrait type area, 156 mm)."""
TIMELINESS_HEADERS = (
    "单位",
    "事项",
    "本年应办",
    "本年办结",
    "其中按时",
    "按时办结率",
    "本周办结",
    "当前超期",
    "平均用时（工作日）",
)
TIMELINESS_KEYS = (
    "unit_name",
    "item",
    "owed",
    "done",
    "on_time",
    "on_time_rate",
    "done_week",
    "overdue_now",
    "avg_days",
)
TIMELINESS_WIDTHS = (34, 16, 13, 13, 13, 17, 13, 13, 20)


def town_table_rows(data: dict[str, Any]) -> list[list[str]]:
    """The rows of section 三's table: the towns with anything to report, then 合计."""
    towns = data.get("towns") or []
    counted = [k for k in TOWN_KEYS[1:] if k != "clearing"] + ["clearing_owed"]
    shown = [t for t in towns if t["unit"] and any(t[k] for k in counted)]
    total = [t for t in towns if not t["unit"]]
    return [[cell_text(t[k]) for k in TOWN_KEYS] for t in (*shown, *total)]


def _towns(w: _Writer, data: dict[str, Any]) -> None:
    towns = data.get("towns") or []
    total = next((t for t in towns if not t["unit"]), None)
    if total is None:
        w.para("本期无“散乱污”整治数据。")
        return
    w.para(
        f"本周新发现“散乱污”场所{total['found_week']}处，本年累计{total['found_year']}处；本年认定取缔{total['banned']}处、"
        f"整顿{total['rectified']}处；两断三清应完成{total['clearing_owed']}项，已完成{total['clearing_done']}项；"
        f"验收通过{total['passed']}处、未通过{total['failed']}处；回头看{total['revisited']}处，复发{total['relapsed']}处；"
        f"当前在办{total['open']}处，其中有超期事项的{total['overdue']}处。各镇（街道、园区）情况如下表（未列出的无相应数据）。"
    )  # fmt: skip
    _table(w.document, TOWN_HEADERS, TOWN_WIDTHS, town_table_rows(data), left=(0,))
    w.para(indent=False)


def timeliness_table_rows(lines: list[dict[str, Any]]) -> list[list[str]]:
    return [[cell_text(t[k]) for k in TIMELINESS_KEYS] for t in lines]


def _timeliness(w: _Writer, data: dict[str, Any]) -> None:
    timeliness = data.get("timeliness") or {}
    for n, (part, title) in enumerate((("utilities", "供水、供电、供气单位"), ("co_units", "协办单位")), start=1):
        w.heading(2, f"（{_chinese_number(n)}）{title}")
        lines = timeliness.get(part) or []
        if not lines:
            w.para("本年无相应事项。")
            continue
        late = [f"{t['unit_name']}{t['item']}{t['overdue_now']}项" for t in lines if t["overdue_now"]]
        w.para("当前超期：" + "、".join(late) + "。" if late else "各单位当前均无超期事项。")
        _table(w.document, TIMELINESS_HEADERS, TIMELINESS_WIDTHS, timeliness_table_rows(lines), left=(0,))
        w.para(indent=False)


ATTACHMENT_TITLES = {"units": "各单位办理情况统计表", "overdue": "超期未办结事项清单"}


def _closing(w: _Writer, office_name: str, issued_on: date, attachments: list[str]) -> None:
    if attachments:
        w.para(indent=False)
        for index, key in enumerate(attachments, start=1):
            number = f"{index}．" if len(attachments) > 1 else ""
            paragraph = w.para(("附件：" if index == 1 else "") + number + ATTACHMENT_TITLES[key], indent=False)
            paragraph.paragraph_format.left_indent = INDENT + Pt(48)  # names line up after "附件："
            if index == 1:
                paragraph.paragraph_format.first_line_indent = -Pt(48)
    w.para(indent=False)
    day = official_date(issued_on)
    name_right, date_right = signature_indents(office_name, day)
    w.para(office_name, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT, right=Pt(16 * name_right))
    w.para(day, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT, right=Pt(16 * date_right))


def _ems(text: str) -> float:
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def signature_indents(name: str, day: str) -> tuple[float, float]:
    """Right indents (in characters) of the office's name and the date under it, unsealed
    (GB/T 9704-2012 7.3.5.2): the name 右空二字, the date's first character two characters right
    of the name's; a date longer than that goes 右空二字 and pushes the name left."""
    name_right = 2.0
    date_right = name_right + _ems(name) - 2 - _ems(day)
    if date_right < 2:
        date_right = 2.0
        name_right = date_right + _ems(day) + 2 - _ems(name)
    return name_right, date_right


def _attachments(document: Any, w: _Writer, data: dict[str, Any], attachments: list[str]) -> None:
    for index, key in enumerate(attachments, start=1):
        if index == 1:
            _page(document.add_section(WD_SECTION.NEW_PAGE), landscape=True)
        first = w.para(indent=False)
        if index > 1:
            first.add_run().add_break(WD_BREAK.PAGE)
        label = f"附件{index}" if len(attachments) > 1 else "附件"
        run = first.add_run(label)
        first.style = "一级标题"
        set_fonts(run._r, HEADING1_FONT)
        w.para(ATTACHMENT_TITLES[key], "公文标题", indent=False)
        if key == "units":
            w.para(f"（{_period(data)}）", "二级标题", indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
            headers = [_label(label) for _, label, _ in COLUMNS]
            _table(document, headers, UNIT_WIDTHS, unit_table_rows(data), left=(1,))
            w.para("说明：按期签收率、按期办结率、满意率以本期发生的签收、办结和回访计；“—”表示本期无相应事项；"
                   "当前超期数为通报时仍超期未办结的事项数；督办数按临期预警、逾期催办、督办、挂牌督办分列。",
                   "表格文字", indent=False, align=WD_ALIGN_PARAGRAPH.LEFT)  # fmt: skip
        else:
            w.para(f"（共{len(data['overdue_cases'])}件）", "二级标题", indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
            headers = ["序号", *(_label(label) for _, label, _ in OVERDUE_COLUMNS)]
            _table(document, headers, OVERDUE_WIDTHS, overdue_table_rows(data), left=(2, 5))


def bulletin_docx(data: dict[str, Any], *, office_name: str, issue_no: int, doc_number: str, issued_on: date) -> bytes:
    """The bulletin ``data`` (``Periodic.bulletin_data``) as a ``.docx`` official document."""
    document = Document()
    _styles(document)
    section = document.sections[0]
    _page(section)
    _footer(section)
    properties = document.core_properties
    properties.title = f"工作通报 第{issue_no}期（{doc_number}）"
    properties.author = properties.last_modified_by = office_name
    properties.language = "zh-CN"
    properties.subject = f"{data['week']}（{data['period']}）"
    # the template's empty first paragraph would be a stray blank line at the top
    for paragraph in list(document.paragraphs):
        paragraph._p.getparent().remove(paragraph._p)
    attachments = [key for key, present in (("units", data["rows"]), ("overdue", data["overdue_cases"])) if present]
    w = _Writer(document)
    _masthead(w, data, issue_no, doc_number)
    _body(w, data, attachments)
    _closing(w, office_name, issued_on, attachments)
    _attachments(document, w, data, attachments)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
