"""The technical-upgrade subsidy (技改设备补助, DOMAIN.md §10): a type written as configuration only,
walked through the service on SQLite and PostgreSQL: every tier boundary and 亩均 class, the cap,
refusal at registration and by a reviewer, 一事一议, the publicity ending by itself, payment."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import count_rows, photo, standard_actors, xlsx_bytes
from openpyxl import load_workbook
from sqlalchemy import select

from cases.models import Case, Notification
from workflow.errors import GuardFailed, PermissionDenied

TYPE = "tech_subsidy"


def fields(investment: str, mu_class: str = "A", in_statistics: str = "yes") -> dict[str, str]:
    return {
        "enterprise_name": "安徽某制刷有限公司", "uscc": "91340881MA2N0G8X6M", "town": "kongcheng",
        "project_name": "智能制刷生产线技改项目", "investment": investment, "in_statistics": in_statistics,
        "mu_class": mu_class,
    }  # fmt: skip


@pytest.fixture()
def people(app):
    actors = standard_actors(app)
    for name, department, roles in (("statistics", "statistics", ["handler"]), ("sti", "sti", ["handler"]),
                                    ("finance", "finance", ["handler"]), ("convenor", "gov_office", ["convenor"])):  # fmt: skip
        app.users.add(name, department, roles)
    return actors, {n: app.users.actor(n) for n in ("statistics", "sti", "finance", "convenor")}


# (investment in 万元, class) → the amount in 万元: 5 % from 200, 6 % from 500, 7 % from 1,000, at most
# 80 万元, times the 亩均 factor A 100 %, B 70 %, C 40 %, D nothing.
AMOUNTS = [
    ("200", "A", "10.00"), ("200", "B", "7.00"), ("200", "C", "4.00"), ("200", "D", "0.00"),
    ("499.99", "A", "25.00"), ("499.99", "B", "17.50"), ("500", "A", "30.00"), ("500", "C", "12.00"),
    ("999.99", "A", "60.00"), ("1000", "A", "70.00"), ("1000", "B", "49.00"),
    ("1142.86", "A", "80.00"), ("1999.99", "A", "80.00"), ("1999.99", "B", "56.00"), ("1999.99", "C", "32.00"),
    ("200.1", "A", "10.01"),
]  # fmt: skip


@pytest.mark.parametrize(("investment", "mu_class", "amount"), AMOUNTS)
def test_the_amount_follows_the_tier_the_cap_and_the_class(app, people, investment, mu_class, amount) -> None:
    actors, _ = people
    case = app.cases.create(TYPE, actors.collector, fields(investment, mu_class))
    shown = app.cases.show(case["number"], actors.dispatcher)["fields"]
    assert Decimal(shown["amount"]) == Decimal(amount)
    assert shown["case_by_case"] == "no"
    rate = 5 if Decimal(investment) < 500 else 6 if Decimal(investment) < 1000 else 7
    assert Decimal(shown["rate"]) == rate
    assert Decimal(shown["factor"]) == {"A": 100, "B": 70, "C": 40, "D": 0}[mu_class]


@pytest.mark.parametrize(
    ("investment", "in_statistics", "reason"),
    [("199.99", "yes", "不足200万元"), ("0", "yes", "不足200万元"), ("500", "no", "未纳入统计范围")],
)
def test_registration_refuses_what_the_measure_does_not_pay_and_stores_nothing(app, people, investment, in_statistics, reason) -> None:
    actors, _ = people
    with pytest.raises(GuardFailed, match=reason):
        app.cases.create(TYPE, actors.collector, fields(investment, in_statistics=in_statistics))
    assert count_rows(app, Case) == 0


def _walk_to_department_review(app, actors, number: str) -> None:
    app.cases.advance(number, "pass_town_review", actors.kongcheng, {"notes": "材料齐全"})


def test_a_subsidy_is_reviewed_published_and_paid(app, people, clock, tmp_path) -> None:
    actors, units = people
    number = app.cases.create(TYPE, actors.collector, fields("800", "B"))["number"]
    assert number.startswith("JG-")
    with pytest.raises(PermissionDenied):
        app.cases.advance(number, "pass_town_review", units["finance"])
    _walk_to_department_review(app, actors, number)
    with pytest.raises(GuardFailed, match="部门复核尚未全部完成"):
        app.cases.advance(number, "forward_to_finance", actors.dispatcher)
    app.cases.complete_item(number, "statistics_check", units["statistics"])
    app.cases.complete_item(number, "sti_review", units["sti"])
    assert app.cases.advance(number, "forward_to_finance", actors.dispatcher)["state"] == "finance_review"
    # the finance bureau sees the case it must act on, and acts
    assert app.cases.show(number, units["finance"])["state"] == "finance_review"
    assert app.cases.advance(number, "approve_subsidy", units["finance"])["state"] == "publicity"
    clock.advance(timedelta(days=30))  # 5 working days of publicity (past the National Day holiday) end by themselves
    app.sweeper.sweep()
    assert app.cases.show(number, actors.dispatcher)["state"] == "payment"
    with pytest.raises(Exception, match="证明材料"):
        app.cases.advance(number, "pay", units["finance"], {"voucher_no": "桐财拨〔2026〕88号"})
    paid = app.cases.advance(number, "pay", units["finance"], {"voucher_no": "桐财拨〔2026〕88号"}, evidence=[photo()])
    assert paid["state"] == "paid"
    assert Decimal(app.cases.show(number, actors.dispatcher)["fields"]["amount"]) == Decimal("33.60")
    # the ledger shows the amount with what it follows from
    app.ledger.export_ledger(tmp_path / "台账.xlsx", case_type=TYPE)
    sheet = load_workbook(tmp_path / "台账.xlsx")["技改设备补助"]
    row = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[2]], strict=True))
    assert row["编号"] == number and row["当前状态"] == "已拨付"
    shown = {k: row[k] for k in ("设备投资额（万元）", "亩均效益评价等级", "补助比例（%）", "亩均系数（%）", "补助金额（万元）")}
    assert {k: str(v) for k, v in shown.items()} == {"设备投资额（万元）": "800", "亩均效益评价等级": "B类", "补助比例（%）": "6",
                                                     "亩均系数（%）": "70", "补助金额（万元）": "33.60"}


def test_the_subsidy_sends_its_own_notices(app, people, clock) -> None:
    actors, units = people
    number = app.cases.create(TYPE, actors.collector, fields("600", "A"))["number"]
    _walk_to_department_review(app, actors, number)
    app.cases.complete_item(number, "statistics_check", units["statistics"])
    app.cases.complete_item(number, "sti_review", units["sti"])
    app.cases.advance(number, "forward_to_finance", actors.dispatcher)
    app.cases.advance(number, "approve_subsidy", units["finance"])
    with app.db.read() as conn:
        rows = conn.execute(select(Notification.event, Notification.recipient, Notification.subject, Notification.body_text)
                            .where(Notification.case_number == number, Notification.channel == "inapp")).all()  # fmt: skip
    sent = {(r.event, r.recipient) for r in rows}
    assert ("application_received", "kongcheng") in sent and ("application_received", "collector") in sent
    assert ("publicity_started", "dispatcher") in sent and ("publicity_started", "kongcheng") in sent
    publicity = next(r for r in rows if r.event == "publicity_started")
    assert publicity.subject.startswith("【公示通知】") and "拟补助36.00万元" in publicity.body_text


def test_2000_and_more_is_decided_case_by_case_by_the_convenors(app, people) -> None:
    actors, units = people
    number = app.cases.create(TYPE, actors.collector, fields("2000", "A"))["number"]
    shown = app.cases.show(number, actors.dispatcher)["fields"]
    assert shown["case_by_case"] == "yes" and "amount" not in shown
    assert "rate" not in shown  # no tier applies
    with app.db.read() as conn:  # its notice renders without an amount (not the plain fallback)
        html = conn.execute(select(Notification.body_html).where(Notification.case_number == number,
                                                                  Notification.event == "application_received")).scalars().first()  # fmt: skip
    assert html and "一事一议，待召集人核定" in html
    _walk_to_department_review(app, actors, number)
    app.cases.complete_item(number, "sti_review", units["sti"])
    app.cases.complete_item(number, "statistics_check", units["statistics"])
    assert app.cases.advance(number, "forward_to_finance", actors.dispatcher)["state"] == "deliberation"
    with pytest.raises(GuardFailed, match="核定金额须大于0"):
        app.cases.advance(number, "decide_amount", units["convenor"], {"decided_amount": "0", "notes": "会商"})
    app.cases.advance(number, "decide_amount", units["convenor"], {"decided_amount": "120.5", "notes": "联席会议会商核定"})
    shown = app.cases.show(number, actors.dispatcher)
    assert shown["state"] == "finance_review" and Decimal(shown["fields"]["amount"]) == Decimal("120.50")


def test_a_reviewer_refuses_with_a_reason(app, people) -> None:
    actors, units = people
    number = app.cases.create(TYPE, actors.collector, fields("300", "C"))["number"]
    _walk_to_department_review(app, actors, number)
    with pytest.raises(PermissionDenied):
        app.cases.advance(number, "refuse", units["finance"], {"reason": "不符合条件"})
    refused = app.cases.advance(number, "refuse", units["statistics"], {"reason": "项目投资未入统计库"})
    assert refused["state"] == "refused"


def test_no_python_file_outside_tests_names_the_type() -> None:
    root = Path(__file__).resolve().parents[2]
    found = [
        str(p.relative_to(root))
        for package in ("caseflow", "cases", "ledger", "notifications", "scheduling", "web", "workflow", "config", "bench")
        for p in (root / package).rglob("*.py")
        if TYPE in p.read_text(encoding="utf-8")
    ]  # fmt: skip
    assert found == []


def test_a_ledger_import_applies_the_registration_rules_and_computes_the_amount(app, people, tmp_path) -> None:
    actors, _ = people
    header = ["企业名称", "统一社会信用代码", "所属镇街园区", "技改项目名称", "设备投资额（万元）", "是否纳入统计", "亩均效益评价等级"]
    rows = [
        ["安徽某制刷有限公司", "91340881MA2N0G8X6M", "孔城镇", "智能制刷线", 800, "是", "B类"],
        ["安徽某包装有限公司", "91340881MA2N0G8X6M", "孔城镇", "小型改造", 150, "是", "A"],
    ]
    book = tmp_path / "补助台账.xlsx"
    book.write_bytes(xlsx_bytes([header, *rows]))
    report = app.ledger.import_ledger(book, TYPE, actors.dispatcher)
    assert not report.stored and count_rows(app, Case) == 0  # all or nothing
    assert [(p.row, "设备投资额不足200万元" in p.reason) for p in report.problems] == [(3, True)]
    stored = app.ledger.import_ledger(book, TYPE, actors.dispatcher, valid_only=True)
    assert stored.stored and len(stored.created) == 1
    number = stored.created[0]["number"] if isinstance(stored.created[0], dict) else stored.created[0]
    assert Decimal(app.cases.show(number, actors.dispatcher)["fields"]["amount"]) == Decimal("33.60")
