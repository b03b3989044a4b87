"""Ledger (台账) export on SQLite and PostgreSQL: the round trip (export, import into an empty
database, export again: the same cell values), the template, one case's history, filters, the
shape a clerk expects (frozen header, widths, date formats), and interrupted exports.
"""

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import ENTERPRISE, SITE, Actors, build_app, photo, standard_actors
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.engine import make_url

from caseflow.app import App
from cases import audit
from ledger import LedgerService
from workflow.clock import SHANGHAI, FixedClock

USCC = ("914403001922038216", "91340600MA2PBM9HXD")


def service(app: App) -> LedgerService:
    return app.ledger


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=SHANGHAI)


def values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    workbook = load_workbook(path)
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}


@pytest.fixture
def empty_app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[App]:
    """A second, empty database of the same kind as the ``app`` fixture's."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'second.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = f"caseflow_test_{uuid.uuid4().hex[:16]}"
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        request.addfinalizer(drop)
        url = make_url(str(server.url)).set(database=name).render_as_string(hide_password=False)
    second = build_app(url, tmp_path / "second-data", clock=FixedClock(at("2026-09-30T10:00")))
    second.migrate()
    try:
        yield second
    finally:
        second.close()


# --- a ledger of cases walked live, at their own instants -----------------------------------------


class Walker:
    def __init__(self, app: App, actors: Actors, clock: FixedClock) -> None:
        self.app, self.a, self.clock = app, actors, clock

    def when(self, instant: str) -> "Walker":
        self.clock.set(at(instant))
        return self

    def enterprise(self, instant: str, title: str, uscc: str = USCC[0], **extra: Any) -> str:
        fields = {"title": title, "description": f"{title}的详细情况", "category": "生产要素",
                  "enterprise_name": f"{title}企业", "uscc": uscc, "town": "kongcheng", "source": "走访", **extra}  # fmt: skip
        return str(self.when(instant).app.cases.create(ENTERPRISE, self.a.dispatcher, fields)["number"])

    def site(self, instant: str, name: str, **extra: Any) -> str:
        fields = {"site_name": name, "address": f"孔城镇{name}所在村组", "town": "kongcheng", "village": "桐梓村",
                  "violations": ["环境违法", "无证无照"], "power_account": "340881000123", **extra}  # fmt: skip
        return str(self.when(instant).app.cases.create(SITE, self.a.dispatcher, fields)["number"])

    def advance(
        self, instant: str, number: str, trigger: str, actor: Any, fields: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        self.when(instant).app.cases.advance(number, trigger, actor, fields or {}, **kw)

    def item(self, instant: str, number: str, key: str, actor: Any, fields: dict[str, Any] | None = None) -> None:
        self.when(instant).app.cases.complete_item(number, key, actor, fields or {}, evidence=[photo()])

    def confirm(self, instant: str, number: str, key: str, actor: Any) -> None:
        """The issuing department confirms a permit the town reported (营业执照 → 市市场监管局)."""
        self.when(instant).app.cases.decide_item(number, key, "confirm", actor)


def add_finance_handler(app: App) -> None:
    """市财政局 is a co-unit below: a unit named must have an active handler (cases.staffing)."""
    if not app.users.exists("finance"):
        app.users.add("finance", "finance", ["handler"])


def populate(app: App, actors: Actors, clock: FixedClock) -> None:
    """Cases in every state that a ledger carries, each step at its own historical instant."""
    w, a = Walker(app, actors, clock), actors
    add_finance_handler(app)
    w.enterprise("2026-09-14T10:00", "待交办问题")
    e = w.enterprise("2026-09-01T10:00", "已交办问题", USCC[1], industry="绿色包装", contact="王经理 13800000000")
    w.advance(
        "2026-09-02T11:00",
        e,
        "assign",
        a.dispatcher,
        {"lead_unit": "power", "co_units": ["finance"], "instructions": "尽快答复"},
    )
    e = w.enterprise("2026-08-20T10:00", "办理中问题")
    w.advance("2026-08-21T10:00", e, "assign", a.dispatcher, {"lead_unit": "power", "class": "complex"})
    w.advance("2026-08-24T16:00", e, "accept", a.power)
    for title, last in (("已答复问题", "answer"), ("待回访问题", "approve_answer"), ("已销号问题", "close")):
        e = w.enterprise("2026-08-03T10:00", title)
        w.advance("2026-08-04T10:00", e, "assign", a.dispatcher, {"lead_unit": "power"})
        w.advance("2026-08-05T10:00", e, "accept", a.power)
        w.advance(
            "2026-08-20T10:00",
            e,
            "answer",
            a.power,
            {"result": "resolved", "reply": "已完成增容", "signed_by": "张主任"},
        )
        if last == "answer":
            continue
        w.advance("2026-08-21T10:00", e, "approve_answer", a.dispatcher)
        if last == "close":
            w.advance("2026-08-25T10:00", e, "close", a.dispatcher, {"satisfaction": "满意"})
    e = w.enterprise("2026-09-09T10:00", "不予受理问题")
    w.advance("2026-09-10T10:00", e, "decline", a.dispatcher, {"reason": "涉诉事项，不予受理"})
    e = w.enterprise("2026-09-15T10:00", "延期待批问题")
    w.advance("2026-09-16T10:00", e, "assign", a.dispatcher, {"lead_unit": "power"})
    w.advance("2026-09-16T15:00", e, "accept", a.power)
    w.advance("2026-09-22T10:00", e, "request_extension", a.power, {"reason": "需协调上级部门", "days": 5})

    w.site("2026-09-20T10:00", "待核查点")
    s = w.site("2026-09-01T10:00", "核查中点", operator="经营者甲", source="群众举报")
    w.advance("2026-09-02T10:00", s, "start_verification", a.dispatcher)
    s = w.site("2026-09-01T10:00", "两断三清中点")
    w.advance("2026-09-02T10:00", s, "start_verification", a.dispatcher)
    w.advance("2026-09-03T10:00", s, "classify_ban", a.dispatcher, {"plan": "依法取缔"})
    w.item("2026-09-05T14:00", s, "cut_power", a.power, {"meter_reading": "12345.6"})
    s = w.site("2026-09-01T10:00", "整改中点")
    w.advance("2026-09-02T10:00", s, "start_verification", a.dispatcher)
    w.advance(
        "2026-09-03T10:00",
        s,
        "classify_rectify",
        a.dispatcher,
        {
            "items": ["business_license", "other"],
            "other_item": "建设围挡",
            "deadline": "2026-10-30",
            "plan": "限期整改",
        },
    )
    s = w.site("2026-08-01T10:00", "待验收点")
    w.advance("2026-08-02T10:00", s, "start_verification", a.dispatcher)
    w.advance("2026-08-03T10:00", s, "classify_ban", a.dispatcher, {"plan": "依法取缔", "cut_gas": "yes"})
    for day, key, actor in (("05", "cut_water", a.water), ("06", "cut_power", a.power), ("06", "cut_gas", a.gas),
                            ("07", "clear_materials", a.kongcheng), ("07", "clear_products", a.kongcheng), ("08", "clear_equipment", a.kongcheng)):  # fmt: skip
        w.item(f"2026-08-{day}T10:00", s, key, actor, {"meter_reading": "777"} if key == "cut_power" else {})
    w.advance("2026-08-10T10:00", s, "submit_clearance", a.kongcheng)
    w.item("2026-08-11T10:00", s, "town_check", a.kongcheng)
    s = w.site("2026-07-01T10:00", "已销号点")
    w.advance("2026-07-02T10:00", s, "start_verification", a.dispatcher)
    w.advance(
        "2026-07-03T10:00", s, "classify_rectify", a.dispatcher, {"items": ["business_license", "pollution_control"]}
    )
    w.item("2026-07-20T10:00", s, "business_license", a.kongcheng)
    w.confirm("2026-07-20T15:00", s, "business_license", a.market_regulation)
    w.item("2026-07-21T10:00", s, "pollution_control", a.kongcheng)
    w.advance("2026-07-22T10:00", s, "submit_rectification", a.kongcheng)
    w.item("2026-07-23T10:00", s, "town_check", a.kongcheng)
    w.item("2026-07-24T10:00", s, "department_review", a.ecology)
    w.item("2026-07-27T10:00", s, "office_verification", a.dispatcher)
    w.advance("2026-07-28T10:00", s, "pass_acceptance", a.dispatcher)
    s = w.site("2026-06-01T10:00", "已归档点")
    w.advance("2026-06-02T10:00", s, "start_verification", a.dispatcher)
    w.advance("2026-06-03T10:00", s, "classify_ban", a.dispatcher, {"plan": "依法取缔"})
    for key, actor in (("cut_water", a.water), ("cut_power", a.power), ("clear_materials", a.kongcheng),
                       ("clear_products", a.kongcheng), ("clear_equipment", a.kongcheng)):  # fmt: skip
        w.item("2026-06-05T10:00", s, key, actor, {"meter_reading": "1"} if key == "cut_power" else {})
    w.advance("2026-06-08T10:00", s, "submit_clearance", a.kongcheng)
    w.item("2026-06-09T10:00", s, "town_check", a.kongcheng)
    w.item("2026-06-09T11:00", s, "department_review", a.ecology)
    w.item("2026-06-10T10:00", s, "office_verification", a.dispatcher)
    w.advance("2026-06-10T11:00", s, "pass_acceptance", a.dispatcher)
    w.advance("2026-07-11T08:00", s, "revisit", a.system)
    w.advance("2026-07-15T10:00", s, "confirm_revisit", a.kongcheng, {"notes": "未见反弹"}, evidence=[photo(3)])
    s = w.site("2026-09-10T10:00", "非散乱污点")
    w.advance("2026-09-11T10:00", s, "start_verification", a.dispatcher)
    w.advance("2026-09-12T10:00", s, "dismiss", a.dispatcher, {"reason": "合法经营户"})
    clock.set(at("2026-09-30T10:00"))


def item_day(item: dict[str, Any]) -> tuple[Any, ...]:
    """An item as a ledger records it: the rectification items share one 整改完成日期 (the last)."""
    day = item["done_at"][:10] if item["done_at"] and item["checklist"] != "rectification" else None
    return item["key"], item["done"], day


def test_round_trip_export_import_export_gives_the_same_workbook(
    app: App, actors: Actors, clock: FixedClock, empty_app: App, tmp_path: Path
) -> None:
    populate(app, actors, clock)
    first = tmp_path / "first.xlsx"
    exported = service(app).export_ledger(first)
    assert [(s["sheet"], s["rows"]) for s in exported["sheets"]] == [("企业问题", 8), ("散乱污整治", 8), ("技改设备补助", 0)]

    office = standard_actors(empty_app).dispatcher
    add_finance_handler(empty_app)
    ledger = service(empty_app)
    for case_type in (ENTERPRISE, SITE):
        report = ledger.import_ledger(first, case_type, office)
        assert report.problems == [], report.problems
        assert report.stored and len(report.created) == 8
    second = tmp_path / "second.xlsx"
    ledger.export_ledger(second)

    before, after = values(first), values(second)
    assert list(before) == list(after) == ["企业问题", "散乱污整治", "技改设备补助"]
    for sheet in ("企业问题", "散乱污整治"):
        assert len(before[sheet]) == 9
        for row_before, row_after in zip(before[sheet], after[sheet], strict=True):
            assert row_before == row_after
    # the imported cases are where the live ones are: same states, deadlines, items
    for number in [r[1] for sheet in before.values() for r in sheet[1:]]:
        live, imported = app.cases.show(number), empty_app.cases.show(number)
        for key in ("state", "due_date", "due_at", "category", "fields"):
            assert live[key] == imported[key], (number, key)
        assert [item_day(i) for i in live["items"]] == [item_day(i) for i in imported["items"]], number
    with empty_app.db.read() as conn:
        assert audit.verify(conn).ok


def test_the_ledger_has_the_shape_a_clerk_expects(app: App, actors: Actors, clock: FixedClock, tmp_path: Path) -> None:
    populate(app, actors, clock)
    path = tmp_path / "台账.xlsx"
    service(app).export_ledger(path, case_type=ENTERPRISE)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["企业问题"]
    ws = workbook["企业问题"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b
    header = [c.value for c in ws[1]]
    for column in (
        "编号",
        "问题标题",
        "企业名称",
        "统一社会信用代码",
        "所属镇街",
        "当前状态",
        "主办单位",
        "交办日期",
        "办理期限",
        "督办等级",
    ):
        assert column in header
    width = {c.value: ws.column_dimensions[c.column_letter].width for c in ws[1]}
    assert width["问题描述"] > width["序号"] and width["统一社会信用代码"] >= 20
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assigned = rows["QY-2026-00002"]
    assert (
        assigned["当前状态"] == "已交办·待签收"
        and assigned["主办单位"] == "市供电公司"
        and assigned["协办单位"] == "市财政局"
    )
    assert assigned["交办日期"] == datetime(2026, 9, 2) and assigned["办理期限"] == datetime(2026, 9, 3)
    assert assigned["统一社会信用代码"] == USCC[1] and assigned["督办等级"] == "正常"
    row = next(r for r in ws.iter_rows(min_row=2) if r[1].value == "QY-2026-00002")
    date_cell = row[header.index("交办日期")]
    assert date_cell.number_format == "yyyy-mm-dd" and row[header.index("统一社会信用代码")].number_format == "@"
    assert rows["QY-2026-00007"]["不予受理理由"] == "涉诉事项，不予受理"
    assert rows["QY-2026-00008"]["申请延期天数"] == 5 and rows["QY-2026-00008"]["延期理由"] == "需协调上级部门"
    assert rows["QY-2026-00003"]["办理类别"] == "复杂"


def test_filters_by_state_and_department(app: App, actors: Actors, clock: FixedClock, tmp_path: Path) -> None:
    populate(app, actors, clock)
    ledger = service(app)
    by_state = ledger.export_ledger(tmp_path / "a.xlsx", case_type=ENTERPRISE, state="已交办·待签收")
    assert by_state["rows"] == 1
    by_key = ledger.export_ledger(tmp_path / "b.xlsx", state="closed")  # both types have a closed state
    assert [(s["sheet"], s["rows"]) for s in by_key["sheets"]] == [("企业问题", 1), ("散乱污整治", 1)]  # 技改设备补助 has no such state
    only_sites = ledger.export_ledger(tmp_path / "c.xlsx", state="取缔关闭·两断三清实施中")
    assert [s["sheet"] for s in only_sites["sheets"]] == ["散乱污整治"] and only_sites["rows"] == 1
    power = ledger.export_ledger(tmp_path / "d.xlsx", department="市供电公司")
    # lead unit of 6 enterprise problems; the cut_power item of the clearing site is done
    assert [(s["sheet"], s["rows"]) for s in power["sheets"]] == [("企业问题", 6), ("散乱污整治", 0), ("技改设备补助", 0)]
    water = ledger.export_ledger(tmp_path / "w.xlsx", department="water")
    assert [(s["sheet"], s["rows"]) for s in water["sheets"]] == [("企业问题", 0), ("散乱污整治", 1), ("技改设备补助", 0)]  # open 断水
    town = ledger.export_ledger(tmp_path / "e.xlsx", case_type=SITE, department="kongcheng")
    assert town["rows"] == 8
    from workflow.errors import InvalidInput

    with pytest.raises(InvalidInput, match="没有状态"):
        ledger.export_ledger(tmp_path / "f.xlsx", case_type=SITE, state="已交办")
    with pytest.raises(InvalidInput):
        ledger.export_ledger(tmp_path / "g.xlsx", department="火星镇")
    assert not (tmp_path / "f.xlsx").exists() and not (tmp_path / "g.xlsx").exists()


def test_an_interrupted_export_leaves_no_file(app: App, actors: Actors, clock: FixedClock, tmp_path: Path) -> None:
    populate(app, actors, clock)
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "out.xlsx"
    target.write_bytes(b"the previous export")

    def interrupt(phase: str, done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service(app).export_ledger(target, progress=interrupt)
    assert target.read_bytes() == b"the previous export"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.xlsx"]


def test_template_has_example_explanations_and_dropdowns(app: App, actors: Actors, tmp_path: Path) -> None:
    ledger = service(app)
    for case_type, sheet in ((ENTERPRISE, "企业问题"), (SITE, "散乱污整治")):
        path = tmp_path / f"{case_type}.xlsx"
        result = ledger.export_template(case_type, path)
        workbook = load_workbook(path)
        assert workbook.sheetnames == [sheet, "填写说明", "可选值"]
        ws = workbook[sheet]
        header = [c.value for c in ws[1]]
        assert header == result["columns"] and "办理期限" not in header
        assert ws["A2"].value == "示例" and ws.freeze_panes == "A2"
        explained = [r[0] for r in workbook["填写说明"].iter_rows(min_row=2, max_row=len(header) + 1, values_only=True)]
        assert explained == header
        validations = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
        town = header.index("所属镇街")
        town_dv = validations[f"{ws.cell(2, town + 1).column_letter}2"]
        assert town_dv.type == "list" and "可选值" in town_dv.formula1
        state_dv = validations[f"{ws.cell(2, header.index('当前状态') + 1).column_letter}2"]
        lists = workbook["可选值"]
        titles = [c.value for c in lists[1]]
        column = titles.index("当前状态") + 1
        states = [lists.cell(r, column).value for r in range(2, lists.max_row + 1) if lists.cell(r, column).value]
        assert states[0] in ("已登记",) and len(states) == len(app.definitions.specs[case_type].states)
        assert state_dv.showErrorMessage
        towns = [lists.cell(r, titles.index("所属镇街") + 1).value for r in range(2, 40)]
        assert "孔城镇" in towns and "桐城经济开发区" in towns and "市供电公司" not in towns
        # the untouched template imports nothing (its example row is skipped)
        report = ledger.import_ledger(path, case_type, actors.dispatcher, dry_run=True)
        assert report.rows == 0 and report.problems == [] and any("示例" in n for n in report.notices)


def test_a_filled_template_imports(app: App, actors: Actors, tmp_path: Path) -> None:
    ledger = service(app)
    path = tmp_path / "t.xlsx"
    ledger.export_template(SITE, path)
    workbook = load_workbook(path)
    ws = workbook["散乱污整治"]
    example = [c.value for c in ws[2]]
    ws.append([1, *example[1:]])
    workbook.save(path)
    report = ledger.import_ledger(path, SITE, actors.dispatcher)
    assert report.problems == [] and report.stored
    case = app.cases.show(report.created[0]["number"])
    assert case["state"] == "clearing" and next(i for i in case["items"] if i["key"] == "cut_power")["done"]


def test_history_of_one_case(app: App, actors: Actors, clock: FixedClock, tmp_path: Path) -> None:
    populate(app, actors, clock)
    path = tmp_path / "history.xlsx"
    result = service(app).export_history("slw-2026-00007", path)  # the archived site
    events = app.cases.history("SLW-2026-00007")
    assert result == {"file": str(path), "case": "SLW-2026-00007", "events": len(events)}
    workbook = load_workbook(path)
    ws = workbook["办理记录"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[:8] == ["序号", "时间", "操作人", "操作", "操作名称", "原状态", "新状态", "备注"] and "哈希" in header
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [e["seq"] for e in events]
    assert [r[3] for r in rows] == [e["trigger"] for e in events]
    assert [r[header.index("哈希")] for r in rows] == [e["hash"] for e in events]
    assert rows[0][1] == datetime(2026, 6, 1, 10, 0) and rows[0][4] == "登记" and rows[0][5] == "—"
    assert rows[-1][4] == "回头看确认" and rows[-1][6] == "已归档（archived）"
    assert any(r[4] == "完成事项：断电" for r in rows)
    info = dict(workbook["案件信息"].iter_rows(values_only=True))
    assert info["编号"] == "SLW-2026-00007" and info["链头哈希"] == events[-1]["hash"]
    from workflow.errors import NotFound

    with pytest.raises(NotFound):
        service(app).export_history("QY-2026-99999", tmp_path / "none.xlsx")
    assert not (tmp_path / "none.xlsx").exists()


def test_imported_history_is_marked_in_the_history_export(app: App, actors: Actors, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(
        [
            "问题标题",
            "问题描述",
            "问题类别",
            "企业名称",
            "统一社会信用代码",
            "所属镇街",
            "当前状态",
            "交办日期",
            "主办单位",
        ]
    )
    workbook.active.append(
        ["问题", "描述", "生产要素", "企业", USCC[0], "孔城镇", "已交办", date(2026, 9, 28), "市供电公司"]
    )
    workbook.save(tmp_path / "l.xlsx")
    report = service(app).import_ledger(tmp_path / "l.xlsx", ENTERPRISE, actors.dispatcher)
    service(app).export_history(report.created[0]["number"], tmp_path / "h.xlsx")
    rows = list(load_workbook(tmp_path / "h.xlsx")["办理记录"].iter_rows(min_row=2, values_only=True))
    assert [(r[3], r[4], r[8]) for r in rows] == [("import", "台账导入", "是"), ("assign", "交办", "是")]
    assert "台账导入" in rows[0][7]
