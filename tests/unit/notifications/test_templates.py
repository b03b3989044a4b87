"""The shipped notification templates: every event renders for the enterprise problem and the
scattered-polluting site with realistic data, and carries the facts its recipients act on.

The samples (``notifications.samples``) follow the context schema of ``notifications.events``;
each test states the facts it expects rather than comparing whole documents.
"""

import copy
import html as htmllib
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from notifications.events import EVENTS
from notifications.render import DEFAULT_DIR, Rendered, TemplateStore
from notifications.samples import CASE_TYPES, ENTERPRISE, SITE, sample_context, sample_contexts

PER_CASE = [name for name, spec in EVENTS.items() if spec.per_case]
SAMPLES = [(event, label, context) for event in EVENTS for label, context in sample_contexts(event)]


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    return TemplateStore(DEFAULT_DIR)


def visible(html: str) -> str:
    """The text a reader sees in the HTML body: tags dropped, entities decoded."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def render(store: TemplateStore, event: str, context: dict[str, Any]) -> Rendered:
    rendered = store.render(event, context)
    assert rendered.html is not None
    return rendered


# --- every template, every sample -------------------------------------------------------------


def test_one_default_template_per_event_and_all_pass_the_check(store: TemplateStore) -> None:
    assert {p.stem for p in DEFAULT_DIR.glob("*.j2")} == set(EVENTS)
    assert store.load_problems == {}
    results = store.check_all()
    assert [(r.name, r.problems) for r in results if r.problems] == []
    assert {r.name for r in results if r.origin == "default" and r.active} == set(EVENTS)


@pytest.mark.parametrize(("event", "label", "context"), SAMPLES, ids=[f"{e}-{label}" for e, label, _ in SAMPLES])
def test_every_sample_renders_three_parts(
    store: TemplateStore, event: str, label: str, context: dict[str, Any]
) -> None:
    rendered = render(store, event, context)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.subject.startswith("【")
    assert rendered.text and rendered.html
    assert rendered.html.startswith("<div") and rendered.html.endswith("</div>")
    for part in (rendered.subject, rendered.text, visible(rendered.html)):
        assert "None" not in part and "Undefined" not in part
    if "case" in context:
        case = context["case"]
        for part in (rendered.subject, rendered.text, visible(rendered.html)):
            assert case["number"] in part and case["title"] in part
        if case["due_date"]:
            assert case["due_date"] in rendered.text or case["due_date"] in rendered.subject
            assert case["due_date"] in visible(rendered.html)


@pytest.mark.parametrize(("event", "label", "context"), SAMPLES, ids=[f"{e}-{label}" for e, label, _ in SAMPLES])
def test_text_body_is_short_enough_for_sms(
    store: TemplateStore, event: str, label: str, context: dict[str, Any]
) -> None:
    rendered = render(store, event, context)
    assert len(rendered.text.splitlines()) <= 3
    assert len(rendered.text) <= 300
    assert "<" not in rendered.text


@pytest.mark.parametrize("event", PER_CASE)
@pytest.mark.parametrize("case_type", [ENTERPRISE, SITE])
def test_every_per_case_template_renders_for_both_workflows(store: TemplateStore, event: str, case_type: str) -> None:
    """Where an event belongs to one workflow only, its template still renders the other's case
    (e.g. a by-hand notice), so that no change of workflow definition breaks delivery."""
    if case_type in CASE_TYPES[event]:
        context = sample_context(event, case_type)
    else:
        context = sample_context(event)
        context["case"] = copy.deepcopy(sample_context(*_any_sample_of(case_type))["case"])
    rendered = render(store, event, context)
    assert context["case"]["number"] in rendered.subject
    assert context["case"]["title"] in visible(rendered.html)


def _any_sample_of(case_type: str) -> tuple[str, str]:
    return next((e, case_type) for e in PER_CASE if case_type in CASE_TYPES[e])


class _TagBalance(HTMLParser):
    VOID = {"br", "hr", "img", "meta"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


@pytest.mark.parametrize(("event", "label", "context"), SAMPLES, ids=[f"{e}-{label}" for e, label, _ in SAMPLES])
def test_html_body_is_well_formed(store: TemplateStore, event: str, label: str, context: dict[str, Any]) -> None:
    checker = _TagBalance()
    checker.feed(render(store, event, context).html or "")
    checker.close()
    assert checker.errors == [] and checker.stack == []


# --- 交办单 ------------------------------------------------------------------------------------


def test_assignment_sheet_carries_everything_domain_lists(store: TemplateStore) -> None:
    context = sample_context("assigned", ENTERPRISE)
    case = context["case"]
    rendered = render(store, "assigned", context)
    page = visible(rendered.html)
    assert "交办单" in page
    for fact in (
        "QY-2026-00012",
        case["title"],
        "安徽桐兴塑业包装有限公司",
        "91340881MA2TK7LQ5X",
        case["summary"],
        "市供电公司",
        "市自然资源和规划局、桐城经济开发区",
        case["instructions"],
        "2026-09-30（1个工作日）",
        "10个工作日",
        "正常",
        "0556-6120000",
        "http://127.0.0.1:8000/cases/QY-2026-00012",
    ):
        assert fact in page, fact
    assert 'href="http://127.0.0.1:8000/cases/QY-2026-00012"' in rendered.html
    assert "交你单位主办" in rendered.text
    assert "2026-09-30（1个工作日）" in rendered.text and "10个工作日" in rendered.text
    assert case["link"] in rendered.text


def test_assignment_sheet_tells_a_co_unit_it_assists(store: TemplateStore) -> None:
    co = next(c for label, c in sample_contexts("assigned") if "协办" in label)
    assert co["recipient"]["department_name"] == "市自然资源和规划局"
    assert "交你单位协办" in render(store, "assigned", co).text


def test_assignment_sheet_shows_the_supervision_colour(store: TemplateStore) -> None:
    context = sample_context("assigned", ENTERPRISE)
    context["case"].update(supervision="supervised", supervision_label="督办", supervision_colour="橙")
    page = visible(render(store, "assigned", context).html)
    assert "督办（橙色）" in page


def test_assignment_sheet_of_a_site_names_the_site_and_the_missing_licence(store: TemplateStore) -> None:
    context = sample_context("assigned", SITE)
    rendered = render(store, "assigned", context)
    page = visible(rendered.html)
    for fact in ("SLW-2026-00003", "孔城镇桐梓村废旧塑料清洗加工点", "张某某", "孔城镇桐梓村", "无（未办理营业执照）",
                 "2026-10-10（15天）", "环境违法、无证无照"):  # fmt: skip
        assert fact in page, fact
    assert "孔城镇：" in rendered.text and "2026-10-10（15天）" in rendered.text


# --- the ladder -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "colour", "heading"),
    [
        ("warned", "蓝", "临期预警"),
        ("overdue", "黄", "逾期催办通知书"),
        ("supervised", "橙", "督办单"),
        ("listed", "红", "挂牌督办"),
    ],
)
@pytest.mark.parametrize("case_type", [ENTERPRISE, SITE])
def test_ladder_notices_show_level_colour_and_deadline(
    store: TemplateStore, event: str, colour: str, heading: str, case_type: str
) -> None:
    context = sample_context(event, case_type)
    rendered = render(store, event, context)
    page = visible(rendered.html)
    assert heading in page
    assert f"（{colour}色）" in page
    assert colour in rendered.subject or colour in rendered.text
    assert context["case"]["due_text"] in page
    assert context["case"]["due_at"] in page


@pytest.mark.parametrize(
    ("event", "case_type", "late"),
    [
        ("supervised", ENTERPRISE, "3天"),
        ("listed", ENTERPRISE, "7天"),
        ("supervised", SITE, "4天"),
        ("listed", SITE, "6天"),
    ],
)
def test_supervision_notices_say_how_long_overdue(store: TemplateStore, event: str, case_type: str, late: str) -> None:
    rendered = render(store, event, sample_context(event, case_type))
    assert f"已逾期{late}" in rendered.text
    assert f"已逾期{late}" in visible(rendered.html)


def test_overdue_notice_is_a_formal_letter_with_the_time_overdue(store: TemplateStore) -> None:
    context = sample_context("overdue", ENTERPRISE)
    context["event"]["at"] = "2026-10-22 09:00"
    rendered = render(store, "overdue", context)
    page = visible(rendered.html)
    assert page.count("逾期催办通知书") >= 1
    assert "市供电公司：" in page and "已逾期2天9小时" in page
    assert "2026年10月22日" in page  # the date under the signature
    assert "桐城市传统产业转型升级联席会商会议办公室" in page
    assert "已于2026-10-20 00:00逾期" in rendered.text and "已逾期2天9小时" in rendered.text


def test_supervision_sheet_by_hand_carries_its_reason(store: TemplateStore) -> None:
    by_hand = next(c for label, c in sample_contexts("supervised") if "联席办" in label)
    rendered = render(store, "supervised", by_hand)
    assert "企业反映送电时间一再推迟" in rendered.text
    page = visible(rendered.html)
    assert "督办事由" in page and "企业反映送电时间一再推迟" in page
    assert "安徽桐兴塑业包装有限公司" in page and "91340881MA2TK7LQ5X" in page


def test_listed_and_raised_go_to_the_convenors(store: TemplateStore) -> None:
    listed = visible(render(store, "listed", sample_context("listed")).html)
    assert "召集人" in listed and "专项工作通报" in listed and "市供电公司" in listed
    raised_context = sample_context("raised")
    raised = render(store, "raised", raised_context)
    page = visible(raised.html)
    assert "提级" in raised.subject and "召集人" in page and "召集人" in raised.text
    assert raised_context["event"]["reason"] in page and "非常不满意" in page


# --- the other case events ------------------------------------------------------------------------


def test_extension_result_says_approved_or_refused(store: TemplateStore) -> None:
    (_, approved), (_, refused) = sample_contexts("extension_decided")
    ok = render(store, "extension_decided", approved)
    assert "同意延期5个工作日" in ok.subject and "2026-10-26" in ok.text
    no = render(store, "extension_decided", refused)
    assert "不予延期" in no.subject and "变压器供货周期不是延期理由" in no.text and "2026-10-19" in no.text
    assert "。。" not in no.text


def test_answer_for_review_shows_result_reply_and_signatory(store: TemplateStore) -> None:
    context = sample_context("answered")
    rendered = render(store, "answered", context)
    page = visible(rendered.html)
    assert "已解决" in page and "10kV桐兴线" in page and "陈某某" in page
    assert "市供电公司已答复" in rendered.text


def test_sent_back_distinguishes_review_from_unhappy_enterprise(store: TemplateStore) -> None:
    (_, back), (_, reopen) = sample_contexts("sent_back")
    assert "未通过审核" in render(store, "sent_back", back).text
    text = render(store, "sent_back", reopen).text
    assert "不满意" in text and "重新办理" in text


def test_returned_and_follow_up_reach_the_office(store: TemplateStore) -> None:
    returned = render(store, "returned", sample_context("returned"))
    assert "市供电公司" in returned.text and "不属我单位职责" in returned.text
    follow = render(store, "follow_up_due", sample_context("follow_up_due"))
    assert "安徽桐兴塑业包装有限公司" in follow.text and "2026-10-29" in follow.text


def test_closing_notice_for_each_workflow(store: TemplateStore) -> None:
    enterprise = render(store, "closed", sample_context("closed", ENTERPRISE))
    assert "满意" in enterprise.text and "销号" in enterprise.text
    site = render(store, "closed", sample_context("closed", SITE))
    assert "回头看" in site.text and "2026-11-13" in site.text


def test_item_request_lists_the_items_of_the_recipients_unit(store: TemplateStore) -> None:
    power, town, rectify = (c for _, c in sample_contexts("item_request"))
    power_out = render(store, "item_request", power)
    assert "两断三清" in power_out.subject
    assert "断电" in power_out.text and "清除原料" not in power_out.text
    assert "电表读数" in visible(power_out.html)
    town_out = render(store, "item_request", town)
    assert "清除原料、清除产品、清除设备" in town_out.text
    page = visible(town_out.html)
    assert all(label in page for label in ("清除原料", "清除产品", "清除设备")) and "待完成" in page
    rectify_out = render(store, "item_request", rectify)
    assert "整改任务" in rectify_out.subject and "营业执照、污染治理设施" in rectify_out.text


def test_item_request_for_a_group_robot_without_items(store: TemplateStore) -> None:
    context = sample_context("item_request")
    context["items"] = []
    rendered = render(store, "item_request", context)
    assert "按分工完成两断三清任务" in rendered.text


def test_acceptance_and_revisit_reminders(store: TemplateStore) -> None:
    acceptance = visible(render(store, "acceptance", sample_context("acceptance")).html)
    assert "属地自查" in acceptance and "部门复核" in acceptance and "联席办核查" in acceptance
    assert "2026-10-15（5个工作日）" in acceptance
    revisit = render(store, "revisit_due", sample_context("revisit_due"))
    assert "回头看" in revisit.subject and "2026-11-20" in revisit.text


# --- digest and bulletin -------------------------------------------------------------------------


def test_digest_lists_todo_due_soon_and_overdue_with_deadlines(store: TemplateStore) -> None:
    context = sample_context("digest")
    rendered = render(store, "digest", context)
    assert "待办3件" in rendered.subject and "临期1件" in rendered.subject and "逾期1件" in rendered.subject
    assert "SLW-2026-00003（期限2026-10-10）" in rendered.text
    assert "QY-2026-00012（期限2026-10-19）" in rendered.text
    page = visible(rendered.html)
    assert "逾期事项（1件）" in page and "临期事项（1件）" in page and "全部待办（3件）" in page
    for case in context["digest"]["todo"]:
        assert case["number"] in page and case["due_date"] in page
    assert "挂牌督办（红）" in page


def test_digest_without_work(store: TemplateStore) -> None:
    empty = next(c for label, c in sample_contexts("digest") if label == "无待办")
    rendered = render(store, "digest", empty)
    assert "暂无待办" in rendered.text and "暂无待办" in visible(rendered.html)


BULLETIN_COLUMNS = ("排名", "单位", "交办数", "按期签收率", "退回数", "办结数", "按期办结率", "当前超期数", "累计超期数",
                    "平均用时（工作日）", "延期数", "满意率", "重办数", "督办数", "临期预警", "逾期催办", "督办",
                    "挂牌督办")  # fmt: skip
"""No colours in brackets (DOMAIN.md §13)."""


def test_bulletin_has_every_column_ranked_then_the_overdue_cases(store: TemplateStore) -> None:
    context = sample_context("bulletin")
    context["bulletin"]["rows"].reverse()  # the template ranks by ``rank``, not by list order
    rendered = render(store, "bulletin", context)
    html = rendered.html
    assert html is not None
    headers = [visible(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", html)]
    for column in BULLETIN_COLUMNS:
        assert column in headers, column
    page = visible(html)
    ranked = sorted(context["bulletin"]["rows"], key=lambda r: r["rank"])
    positions = [page.index(r["unit_name"]) for r in ranked]
    assert positions == sorted(positions)
    power = next(r for r in ranked if r["unit_name"] == "市供电公司")
    row_html = next(tr for tr in re.findall(r"<tr.*?</tr>", html, re.S) if "市供电公司" in tr)
    cells = [visible(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html)]
    assert cells == [str(power[k]) for k in ("rank", "unit_name", "assigned", "on_time_accept_rate", "returned", "completed",
                     "on_time_rate", "current_overdue", "total_overdue", "avg_days", "extensions", "satisfaction_rate",
                     "reworks", "warned", "overdue", "supervised", "listed")]  # fmt: skip
    overdue_part = page[page.index("五、超期事项") :]
    for case in context["bulletin"]["overdue_cases"]:
        assert case["number"] in overdue_part and case["due_date"] in overdue_part and case["unit_name"] in overdue_part
    assert "交办23件" in rendered.text and "排名末位：孔城镇" in rendered.text


BULLETIN_SECTIONS = ("一、总体情况", "二、企业问题办理情况（分单位）", "三、“散乱污”整治情况（分镇街）",
                     "四、供水供电供气及协办单位办理时效", "五、超期事项", "六、红黑榜", "七、下一步工作要求")  # fmt: skip


def test_bulletin_sections_in_order_with_their_figures(store: TemplateStore) -> None:
    context = sample_context("bulletin")
    data = context["bulletin"]
    page = visible(render(store, "bulletin", context).html)
    positions = [page.index(title) for title in BULLETIN_SECTIONS]
    assert positions == sorted(positions)
    assert "本单位情况" not in page  # the office's and convenors' copy
    towns = page[positions[2] : positions[3]]
    kongcheng = next(t for t in data["towns"] if t["unit"] == "kongcheng")
    assert "孔城镇" in towns and kongcheng["clearing"] in towns
    timely = page[positions[3] : positions[4]]
    assert "市供电公司" in timely and "断电" in timely and "协办反馈" in timely
    board = page[positions[5] : positions[6]]
    assert all(name in board for name in data["red"] + data["black"])
    for paragraph in data["requirements"]["paragraphs"]:
        assert paragraph in page[positions[6] :]


def test_a_member_units_copy_starts_with_its_own_part(store: TemplateStore) -> None:
    context = next(c for label, c in sample_contexts("bulletin") if "本单位" in label)
    rendered = render(store, "bulletin", context)
    page = visible(rendered.html)
    own = page.index("本单位情况：市供电公司")
    assert own < page.index("工作通报") < page.index("一、总体情况")
    block = page[own : page.index("一、总体情况")]
    assert "本期排名5" in block and "SLW-2026-00003" in block and "断电：本年应办2项" in block
    assert rendered.text.startswith("本单位（市供电公司）：排名5/6")


def test_bulletin_of_a_quiet_week(store: TemplateStore) -> None:
    quiet = next(c for label, c in sample_contexts("bulletin") if label == "空周")
    rendered = render(store, "bulletin", quiet)
    assert "本期无交办和办理记录" in visible(rendered.html) and "交办0件" in rendered.text


# --- escaping ---------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script> & 桐城“恒&兴”"


@pytest.mark.parametrize("event", PER_CASE)
def test_html_escapes_case_data_and_text_keeps_it_verbatim(store: TemplateStore, event: str) -> None:
    context = sample_context(event)
    context["case"]["title"] = HOSTILE
    context["case"]["summary"] = "A & B <b>bold</b>"
    rendered = render(store, event, context)
    assert rendered.html is not None
    assert "<script>" not in rendered.html and "<b>bold</b>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 桐城“恒&amp;兴”" in rendered.html
    assert HOSTILE in rendered.text and "&amp;" not in rendered.text and "&lt;" not in rendered.text
    assert HOSTILE in rendered.subject


def test_digest_and_bulletin_escape_titles_too(store: TemplateStore) -> None:
    digest = sample_context("digest")
    digest["digest"]["overdue"][0]["title"] = HOSTILE
    assert "<script>" not in (render(store, "digest", digest).html or "")
    bulletin = sample_context("bulletin")
    bulletin["bulletin"]["overdue_cases"][0]["title"] = HOSTILE
    bulletin["bulletin"]["rows"][0]["unit_name"] = "A & B"
    out = render(store, "bulletin", bulletin)
    assert "<script>" not in (out.html or "") and "A &amp; B" in (out.html or "")
