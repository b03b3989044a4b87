"""The office brings a ledger in through the browser: downloads the template, uploads a workbook
with one faulty row, reads the problems and the preview (the job page polls its progress), imports
only the valid rows, opens the new case; then exports the ledger and opens the download. Also the
check result at phone width."""

import re

import pytest
from e2e_support import LAPTOP, PHONE
from helpers import make_uscc
from openpyxl import Workbook, load_workbook

HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]


def write_ledger(path, rows) -> str:
    book = Workbook()
    ws = book.active
    ws.title = "企业问题台账"
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    book.save(path)
    return str(path)


def test_office_imports_the_valid_rows_of_a_ledger_and_exports_it(person, site, tmp_path) -> None:
    window = person("office")
    page = window.page
    window.goto("/todo")
    page.locator("nav.menu a", has_text="台账").click()
    page.wait_for_url("**/ledger")

    with page.expect_download() as template:
        page.get_by_role("link", name="企业问题台账模板").click()
    saved = tmp_path / "template.xlsx"
    template.value.save_as(saved)
    assert template.value.suggested_filename == "企业问题台账模板.xlsx"
    assert "企业名称" in [c.value for c in load_workbook(saved).worksheets[0][1]]

    good = make_uscc("91340881MA2E2E001")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    ledger = write_ledger(tmp_path / "十月台账.xlsx", [
        [1, "E2E导入：用电增容", "新上产线需要增容", "生产要素", "导入企业甲", good, "孔城镇"],
        [2, "E2E导入：用地", "缺少用地指标", "生产要素", "导入企业乙", bad, "孔城镇"],
    ])  # fmt: skip
    page.get_by_label("企业问题").check()
    page.locator("input[type=file][name=file]").set_input_files(ledger)
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_url(re.compile(r".*/ledger/jobs/[A-Za-z0-9_-]+$"))
    result = page.locator("#ledger-job")
    result.get_by_text("检查结果").wait_for()
    assert "数据 2 行，无误 1 行" in result.inner_text()
    problem = page.locator("table.problems tbody tr")
    assert problem.count() == 1
    assert problem.first.inner_text().split("\t")[:3] == ["3", "F", "统一社会信用代码"]
    assert "校验位" in problem.first.inner_text()
    assert "E2E导入：用电增容" in page.locator("section", has_text="将登记的案件").inner_text()

    confirm = page.get_by_role("button", name="确认导入 1 件")
    page.get_by_label(re.compile("只导入无误的 1 行")).check()
    confirm.click()
    page.get_by_text("已在一个事务中登记 1 件案件").wait_for()
    link = page.locator("a", has_text=re.compile(r"^QY-2026-\d{5}$")).first
    number = link.inner_text()
    link.click()
    page.wait_for_url(f"**/cases/{number}")
    assert page.locator("h1").inner_text() == "E2E导入：用电增容"
    assert site.app.cases.history(number)[0]["trigger"] == "import"

    window.goto("/ledger")
    page.locator("#e-type").select_option("enterprise_issue")
    page.get_by_role("button", name="导出 Excel").click()
    page.get_by_text("导出完成").wait_for()
    with page.expect_download() as exported:
        page.get_by_role("link", name=re.compile("^下载 台账-企业问题")).click()
    path = tmp_path / "export.xlsx"
    exported.value.save_as(path)
    numbers = [row[1] for row in load_workbook(path).worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert number in numbers


@pytest.mark.parametrize(
    ("viewport", "size"), [pytest.param(LAPTOP, "laptop", id="laptop"), pytest.param(PHONE, "phone", id="phone")]
)
def test_check_result_screenshot(person, tmp_path, viewport, size) -> None:
    window = person("office", viewport)
    page = window.page
    window.goto("/ledger")
    ledger = write_ledger(tmp_path / "台账.xlsx", [
        [1, "截图：问题一", "描述", "生产要素", "企业一", make_uscc("91340881MA2E2E101"), "火星镇"],
        [2, "截图：问题二", "描述", "不存在的类别", "企业二", make_uscc("91340881MA2E2E102"), "吕亭镇"],
        [3, "截图：问题三", "描述", "审批服务", "企业三", make_uscc("91340881MA2E2E103"), "吕亭镇"],
    ])  # fmt: skip
    page.locator("input[type=file][name=file]").set_input_files(ledger)
    page.get_by_role("button", name="上传并检查").click()
    page.locator("#ledger-job").get_by_text("检查结果").wait_for()
    assert page.locator("table.problems tbody tr").count() == 2
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"page is {width}px wide"
    window.screenshot(f"ledger-check-{size}")
