"""People doing their work in the browser: a power-company handler completes the 断电 item with a
photo and the meter reading; the office assigns an enterprise problem that the power company
accepts and answers and the office approves and closes; a supervisor reads the history and the
dashboard; registering a case; the inbox. Each step checks what the page shows."""

import hashlib
import re

from e2e_support import PHONE, photo_png
from playwright.sync_api import expect

from cases.dashboard import AuditFilter, Dashboard


def _open_action(page, key: str, kind: str = "action"):
    """Open the form of an action (or item) and return it."""
    form = page.locator(f"#form-{kind}-{key}")
    form.locator("xpath=..").locator("summary").click()
    return form


def test_power_handler_cuts_power_with_photo_and_meter_reading(person, site, tmp_path) -> None:
    number = site.cases["site"]
    window = person("power_handler")
    page = window.page
    window.goto("/todo")
    row = page.locator(".case-row", has=page.locator(f"a.number:text-is('{number}')"))
    assert row.locator(".my-items").inner_text() == "待本单位办理：断电"
    row.locator("a.case-title").click()
    page.wait_for_url(f"**/cases/{number}")
    item = page.locator("#item-cut_power")
    assert "待办理" in item.inner_text()
    assert page.locator("#item-cut_water summary").count() == 0  # not the power company's item

    # a wrong meter reading comes back with the service's message next to the field
    form = _open_action(page, "cut_power", "item")
    form.locator("input[name=meter_reading]").fill("十二")
    picture = tmp_path / "断电现场.png"
    picture.write_bytes(photo_png(3))
    form.locator("input[type=file]").set_input_files(str(picture))
    form.locator("button[type=submit]").click()
    error = page.locator("#form-item-cut_power .field.has-error .error")
    error.wait_for()
    assert "断电时电表读数应为数字" in error.inner_text()
    assert "待办理" in page.locator("#item-cut_power").inner_text()

    form = page.locator("#form-item-cut_power")
    form.locator("input[name=meter_reading]").fill("10523.6")
    form.locator("input[type=file]").set_input_files(str(picture))
    form.locator("textarea[name=comment]").fill("已拆除计量表并断开进线")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*done=item"))
    assert page.locator(".flash").inner_text() == "已完成：完成“断电”"
    item = page.locator("#item-cut_power")
    assert "已完成" in item.inner_text()
    assert "断电时电表读数：10523.6" in item.inner_text()
    sha = hashlib.sha256(photo_png(3)).hexdigest()
    assert f"SHA-256 {sha}" in item.locator(".sha").inner_text()
    thumb = item.locator("img.thumb")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("(i) => i.complete && i.naturalWidth === 160", arg=thumb.element_handle())
    latest = page.locator("#history .event").first
    assert "完成事项：断电" in latest.inner_text() and "已拆除计量表并断开进线" in latest.inner_text()
    view = site.app.cases.show(number)
    done = next(i for i in view["items"] if i["key"] == "cut_power")
    assert done["done"] and done["done_by"] == "power_handler" and done["evidence"] == [sha]
    window.goto("/todo")
    assert page.locator(".case-row", has=page.locator(f"a.number:text-is('{number}')")).count() == 0


def _act(page, key: str, fill=None, label: str | None = None):
    form = _open_action(page, key)
    if fill:
        fill(form)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf".*done={key}"))
    if label:
        assert page.locator(".flash").inner_text() == f"已完成：{label}"


def test_enterprise_problem_from_assignment_to_closing(person, site) -> None:
    number = "QY-2026-00001"
    office = person("office")
    page = office.page
    office.goto("/todo")
    page.fill("#q", "示例企业1号")  # search by the enterprise's name
    expect(page.locator(".case-row")).to_have_count(1)
    assert "q=" in page.url
    page.locator(f".case-row a.number:text-is('{number}')").click()
    page.wait_for_url(f"**/cases/{number}")
    assert page.locator(".case-head .badge.state").inner_text() == "已登记"

    def assign(form):
        form.locator("select[name=lead_unit]").select_option(label="市供电公司")
        form.locator("input[name=class][value=simple]").check()
        form.locator("textarea[name=instructions]").fill("请5个工作日内答复企业")

    _act(page, "assign", assign, "交办")
    assert page.locator(".case-head .badge.state").inner_text() == "已交办·待签收"
    assert "市供电公司" in page.locator(".case-head").inner_text()
    assert "交办" in page.locator("#notifications").inner_text()
    office.close()

    power = person("power_handler")
    page = power.page
    power.goto("/todo")
    page.locator(f".case-row a.number:text-is('{number}')").click()
    page.wait_for_url(f"**/cases/{number}")
    assert page.locator("#actions summary").all_inner_texts() == ["签收", "退回"]
    _act(page, "accept", None, "签收")
    assert page.locator(".case-head .badge.state").inner_text() == "办理中"

    def answer(form):
        form.locator("input[name=result][value=resolved]").check()
        form.locator("textarea[name=reply]").fill("已完成专线改造，新增容量已送电")
        form.locator("input[name=signed_by]").fill("供电公司负责人")

    _act(page, "answer", answer, "答复")
    assert page.locator(".case-head .badge.state").inner_text() == "已答复·待审核"
    assert "办理结果" in page.locator(".fields").inner_text() and "已解决" in page.locator(".fields").inner_text()
    power.close()

    office = person("office")
    page = office.page
    office.goto(f"/cases/{number}")
    _act(page, "approve_answer", None, "审核通过")
    assert page.locator(".case-head .badge.state").inner_text() == "待回访"
    _act(page, "close", lambda form: form.locator("input[name=satisfaction][value=满意]").check(), "销号")
    assert page.locator(".case-head .badge.state").inner_text() == "已销号"
    assert page.locator("#actions").get_by_text("当前没有需要您办理的操作").is_visible()
    steps = [t.split("\n")[0] for t in page.locator("#history .event-what strong").all_inner_texts()]
    assert steps[:5] == ["销号", "审核通过", "答复", "签收", "交办"] and steps[-1] == "登记"
    assert page.locator("svg.diagram .state.current text").text_content() == "已销号"
    assert site.app.cases.show(number)["state"] == "closed"


def test_supervisor_reads_history_and_dashboard(person, site) -> None:
    window = person("supervisor")
    page = window.page
    assert page.url.endswith("/dashboard")  # a supervisor starts on the dashboard
    tiles = dict(zip(page.locator(".tile-l").all_inner_texts(), page.locator(".tile-n").all_inner_texts(), strict=True))
    open_total = site.app.cases.list_cases(page_size=500)["items"]
    assert int(tiles["在办案件"]) == sum(1 for c in open_total if c["open"])
    overdue = sum(1 for c in open_total if c["open"] and c["supervision"] in ("overdue", "supervised", "listed"))
    assert int(tiles["逾期及以上"]) == overdue
    # a bar leads to the list behind it
    link = page.locator("section.card", has_text="各镇街在办案件").locator(".bar-label", has_text="孔城镇")
    link.click()
    page.wait_for_url("**/cases?**town=kongcheng**")
    assert "未办结" in page.locator(".active-filters").inner_text()
    listed = int(page.locator(".count-line strong").inner_text())
    assert listed == sum(1 for c in open_total if c["open"] and c["town"] == "kongcheng")

    window.goto("/audit")
    page.locator("select[name=actor]").select_option("office")
    page.wait_for_function("document.querySelectorAll('#results tbody tr').length > 0 && location.search.includes('actor=office')")
    rows = page.locator("#results tbody tr")
    board = Dashboard(site.app.db, site.app.definitions, site.app.clock, site.app.calendar.calendar)
    wanted = board.audit_events(AuditFilter(actor="office"))["events"]
    assert rows.count() == len(wanted)
    assert all(t == "联席办调度员\n市科经局" for t in page.locator("#results tbody tr td:nth-child(3)").all_inner_texts())
    assert rows.first.locator("td:nth-child(2) a").inner_text() == wanted[0]["number"]
    csv = page.request.get(site.url("/audit/export.csv?actor=office"))
    assert csv.status == 200
    text = csv.body().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("时间,案件编号,案件标题") and len(text.splitlines()) == len(wanted) + 1
    xlsx = page.request.get(site.url("/audit/export.xlsx?actor=office"))
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    page.get_by_role("link", name="核验哈希链").click()
    assert "全部完好" in page.locator(".verdict").inner_text()

    window.goto("/bulletin")
    assert "专项工作通报" in page.locator(".print-title").inner_text()
    download = page.request.get(site.url("/bulletin.xlsx"))
    assert download.status == 200 and download.body()[:2] == b"PK"


def test_registering_a_site_with_a_bad_credit_code(person, site) -> None:
    window = person("kongcheng_handler", PHONE)
    page = window.page
    window.goto("/register")
    page.wait_for_url("**/register/scattered_polluting")  # a town's handler registers sites only
    assert page.locator("select[name=town]").input_value() == "kongcheng"
    before = site.app.cases.list_cases(case_type="scattered_polluting")["total"]
    page.fill("input[name=site_name]", "河边无名洗砂点")
    page.fill("input[name=address]", "孔城镇桐溪村3组河边")
    page.locator("input[name=violations][value=环境违法]").check()
    page.fill("input[name=uscc]", "914403001922038217")
    page.locator("input[name=uscc]").dispatch_event("change")
    page.locator("#f-uscc-check .error").wait_for()
    assert "校验" in page.locator("#f-uscc-check").inner_text()
    page.locator("button[type=submit]", has_text="登记").click()
    page.locator(".field.has-error .error").first.wait_for()
    assert "校验" in page.locator(".field.has-error .error").inner_text()
    assert site.app.cases.list_cases(case_type="scattered_polluting")["total"] == before  # nothing stored
    assert page.locator("input[name=site_name]").input_value() == "河边无名洗砂点"
    page.fill("input[name=uscc]", "91340600MA2PBM9HXD")
    page.locator("button[type=submit]", has_text="登记").click()
    page.wait_for_url(re.compile(r".*/cases/SLW-2026-\d{5}\?done=create"))
    number = page.url.split("/cases/")[1].split("?")[0]
    assert page.locator("h1").inner_text() == "河边无名洗砂点"
    window.close()
    office = person("office")
    office.goto("/todo")
    row = office.page.locator(".case-row", has=office.page.locator(f"a.number:text-is('{number}')"))
    assert "新登记" in row.inner_text()  # in the office's queue at once


def test_inbox_marks_a_message_read(person, site) -> None:
    window = person("power_handler")
    page = window.page
    window.goto("/inbox?unread=true")
    first = page.locator(".message.unread").first
    subject = first.locator(".note-subject").inner_text()
    first.locator("summary").click()  # opens the message
    assert first.locator(".message-body").is_visible()
    unread = site.app.inbox.messages(user="power_handler", unread=True, channel="inapp")
    assert len(unread) == page.locator(".message.unread").count()
    first.locator("button", has_text="标为已读").click()
    first.locator("span.muted", has_text="已读").wait_for()
    assert len(site.app.inbox.messages(user="power_handler", unread=True, channel="inapp")) == len(unread) - 1
    assert subject
