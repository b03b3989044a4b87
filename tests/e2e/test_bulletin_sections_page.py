"""The weekly bulletin page (issue 11) on the demo data: seven sections in order, the office edits
the week's 下一步工作要求 in place (a too-long text is refused on the page), a member unit's reader
sees its own part first and no form, and on a phone every table scrolls inside its card (the page
itself never scrolls sideways). Screenshots at the laptop and the phone size go to
``test-artifacts/screenshots/``."""

from e2e_support import LAPTOP, PHONE

SECTIONS = ("一、总体情况", "二、企业问题办理情况（分单位）", "三、“散乱污”整治情况（分镇街）",
            "四、供水供电供气及协办单位办理时效", "五、超期事项", "六、红黑榜", "七、下一步工作要求")  # fmt: skip


def _headings(page) -> list[str]:
    return [h.strip() for h in page.locator("article.bulletin h2").all_inner_texts()]


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_office_reads_the_sections_and_edits_the_requirements(person, site) -> None:
    office = person("office")
    office.goto("/bulletin")
    page = office.page
    headings = _headings(page)
    assert [h.split("（")[0] if h.startswith("五") else h for h in headings] == [
        s.split("（")[0] if s.startswith("五") else s for s in SECTIONS
    ]
    assert page.locator("#own").count() == 0  # the office reads it without a unit's part
    towns = page.locator("table.bulletin-towns tbody tr")
    assert towns.count() >= 18 and "合计" in towns.last.inner_text()
    assert page.locator("table.bulletin-timeliness[data-part=utilities] tbody tr").count() == 3
    office.screenshot("bulletin-sections-office-laptop")

    form = page.locator("form.requirements-form")
    form.locator("textarea").fill("一、请各镇（街道）本周内完成两断三清。\n二、请供水、供电单位按时断水断电。")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**saved=1**")
    assert "已保存本周的下一步工作要求" in page.locator(".flash").inner_text()
    paragraphs = page.locator(".bulletin-requirements p").all_inner_texts()
    assert paragraphs == ["一、请各镇（街道）本周内完成两断三清。", "二、请供水、供电单位按时断水断电。"]
    assert "本周由联席办修改（office" in page.locator("#requirements ~ p.muted").first.inner_text()

    too_long = page.request.post(
        site.url("/bulletin/requirements"),
        form={"csrf_token": office.csrf(), "week": page.locator("input[name=week]").input_value(), "text": "要" * 5001},
    )
    assert too_long.status == 422 and "不能超过5000字" in too_long.text()

    phone = person("office", PHONE)
    phone.goto("/bulletin")
    assert _no_sideways_scroll(phone.page), "a wide table pushes the page sideways"
    wrap = phone.page.locator(".table-wrap").filter(has=phone.page.locator("table.bulletin-table"))
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")  # the table scrolls inside its card
    phone.screenshot("bulletin-sections-office-phone")


def test_a_member_unit_reads_its_own_part_first(person) -> None:
    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        town = person("kongcheng_handler", viewport)
        town.goto("/bulletin")
        page = town.page
        own = page.locator("#own")
        assert own.count() == 1 and "本单位情况：孔城镇" in own.inner_text()
        assert "“散乱污”整治" in own.inner_text()
        top = page.evaluate("document.querySelector('#own').getBoundingClientRect().top")
        assert top < page.evaluate("document.querySelector('article.bulletin').getBoundingClientRect().top")
        assert page.locator("form.requirements-form").count() == 0
        assert _no_sideways_scroll(page)
        town.screenshot(f"bulletin-sections-town-{name}")
    power = person("power_handler")
    power.goto("/bulletin")
    assert "本单位情况：市供电公司" in power.page.locator("#own").inner_text()
    assert "断电" in power.page.locator("#own").inner_text()
