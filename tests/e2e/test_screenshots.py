"""Screenshots of the to-do list, a case page and the dashboard at laptop (1366×768) and phone
(390×844) widths, written to ``test-artifacts/screenshots/`` for people to look at; each also
checks that the page shows what it should at that width (no sideways scrolling, text visible)."""

import pytest
from e2e_support import LAPTOP, PHONE

SIZES = [pytest.param(LAPTOP, "laptop", id="laptop"), pytest.param(PHONE, "phone", id="phone")]


def _no_sideways_scroll(window) -> None:
    width = window.page.evaluate("document.documentElement.scrollWidth")
    assert width <= window.page.viewport_size["width"] + 1, f"page is {width}px wide"


@pytest.mark.parametrize(("viewport", "size"), SIZES)
def test_todo_list(person, viewport, size) -> None:
    window = person("office", viewport)
    window.goto("/todo")
    page = window.page
    assert page.locator("h1").inner_text().startswith("我的待办")
    rows = page.locator(".case-row")
    assert rows.count() >= 3
    assert page.locator(".case-row .remaining").first.inner_text().startswith(("剩余", "今天", "已逾期"))
    _no_sideways_scroll(window)
    window.screenshot(f"todo-{size}")


@pytest.mark.parametrize(("viewport", "size"), SIZES)
def test_case_page(person, viewport, size) -> None:
    window = person("power_handler", viewport)
    window.goto("/cases/SLW-2026-00003")
    page = window.page
    assert page.locator("h1").inner_text() == "露天喷漆作坊"
    checklist = page.locator("#checklist-clearing")
    assert "两断三清" in checklist.locator("h2").inner_text()
    assert checklist.locator("#item-cut_power").get_by_text("已完成").is_visible()
    photo = checklist.locator("#item-cut_water img.thumb")
    photo.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_function("(i) => i.complete && i.naturalWidth === 160", arg=photo.element_handle())
    assert "SHA-256" in checklist.locator("#item-cut_water .sha").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    assert page.locator("svg.diagram .state.current text").text_content() == "取缔关闭·两断三清实施中"
    _no_sideways_scroll(window)
    window.screenshot(f"case-{size}")


@pytest.mark.parametrize(("viewport", "size"), SIZES)
def test_dashboard(person, viewport, size) -> None:
    window = person("supervisor", viewport)
    window.goto("/dashboard")
    page = window.page
    assert page.locator("h1").inner_text() == "挂图作战"
    assert page.locator(".bars").count() == 5 and page.locator("svg.chart").count() == 1
    assert page.locator(".tile").first.inner_text().split()[0].isdigit()
    _no_sideways_scroll(window)
    window.screenshot(f"dashboard-{size}")


@pytest.mark.parametrize(("viewport", "size"), SIZES)
def test_admin_users(person, viewport, size) -> None:
    """On a phone each user is a short block whose 停用 button is in view, not a squeezed table."""
    window = person("admin", viewport)
    window.goto("/admin/users")
    page = window.page
    button = page.get_by_role("button", name="停用 power_handler")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
    assert box["height"] < 40, "the button's label wraps"
    _no_sideways_scroll(window)
    window.screenshot(f"admin-users-{size}")


@pytest.mark.parametrize(("viewport", "size"), SIZES)
def test_audit_log(person, viewport, size) -> None:
    """Every column of a record is in view at both widths (on a phone, as labelled lines)."""
    window = person("supervisor", viewport)
    window.goto("/audit")
    page = window.page
    first = page.locator("table.audit tbody tr").first
    for cell in first.locator("td").all():
        if cell.is_visible():
            box = cell.bounding_box()
            assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"] + 1, cell.inner_text()
    _no_sideways_scroll(window)
    window.screenshot(f"audit-{size}")
