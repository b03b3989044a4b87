"""The weekly bulletin as an official document (``notifications.bulletin_docx``, DOMAIN.md §13):
opened again with python-docx — page and margins (GB/T 9704), title, 期号, 文号, the 公文 date,
East Asian fonts on runs and styles, the PAGE field at the foot, and tables whose rows are the
figures of ``bulletin_data`` — and the 文号 pattern of ``notifications.yaml``."""

import io
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from helpers import SQLITE_ONLY, new_enterprise_case
from openpyxl import load_workbook

from notifications.bulletin_docx import (
    BODY_FONT,
    HEADING1_FONT,
    HEADING2_FONT,
    TITLE_FONT,
    bulletin_docx,
    bulletin_issue,
    cell_text,
    official_date,
    signature_indents,
)
from notifications.config import NotificationConfig, doc_number_problem, load_notification_config
from notifications.documents import COLUMNS, OVERDUE_COLUMNS, bulletin_html, bulletin_xlsx
from notifications.samples import sample_contexts
from workflow.errors import DefinitionError

OFFICE = "桐城市传统产业转型升级联席会商会议办公室"
ISSUED = date(2026, 12, 7)


def sample() -> dict:
    return sample_contexts("bulletin")[0][1]["bulletin"]


def quiet() -> dict:
    return sample_contexts("bulletin")[1][1]["bulletin"]


def build(data: dict, issue_no: int = 49, doc_number: str = "桐联办通〔2026〕49号"):
    content = bulletin_docx(data, office_name=OFFICE, issue_no=issue_no, doc_number=doc_number, issued_on=ISSUED)
    assert content[:2] == b"PK"
    return Document(io.BytesIO(content))


def table_by_header(document, first: str):
    """The table whose first header cell reads ``first`` (排名: the units; 序号: the overdue list)."""
    return next(t for t in document.tables if t.rows[0].cells[0].text == first)


def texts(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def east_asia(element) -> str | None:
    rpr = element.find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
    return fonts.get(qn("w:eastAsia")) if fonts is not None else None


def mm(*lengths):
    """Lengths in whole millimetres (Word stores twentieths of a point)."""
    values = tuple(round(length.mm, 1) for length in lengths)
    return values[0] if len(values) == 1 else values


def test_page_size_and_margins_follow_gb_t_9704():
    document = build(sample())
    first = document.sections[0]
    assert (mm(first.page_width), mm(first.page_height), first.orientation) == (210, 297, WD_ORIENT.PORTRAIT)
    assert mm(first.top_margin, first.bottom_margin, first.left_margin, first.right_margin) == (37, 35, 28, 26)
    # the attachments (17 columns) are on landscape A4 with the same margins turned with the sheet
    last = document.sections[-1]
    assert (mm(last.page_width), mm(last.page_height), last.orientation) == (297, 210, WD_ORIENT.LANDSCAPE)
    assert mm(last.top_margin, last.bottom_margin, last.left_margin, last.right_margin) == (28, 26, 37, 35)


def test_title_issue_number_document_number_and_date():
    document = build(sample(), issue_no=49, doc_number="桐联办通〔2026〕49号")
    lines = texts(document)
    assert lines[0] == "第49期" and lines[1] == "桐联办通〔2026〕49号"
    titles = [p for p in document.paragraphs if p.style.name == "公文标题"]
    assert "".join(p.text for p in titles[:2]) == "关于2026年第43周各单位问题办理情况的通报"
    for p in titles:
        assert (
            p.alignment == WD_ALIGN_PARAGRAPH.CENTER or p.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
        )
    title_style = document.styles["公文标题"]
    assert title_style.font.size == Pt(22) and east_asia(title_style.element) == TITLE_FONT
    assert "各成员单位：" in lines
    assert any(line.startswith("现将2026年10月19日至10月25日各单位") for line in lines)
    # the body ends with 特此通报。, then the office and the date, both right-aligned
    end = lines.index("特此通报。")
    tail = [p for p in document.paragraphs[end:] if p.text][:5]
    assert [p.text for p in tail[-2:]] == [OFFICE, "2026年12月7日"]
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.RIGHT for p in tail[-2:])
    assert "附件：1．各单位办理情况统计表" in lines and "2．超期未办结事项清单" in lines
    assert document.core_properties.title == "工作通报 第49期（桐联办通〔2026〕49号）"


def test_body_is_3_hao_fangsong_on_fixed_lines_with_east_asian_fonts():
    document = build(sample())
    body = document.styles["公文正文"]
    assert body.font.size == Pt(16) and east_asia(body.element) == BODY_FONT
    assert body.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert body.paragraph_format.line_spacing == Pt(28.95)
    assert east_asia(document.styles["Normal"].element) == BODY_FONT
    assert east_asia(document.styles["一级标题"].element) == HEADING1_FONT
    assert east_asia(document.styles["二级标题"].element) == HEADING2_FONT
    body_runs = [r for p in document.paragraphs if p.style.name == "公文正文" for r in p.runs if r.text]
    assert body_runs and all(east_asia(r._r) == BODY_FONT for r in body_runs)
    assert all(r.font.name == BODY_FONT for r in body_runs)
    headings1 = [p.text for p in document.paragraphs if p.style.name == "一级标题"]
    headings2 = [p.text for p in document.paragraphs if p.style.name == "二级标题"]
    assert headings1[:7] == ["一、总体情况", "二、企业问题办理情况（分单位）", "三、“散乱污”整治情况（分镇街）",
                             "四、供水供电供气及协办单位办理时效", "五、超期事项", "六、红黑榜", "七、下一步工作要求"]  # fmt: skip
    assert "（一）供水、供电、供气单位" in headings2 and "（二）协办单位" in headings2
    for p in document.paragraphs:
        for run in p.runs:
            if run.text:
                assert east_asia(run._r), f"run without an East Asian font: {run.text!r}"
    # no colours in brackets, no "见系统"
    everything = "\n".join(texts(document)) + "".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    for bad in ("（蓝）", "（黄）", "（橙）", "（红）", "见系统"):
        assert bad not in everything


def test_the_footer_holds_a_centred_page_field_between_dashes():
    document = build(sample())
    footer = document.sections[0].footer
    paragraph = footer.paragraphs[0]
    xml = paragraph._p.xml
    instructions = [t.text.strip() for t in paragraph._p.iter(qn("w:instrText"))]
    assert instructions == ["PAGE"]
    kinds = [c.get(qn("w:fldCharType")) for c in paragraph._p.iter(qn("w:fldChar"))]
    assert kinds == ["begin", "separate", "end"]
    assert paragraph.text == "— 1 —" and "w:fldChar" in xml
    assert paragraph.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert all(s.footer.is_linked_to_previous for s in document.sections[1:]), "one numbering through the attachments"


def test_the_unit_table_has_a_row_per_unit_with_the_figures_of_the_data():
    data = sample()
    document = build(data)
    units, overdue = table_by_header(document, "排名"), table_by_header(document, "序号")
    header = [c.text for c in units.rows[0].cells]
    assert header == [label.replace("(", "（").replace(")", "）") for _, label, _ in COLUMNS]
    body = [[c.text for c in row.cells] for row in units.rows[1:]]
    assert len(body) == len(data["rows"]) + 1 and body[-1][0] == "合计"
    for row, expected in zip(body, sorted(data["rows"], key=lambda r: r["rank"]), strict=False):
        assert row == [cell_text(expected[key]) for key, _, _ in COLUMNS]
    assert body[-1][2] == str(sum(r["assigned"] for r in data["rows"]))
    for cell in units.rows[1].cells:
        for run in cell.paragraphs[0].runs:
            assert east_asia(run._r) == BODY_FONT
    cases = [[c.text for c in row.cells] for row in overdue.rows]
    assert cases[0] == ["序号", *(label for _, label, _ in OVERDUE_COLUMNS)]
    assert [r[1] for r in cases[1:]] == [c["number"] for c in data["overdue_cases"]]
    assert all("（" not in r[-1] for r in cases[1:]), "the level without its colour"
    assert cases[1][7] == official_date(date.fromisoformat(data["overdue_cases"][0]["due_date"]))


def test_a_quiet_week_has_no_attachments():
    document = build(quiet(), issue_no=44, doc_number="桐联办通〔2026〕44号")
    lines = texts(document)
    assert document.tables == [] and len(document.sections) == 1
    assert "本期无可统计的办理情况。" in lines and "截至通报时，无超期未办结事项。" in lines
    assert not any(line.startswith("附件") for line in lines)
    assert lines[-2:] == [OFFICE, "2026年12月7日"]


def test_official_dates_and_signature_indents():
    assert official_date(date(2026, 12, 7)) == "2026年12月7日"
    assert official_date(date(2027, 1, 15)) == "2027年1月15日"
    assert signature_indents(OFFICE, "2026年12月7日") == (2.0, 2.0 + 20 - 2 - 6.5)
    name, day = signature_indents("联席办", "2026年12月7日")  # a date longer than the name
    assert day == 2.0 and name == 2.0 + 6.5 + 2 - 3


# --- 期号 and 文号 -------------------------------------------------------------------------------


def config(pattern: str = "桐联办通〔{year}〕{issue}号") -> NotificationConfig:
    from datetime import time

    return NotificationConfig(office={"name": OFFICE}, base_url="", work_start=time(8, 30), work_end=time(17, 30),
                              bulletin_doc_number=pattern)  # fmt: skip


def test_issue_is_the_iso_week_number_unless_given():
    assert bulletin_issue("2026-W49", config()) == bulletin_issue("2026-w49", config())
    issue = bulletin_issue("2026-W49", config())
    assert (issue.year, issue.issue_no, issue.doc_number) == (2026, 49, "桐联办通〔2026〕49号")
    assert bulletin_issue("2026-W01", config()).doc_number == "桐联办通〔2026〕1号"
    assert bulletin_issue("2026-W49", config(), 3).doc_number == "桐联办通〔2026〕3号"
    assert bulletin_issue("2026-W53", config("督〔{year}〕第{issue}期")).doc_number == "督〔2026〕第53期"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("桐联办通〔{year}〕{n}号", "{n}"),
        ("桐联办通〔{year}〕{}号", "（空）"),
        ("桐联办通〔{year}〕{issue:03d}号", "不能带格式"),
        ("桐联办通〔{year}〕{issue!r}号", "不能带格式"),
        ("桐联办通〔{year}〕号", "缺少占位符 {issue}"),
        ("桐联办通〔2026〕{issue}号", "缺少占位符 {year}"),
        ("桐联办通〔{year〕{issue}号", "花括号"),
        ("桐联办通〔{year}〕{issue}号}", "花括号"),
        ("{year.real}{issue}", "不认识的占位符"),
    ],
)
def test_bad_doc_number_patterns_are_refused_in_chinese(pattern, needle, tmp_path: Path, app):
    assert needle in (doc_number_problem(pattern) or "")
    path = tmp_path / "notifications.yaml"
    path.write_text(f"bulletin_doc_number: '{pattern}'\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_notification_config(path, app.org)
    assert caught.value.key == "bulletin_doc_number" and needle in caught.value.reason


@SQLITE_ONLY
def test_the_pattern_comes_from_notifications_yaml(tmp_path: Path, app):
    assert app.notification_config.bulletin_doc_number == "桐联办通〔{year}〕{issue}号"
    path = tmp_path / "notifications.yaml"
    path.write_text("bulletin_doc_number: 桐督办〔{year}〕{issue}号\n", encoding="utf-8")
    assert load_notification_config(path, app.org).bulletin_number(2027, 2) == "桐督办〔2027〕2号"
    path.write_text("office: {name: 联席办}\n", encoding="utf-8")
    assert load_notification_config(path, app.org).bulletin_number(2026, 5) == "桐联办通〔2026〕5号"
    path.write_text("bulletin_doc_number: 12\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="文号格式"):
        load_notification_config(path, app.org)


@SQLITE_ONLY
def test_html_and_xlsx_carry_the_issue_and_the_document_number(app):
    data = sample()
    html = bulletin_html(app.templates, data, app.notification_config.office, issue_no=43,
                         doc_number="桐联办通〔2026〕43号")  # fmt: skip
    assert "第43期　桐联办通〔2026〕43号" in html
    assert "桐联办通" not in bulletin_html(app.templates, data, app.notification_config.office)
    sheet = load_workbook(io.BytesIO(bulletin_xlsx(data, issue_no=43, doc_number="桐联办通〔2026〕43号")))["通报"]
    title = sheet.cell(1, 1).value
    assert "第43期" in title and "桐联办通〔2026〕43号" in title and data["week"] in title and data["period"] in title
    assert [c.value for c in sheet[2]][:2] == ["排名", "单位"]


# --- against the real figures -----------------------------------------------------------------------


@SQLITE_ONLY
def test_the_table_holds_the_figures_of_bulletin_data(app, actors):
    for lead in ("power", "water", "power"):
        number = new_enterprise_case(app)["number"]
        app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": lead})
    app.cases.advance(number, "accept", actors.power)
    week = "2026-W40"  # 2026-09-30 is in it
    data = app.periodic.bulletin_data(week)
    # the office owes the 交办 of each problem (done at once): it has a line of its own
    assert {r["unit"] for r in data["rows"]} == {"power", "water", "sti"}
    issue = bulletin_issue(week, app.notification_config)
    document = build(data, issue.issue_no, issue.doc_number)
    assert texts(document)[:2] == ["第40期", "桐联办通〔2026〕40号"]
    rows = [[c.text for c in row.cells] for row in table_by_header(document, "排名").rows[1:-1]]
    assert rows == [[cell_text(r[key]) for key, _, _ in COLUMNS] for r in data["rows"]]
    assert {r[1]: r[2] for r in rows} == {"市供电公司": "2", "市供水集团公司": "1", "市科经局": "0"}


def test_the_town_and_timeliness_tables_hold_the_figures_of_the_data():
    data = sample()
    document = build(data)
    towns = table_by_header(document, "镇（街道、园区）")
    body = [[c.text for c in row.cells] for row in towns.rows[1:]]
    expected = [t for t in data["towns"] if t["unit"] and (t["found_year"] or t["clearing_owed"] or t["open"])]
    assert [r[0] for r in body] == [t["unit_name"] for t in expected] + ["合计"]
    total = data["towns"][-1]
    assert body[-1] == ["合计", *(str(total[k]) for k in ("found_week", "found_year", "banned", "rectified")),
                        total["clearing"], *(str(total[k]) for k in ("passed", "failed", "revisited", "relapsed", "open",
                                                                     "overdue"))]  # fmt: skip
    utilities, co_units = [t for t in document.tables if t.rows[0].cells[0].text == "单位"]
    lines = [[c.text for c in row.cells] for row in utilities.rows[1:]]
    assert lines == [[cell_text(t[k]) for k in ("unit_name", "item", "owed", "done", "on_time", "on_time_rate", "done_week",
                                                "overdue_now", "avg_days")] for t in data["timeliness"]["utilities"]]  # fmt: skip
    assert [c.text for c in co_units.rows[1].cells][:2] == ["市生态环境分局", "协办反馈"]
    lines = texts(document)
    assert "当前超期：市供电公司断电1项。" in lines
    requirements = lines.index("七、下一步工作要求")
    assert lines[requirements + 1 : requirements + 3] == data["requirements"]["paragraphs"]
    assert lines[requirements + 3] == "特此通报。"
