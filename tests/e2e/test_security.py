"""Rights and forgeries: a user without a right sees no button for it and is refused (403, with
nothing changed) when posting anyway; forms without this session's CSRF token are refused; the
session cookie's attributes; sign-in failures and the lock-out; sign-out ends the session;
titles with ``<script>`` are shown as text; administration is for admins."""

from e2e_support import SCRIPT_TITLE
from playwright.sync_api import expect

from caseflow.demo import DEMO_PASSWORD


def test_no_button_without_the_right_and_forged_posts_are_refused(person, site) -> None:
    number = "QY-2026-00002"  # assigned to the power company, waiting for it to accept
    before = site.app.cases.show(number)
    window = person("power_handler")
    page = window.page
    window.goto(f"/cases/{number}")
    assert page.locator("#actions summary").all_inner_texts() == ["签收", "退回"]
    assert page.locator("#form-action-reassign").count() == 0  # 改派 is the office's
    assert page.locator("nav.menu").inner_text().split() == ["我的待办", "案件查询", "台账", "工作通报", "考核", "通知" + page.locator(".menu .count").inner_text()]
    denied = window.goto("/dashboard")
    assert denied.status == 403 and "无权操作" in page.locator(".error-page").inner_text()

    window.goto(f"/cases/{number}")
    csrf = window.csrf()
    forged = page.request.post(site.url(f"/cases/{number}/actions/reassign"),
                               form={"csrf_token": csrf, "lead_unit": "water", "reason": "改派给供水", "expected_version": str(before["version"])})  # fmt: skip
    assert forged.status == 403 and "只能由联席办调度员执行" in forged.text()
    no_token = page.request.post(site.url(f"/cases/{number}/actions/accept"), form={"expected_version": str(before["version"])})
    assert no_token.status == 403 and "CSRF" in no_token.text()
    wrong_token = page.request.post(site.url(f"/cases/{number}/actions/accept"), form={"csrf_token": "0" * 64})
    assert wrong_token.status == 403
    office = person("office")
    office.goto("/todo")
    other_session = page.request.post(site.url(f"/cases/{number}/actions/accept"), form={"csrf_token": office.csrf()})
    assert other_session.status == 403
    for path, form in (("/admin/users", {"username": "intruder", "department": "power", "roles": "admin", "password": "Intruder-2026!"}),
                       ("/admin/calendar", {"date": "2026-11-02", "kind": "holiday", "name": "假日"}),
                       ("/admin/users/office/active", {"active": "0"})):  # fmt: skip
        refused = page.request.post(site.url(path), form={"csrf_token": csrf, **form})
        assert refused.status == 403, path
    assert page.request.get(site.url("/audit/export.csv")).status == 403
    after = site.app.cases.show(number)
    assert (after["state"], after["version"], after["lead_unit"]) == (before["state"], before["version"], before["lead_unit"])
    assert not site.app.users.exists("intruder") and site.app.users.actor("office").username == "office"
    assert not any(d["date"] == "2026-11-02" for d in site.app.calendar.show(2026)["holidays"])

    cookie = next(c for c in window.context.cookies() if c["name"] == "caseflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # secure only over https


def test_script_in_a_title_is_shown_as_text(person, site) -> None:
    number = site.cases["script"]
    window = person("office")
    page = window.page
    window.goto("/todo")
    row = page.locator(".case-row", has=page.locator(f"a.number:text-is('{number}')"))
    assert row.locator(".case-title").inner_text() == SCRIPT_TITLE
    assert "<b>示例</b>企业" in row.inner_text()
    window.goto(f"/cases/{number}")
    assert page.locator("h1").inner_text() == SCRIPT_TITLE
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("Array.from(document.scripts).filter(s => s.textContent.includes('__pwned')).length") == 0
    assert "&lt;script&gt;" in page.content()


def test_sign_in_failures_lock_out_and_sign_out_ends_the_session(person, site) -> None:
    window = person()
    page = window.page
    response = None
    for _ in range(5):
        window.goto("/login")
        page.fill("#username", "finance_handler")
        page.fill("#password", "not-the-password")
        with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as info:
            page.click("button[type=submit]")
        response = info.value
        assert response.status == 401
        assert page.locator(".form-error").inner_text() == "用户名或密码错误"
    page.fill("#password", DEMO_PASSWORD)  # the right password, too late
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as info:
        page.click("button[type=submit]")
    assert info.value.status == 429
    assert "登录失败次数过多" in page.locator(".form-error").inner_text()
    assert not any(c["name"] == "caseflow_session" for c in window.context.cookies())

    window.goto("/login")
    stale = page.request.post(site.url("/login"), form={"username": "water_handler", "password": DEMO_PASSWORD})
    assert stale.status == 403  # the sign-in form's own token is missing

    window.sign_in("water_handler")
    assert page.url.endswith("/todo")
    session = next(c for c in window.context.cookies() if c["name"] == "caseflow_session")
    page.locator("button", has_text="退出").click()
    page.wait_for_url("**/login")
    window.context.add_cookies([session])  # the old cookie no longer opens anything
    window.goto("/todo")
    assert "/login" in page.url


def test_admin_adds_a_holiday_a_user_and_previews_a_template(person, site) -> None:
    window = person("admin")
    page = window.page
    window.goto("/admin/calendar?year=2027")
    assert "尚无官方数据" in page.locator(".case-col").first.inner_text()
    page.fill("#c-date", "2027-01-01")
    page.fill("#c-name", "元旦")
    page.locator("button", has_text="登记").click()
    expect(page.locator(".flash")).to_contain_text("已登记 2027-01-01")
    assert "元旦" in page.locator("table").first.inner_text()
    assert any(d["date"] == "2027-01-01" for d in site.app.calendar.show(2027)["holidays"])

    window.goto("/admin/users")
    page.fill("#u-username", "lvting_handler")
    page.fill("#u-display_name", "吕亭镇联络员")
    page.fill("#u-password", "weak")
    page.locator("#u-department").select_option(label="吕亭镇")
    page.locator("input[name=roles][value=handler]").check()
    page.locator("button", has_text="添加用户").click()
    assert "密码至少10位" in page.locator(".field.has-error .error").inner_text()
    assert not site.app.users.exists("lvting_handler")
    page.fill("#u-password", "Lvting-2026-ok")
    page.locator("button", has_text="添加用户").click()
    expect(page.locator(".flash")).to_contain_text("已添加用户 lvting_handler")
    assert site.app.users.actor("lvting_handler").department == "lvting"

    row = page.locator("tr", has_text="lvting_handler")
    row.get_by_role("button", name="停用 lvting_handler").click()
    expect(page.locator(".flash")).to_contain_text("已停用用户 lvting_handler")
    expect(page.locator("tr", has_text="lvting_handler")).to_contain_text("已停用")
    assert next(u for u in site.app.users.all() if u["username"] == "lvting_handler")["active"] is False
    assert page.get_by_role("button", name="停用 admin").count() == 0  # never oneself, not even forged:
    forged = page.request.post(site.url("/admin/users/admin/active"), form={"csrf_token": window.csrf(), "active": "0"})
    assert forged.status == 422 and "不能停用自己的账号" in forged.text()
    bad = page.request.post(site.url("/admin/users/lvting_handler/active"), form={"csrf_token": window.csrf(), "active": "maybe"})
    assert bad.status == 422 and "active 只能是 1（启用）或 0（停用）" in bad.text()
    assert site.app.users.actor("admin").username == "admin"
    page.locator("tr", has_text="lvting_handler").get_by_role("button", name="启用 lvting_handler").click()
    expect(page.locator(".flash")).to_contain_text("已启用用户 lvting_handler")
    assert site.app.users.actor("lvting_handler").username == "lvting_handler"

    window.goto("/admin/templates?name=assigned&case=QY-2026-00002")
    assert page.locator(".fields dd").first.inner_text().startswith("【交办单】QY-2026-00002")
    assert page.locator("iframe.preview").get_attribute("sandbox") == ""
