"""Ledger (台账) import on SQLite and PostgreSQL: validation with row and column, nothing stored
unless every row is valid (or ``valid_only``), one transaction, workbooks shaped as Excel and
WPS/LibreOffice save them, and cases placed in their current state through the definitions'
own rules at the historical instants (compared with the same steps done live).

Workbooks are built in each test with openpyxl, as a clerk's tools would have saved them.
"""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import ENTERPRISE, SITE, Actors, make_uscc, photo
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from caseflow.app import App
from cases import audit
from ledger import LedgerService
from cases.models import Case, CaseEvent, EvidenceFile
from workflow.clock import SHANGHAI, FixedClock
from workflow.errors import PermissionDenied

VALID = ("914403001922038216", "91340600MA2PBM9HXD")
BAD_CHECKSUM = "914403001922038217"
ENTERPRISE_HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]
SITE_HEADERS = ["序号", "场所名称", "经营者", "详细地址", "所属镇街", "村(社区)", "问题类型", "用电户号", "登记日期"]


def service(app: App) -> LedgerService:
    return app.ledger


def write(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    workbook = Workbook()
    ws = workbook.active
    ws.title = title
    for row in rows:
        ws.append(row)
    workbook.save(path)
    return path


def count(app: App, table: Any) -> int:
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table.__table__)).scalar_one())


def at(text: str) -> datetime:
    """An instant given in Asia/Shanghai wall time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def problems_by_cell(report: Any) -> dict[tuple[int, str | None], str]:
    return {(p.row, p.column): p.reason for p in report.problems}


def verify(app: App) -> None:
    with app.db.read() as conn:
        result = audit.verify(conn)
    assert result.ok, result.first_break


# --- validation: every fault with its row and column, nothing stored ------------------------------


def test_every_fault_is_reported_with_row_and_column_and_nothing_is_stored(
    app: App, actors: Actors, tmp_path: Path
) -> None:
    # a site ledger without its 问题类型 column, with a wrong checksum, an unknown town,
    # a duplicated site and a date written day-first
    headers = ["序号", "场所名称", "详细地址", "所属镇街", "统一社会信用代码", "登记日期"]
    rows = [
        ["桐城市散乱污场所排查台账"],
        headers,
        [1, "甲塑料加工点", "孔城镇桐梓村一组", "孔城镇", BAD_CHECKSUM, "2026-09-01"],
        [2, "乙石材加工点", "吕亭镇某村二组", "火星镇", None, "2026-09-02"],
        [3, "丙五金作坊", "范岗镇某村三组", "范岗镇", VALID[0], "30/09/2026"],
        [4, "甲塑料加工点", "孔城镇桐梓村一组", "孔城镇", None, "2026-09-03"],
    ]
    path = write(tmp_path / "散乱污台账.xlsx", rows)
    report = service(app).import_ledger(path, SITE, actors.dispatcher)

    assert not report.stored and report.rows == 4 and report.header_row == 2
    found = problems_by_cell(report)
    assert "缺少必填列“问题类型”" in found[(2, None)]
    assert "校验位" in found[(3, "E")]
    assert "火星镇" in found[(4, "D")]
    assert "不是有效日期" in found[(5, "F")]
    assert "与第3行重复" in found[(6, "B")]
    missing = next(p for p in report.problems if p.column is None)
    assert missing.header == "问题类型"
    assert all(p.header for p in report.problems)
    assert count(app, Case) == 0 and count(app, CaseEvent) == 0 and count(app, EvidenceFile) == 0

    # --valid-only cannot help: without the column no row is complete
    again = service(app).import_ledger(path, SITE, actors.dispatcher, valid_only=True)
    assert not again.stored and again.valid_rows == 0
    assert count(app, Case) == 0


def test_row_problems_name_the_column_letter_and_the_header_as_written(
    app: App, actors: Actors, tmp_path: Path
) -> None:
    headers = [
        "问题标题",
        "问题描述",
        "问题\n类别",
        "企业名称",
        "统一社会\n信用代码",
        "所属镇街",
        "交办日期",
        "当前状态",
    ]
    rows = [headers, ["标题", "描述", "吃饭问题", "企业", VALID[0], "孔城镇", "2026-13-01", "已登记"]]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    by_column = {p.column: p for p in report.problems}
    assert by_column["C"].header == "问题类别" and "吃饭问题" in by_column["C"].reason
    assert "生产要素" in by_column["C"].reason  # says what is allowed
    assert by_column["G"].header == "交办日期" and by_column["G"].value == "2026-13-01"
    assert all(p.row == 2 for p in report.problems)


def test_duplicates_within_the_file_and_against_open_cases(app: App, actors: Actors, tmp_path: Path) -> None:
    app.cases.create(ENTERPRISE, actors.dispatcher, {
        "title": "用电增容", "description": "已登记的问题", "category": "生产要素", "enterprise_name": "企业甲",
        "uscc": VALID[0], "town": "kongcheng",
    })  # fmt: skip
    rows = [
        ENTERPRISE_HEADERS,
        [1, "用电增容", "又报了一次", "生产要素", "企业甲", VALID[0], "孔城镇"],  # same enterprise, same open problem
        [2, "融资难", "另一个问题", "政策扶持", "企业甲", VALID[0], "孔城镇"],  # same enterprise, other problem: fine
        [3, "用地指标", "第三个问题", "生产要素", "企业乙", VALID[1], "孔城镇"],
        [4, " 用地 指标", "重复行", "生产要素", "企业乙", VALID[1], "孔城镇"],  # duplicates row 3 (spaces aside)
    ]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    found = problems_by_cell(report)
    assert "QY-2026-00001" in found[(2, "B")] and "未办结" in found[(2, "B")]
    assert "与第4行重复" in found[(5, "B")]
    assert report.invalid_rows == [2, 5] and not report.stored
    assert count(app, Case) == 1


def test_closed_cases_are_no_duplicates(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        [*ENTERPRISE_HEADERS, "当前状态", "不予受理理由"],
        [1, "用电增容", "已不予受理", "生产要素", "企业甲", VALID[0], "孔城镇", "不予受理", "涉诉事项"],
        [2, "用电增容", "重新反映", "生产要素", "企业甲", VALID[0], "孔城镇", None, None],
    ]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assert report.problems == [] and report.stored
    assert [c["state"] for c in report.created] == ["not_accepted", "registered"]


def test_valid_only_stores_exactly_the_valid_rows(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        ENTERPRISE_HEADERS,
        [1, "问题一", "描述", "生产要素", "企业一", VALID[0], "孔城镇"],
        [2, "问题二", "描述", "生产要素", "企业二", BAD_CHECKSUM, "孔城镇"],
        [3, "问题三", "描述", "不存在的类别", "企业三", VALID[1], "孔城镇"],
        [4, "问题四", "描述", "审批服务", "企业四", VALID[1], "文昌街道"],
    ]
    path = write(tmp_path / "l.xlsx", rows)
    report = service(app).import_ledger(path, ENTERPRISE, actors.dispatcher, valid_only=True)
    assert report.stored and report.invalid_rows == [3, 4]
    assert [c["row"] for c in report.created] == [2, 5]
    titles = {app.cases.show(c["number"])["title"] for c in report.created}
    assert titles == {"问题一", "问题四"}
    assert count(app, Case) == 2
    events = [e for c in report.created for e in app.cases.history(c["number"])]
    assert [e["trigger"] for e in events] == ["import", "import"]
    verify(app)


def test_dry_run_validates_and_stores_nothing(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [ENTERPRISE_HEADERS, [1, "问题一", "描述", "生产要素", "企业一", VALID[0], "孔城镇"]]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher, dry_run=True)
    assert report.problems == [] and not report.stored and report.valid_rows == 1
    assert report.preview[0]["row"] == 2 and report.preview[0]["state"] == "registered"
    assert count(app, Case) == 0 and count(app, EvidenceFile) == 0


def test_one_event_per_case_names_the_file_hash_and_row(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        ["企业问题台账"],
        ENTERPRISE_HEADERS,
        [1, "问题一", "描述", "生产要素", "企业一", VALID[0], "孔城镇"],
        [2, "问题二", "描述", "政策扶持", "企业二", VALID[1], "双新产业园"],
    ]
    path = write(tmp_path / "台账.xlsx", rows)
    report = service(app).import_ledger(path, ENTERPRISE, actors.dispatcher)
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.sha256 == digest and report.stored
    for created in report.created:
        (event,) = app.cases.history(created["number"])
        assert event["trigger"] == "import" and event["actor"] == actors.dispatcher.username
        assert event["payload"]["imported"] is True
        assert event["payload"]["source"] == {
            "file": "台账.xlsx",
            "sha256": digest,
            "sheet": "Sheet1",
            "row": created["row"],
        }
    assert app.cases.show(report.created[1]["number"])["town"] == "shuangxin"
    # the ledger itself is kept, content-addressed, as the source document
    assert app.evidence.read(digest) == path.read_bytes()
    verify(app)


def test_only_creators_may_import_and_only_the_office_may_import_cases_under_way(
    app: App, actors: Actors, tmp_path: Path
) -> None:
    rows = [
        [*ENTERPRISE_HEADERS, "当前状态", "主办单位"],
        [1, "问题", "描述", "生产要素", "企业", VALID[0], "孔城镇", "已交办", "市供电公司"],
    ]
    path = write(tmp_path / "l.xlsx", rows)
    with pytest.raises(PermissionDenied):
        service(app).import_ledger(path, ENTERPRISE, actors.supervisor)
    report = service(app).import_ledger(path, ENTERPRISE, actors.collector)
    (problem,) = report.problems
    assert problem.header == "当前状态" and "联席办调度员" in problem.reason
    # a town's handler may register its own town's sites only
    site_rows = [SITE_HEADERS, [1, "点位", "某人", "孔城镇某村", "孔城镇", "某村", "环境违法", None, None],
                 [2, "点位二", "某人", "吕亭镇某村", "吕亭镇", "某村", "环境违法", None, None]]  # fmt: skip
    site_report = service(app).import_ledger(
        write(tmp_path / "s.xlsx", site_rows), SITE, actors.kongcheng, valid_only=True
    )
    assert site_report.invalid_rows == [3] and len(site_report.created) == 1


def test_rows_that_contradict_their_state_are_refused(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        [*ENTERPRISE_HEADERS, "当前状态", "交办日期", "主办单位", "签收日期"],
        [1, "问题一", "描述", "生产要素", "企业一", VALID[0], "孔城镇", "已登记", "2026-09-01", None, None],
        [2, "问题二", "描述", "生产要素", "企业二", VALID[1], "孔城镇", "已交办·待签收", "2026-09-02", None, None],
        [
            3,
            "问题三",
            "描述",
            "生产要素",
            "企业三",
            VALID[1],
            "孔城镇",
            "办理中",
            "2026-09-03",
            "市供电公司",
            "2026-09-02",
        ],
        [4, "问题四", "描述", "生产要素", "企业四", VALID[1], "孔城镇", "已交办", "2026-10-09", "市供电公司", None],
        [5, "问题五", "描述", "生产要素", "企业五", VALID[1], "孔城镇", "已上天", None, None, None],
    ]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    found = problems_by_cell(report)
    assert "不应填写“交办日期”" in found[(2, "I")]
    assert "缺少必填字段" in found[(3, "J")] and "主办单位" in found[(3, "J")]
    assert "早于交办日期" in found[(4, "K")]
    assert "晚于今天" in found[(5, "I")]
    assert "未知状态“已上天”" in found[(6, "H")] and "已交办·待签收" in found[(6, "H")]
    assert count(app, Case) == 0


# --- workbooks as Excel and WPS / LibreOffice save them --------------------------------------------


def excel_shaped_workbook(path: Path) -> Path:
    """A title row merged over the header, a two-row header with merged group cells, line breaks
    and full-width brackets in headers, codes stored as numbers and as text, full-width
    characters, dates as Excel dates, as serial numbers and as text in several forms, a town
    merged over two data rows, trailing empty (but formatted) rows, and a footer."""
    workbook = Workbook()
    notes = workbook.active
    notes.title = "填表说明"
    notes.append(["本表由各镇街填报，请勿修改表头"])
    ws = workbook.create_sheet("排查台账")
    ws.append(["桐城市“散乱污”场所排查整治台账（2026年9月）"])
    ws.merge_cells("A1:J1")
    ws.append(["序号", "场所信息", None, None, "属地", None, "问题类型", "用电\n户号", "用水户号", "登记日期"])
    ws.append([None, "场所名称", "经营者", "详细地址", "所属 镇街", "村（社区）", None, None, None, None])
    for column in ("A", "G", "H", "I", "J"):
        ws.merge_cells(f"{column}2:{column}3")
    ws.merge_cells("B2:D2")
    ws.merge_cells("E2:F2")
    ws.append(
        [
            1,
            "甲塑料颗粒加工点",
            "张某",
            "孔城镇桐梓村一组",
            "孔城镇",
            "桐梓村",
            "环境违法、无证无照",
            340881000123,
            "00123",
            datetime(2026, 9, 1),
        ]
    )
    ws.append(
        [
            2,
            "乙石材加工点",
            "李某",
            "孔城镇桐梓村二组",
            None,
            "桐梓村",
            "环境违法，违法用地",
            340881000124.0,
            None,
            46267,
        ]
    )
    ws.merge_cells("E4:E5")  # the town merged over two rows
    ws.append(
        [
            "３",
            "丙五金作坊（无照）",
            "王某",
            "吕亭镇某村三组",
            "吕亭镇　",
            "某村",
            "无证无照",
            "３４０８８１０００１２５",
            None,
            "2026/9/3",
        ]
    )
    ws.append(
        [
            4,
            "丁废品收购点",
            "赵某",
            "文昌街道某社区",
            "文昌",
            "某社区",
            "违法建设（市城市管理局）",
            None,
            None,
            "2026年9月4日",
        ]
    )
    ws.append([5, "戊小作坊", "钱某", "龙眠街道某社区", "340881003", "某社区", "环境违法", None, "", "20260905"])
    for row in range(9, 15):  # formatted but empty rows, as Excel leaves them
        for column in range(1, 11):
            ws.cell(row, column).number_format = "@"
    ws.cell(12, 2).value = "   "
    ws.cell(16, 1).value = "制表人：张三    审核人：李四"
    workbook.save(path)
    return path


def test_workbooks_shaped_as_excel_saves_them_import_correctly(app: App, actors: Actors, tmp_path: Path) -> None:
    path = excel_shaped_workbook(tmp_path / "排查台账.xlsx")
    report = service(app).import_ledger(path, SITE, actors.dispatcher)
    assert report.problems == [], report.problems
    assert report.sheet == "排查台账" and report.header_row == 3 and report.rows == 5
    assert any("制表人" in n for n in report.notices)
    cases = {c["row"]: app.cases.show(c["number"]) for c in report.created}
    assert set(cases) == {4, 5, 6, 7, 8}
    first, second, third, fourth, fifth = (cases[r]["fields"] for r in (4, 5, 6, 7, 8))
    assert first["power_account"] == "340881000123" and first["water_account"] == "00123"
    assert first["violations"] == ["环境违法", "无证无照"] and first["village"] == "桐梓村"
    assert second["town"] == "kongcheng"  # from the merged cell
    assert second["power_account"] == "340881000124" and second["violations"] == ["环境违法", "违法用地"]
    assert third["town"] == "lvting" and third["power_account"] == "340881000125"
    assert fourth["town"] == "wenchang" and fourth["violations"] == ["违法建设"]
    assert fifth["town"] == "longmian"
    created = {r: app.cases.history(cases[r]["number"])[0]["at"][:10] for r in cases}
    assert created == {4: "2026-09-01", 5: "2026-09-02", 6: "2026-09-03", 7: "2026-09-04", 8: "2026-09-05"}
    verify(app)


def all_digit_code_excel_keeps() -> str:
    """A valid credit code of digits only whose last three digits are 0: as a number it has 15
    significant digits, so Excel (and WPS, LibreOffice) keep it exactly."""
    for n in range(10_000):
        code = make_uscc(f"91340881{n:07d}00")
        if code.endswith("0"):
            return code
    raise AssertionError("no such code")


def test_wps_and_libreoffice_shapes_credit_codes_as_numbers_and_full_width(
    app: App, actors: Actors, tmp_path: Path
) -> None:
    # LibreOffice and WPS write numbers typed into General cells as numbers (a credit code of
    # digits only, here as a float as Excel stores it); a clerk pastes codes with full-width
    # digits and letters, spaces, and an apostrophe in front
    digits = all_digit_code_excel_keeps()
    workbook = Workbook()
    ws = workbook.active
    ws.title = "企业问题"
    ws.append(
        [
            "＊问题标题",
            "问题描述（必填）",
            "问题类别",
            "企业名称",
            "统一社会信用代码",
            "所属镇街【必填】",
            "来源渠道",
            "办理类别",
        ]
    )
    ws.append(["用电增容", "描述一", "生产要素", "企业一", float(digits), "孔城镇", "“与企桐行”早餐会/夜话会", "复杂"])
    ws.append(
        [
            "融资难",
            "描述二",
            " 政策扶持 ",
            "企业二",
            "９１３４０６００ＭＡ２ＰＢＭ９ＨＸＤ",
            "孔城镇",
            "12345热线",
            "simple",
        ]
    )
    ws.append(["审批慢", "描述三", "审批服务", "企业三", "'9134 0600 ma2p bm9h xd", "KONGCHENG", None, None])
    ws.append([None] * 8)
    workbook.save(tmp_path / "wps.xlsx")
    report = service(app).import_ledger(tmp_path / "wps.xlsx", ENTERPRISE, actors.dispatcher)
    assert report.problems == [], report.problems
    fields = [app.cases.show(c["number"])["fields"] for c in report.created]
    assert [f["uscc"] for f in fields] == [digits, VALID[1], VALID[1]]
    assert fields[0]["source"] == '"与企桐行"早餐会/夜话会' and fields[0]["class"] == "complex"
    assert fields[1]["category"] == "政策扶持" and fields[1]["class"] == "simple"
    assert fields[2]["town"] == "kongcheng" and fields[2]["source"] == "其他"


def test_a_credit_code_that_excel_rounded_is_refused_with_the_reason(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [ENTERPRISE_HEADERS, [1, "问题", "描述", "生产要素", "企业", float(VALID[0]), "孔城镇"]]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    (problem,) = report.problems
    assert problem.column == "F" and "文本" in problem.reason and "丢失" in problem.reason
    assert "914403001922038000" in problem.reason  # what Excel shows


def test_a_file_without_a_ledger_is_refused(app: App, actors: Actors, tmp_path: Path) -> None:
    from workflow.errors import InvalidInput

    with pytest.raises(InvalidInput, match="找不到"):
        service(app).import_ledger(
            write(tmp_path / "x.xlsx", [["随便"], ["写点", "什么"]]), ENTERPRISE, actors.dispatcher
        )
    (tmp_path / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0not really")
    with pytest.raises(InvalidInput, match=r"\.xlsx"):
        service(app).import_ledger(tmp_path / "x.xls", ENTERPRISE, actors.dispatcher)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(InvalidInput, match="不是有效的"):
        service(app).import_ledger(tmp_path / "broken.xlsx", ENTERPRISE, actors.dispatcher)


def test_large_sheets_read_in_a_second_process_give_the_same_result(
    app: App, actors: Actors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.importer as ledger_import

    path = excel_shaped_workbook(tmp_path / "台账.xlsx")
    inline = service(app).import_ledger(path, SITE, actors.dispatcher, dry_run=True)
    monkeypatch.setattr(ledger_import, "BACKGROUND_XML_BYTES", 0)
    background = service(app).import_ledger(path, SITE, actors.dispatcher, dry_run=True)
    assert background.to_dict() == inline.to_dict()
    stored = service(app).import_ledger(path, SITE, actors.dispatcher)
    assert stored.stored and len(stored.created) == 5


# --- state on import: as if entered at the time -----------------------------------------------------


def live_site_to_clearing(app: App, actors: Actors, clock: FixedClock) -> dict[str, Any]:
    """The same steps as the ledger row below, done live at the same instants."""
    clock.set(at("2026-09-01T09:00"))
    case = app.cases.create(SITE, actors.dispatcher, {
        "site_name": "活体对照点", "address": "孔城镇某村", "town": "kongcheng", "violations": ["环境违法"],
    })  # fmt: skip
    clock.set(at("2026-09-02T09:00"))
    app.cases.advance(case["number"], "start_verification", actors.dispatcher)
    clock.set(at("2026-09-03T09:00"))
    app.cases.advance(case["number"], "classify_ban", actors.dispatcher, {"plan": "依法取缔"})
    clock.set(at("2026-09-10T09:00"))
    return app.cases.complete_item(
        case["number"], "cut_power", actors.power, {"meter_reading": "12345.6"}, evidence=[photo()]
    )


def test_a_site_already_classified_as_ban_with_power_cut_is_placed_in_clearing(
    app: App, actors: Actors, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [
        ["序号", "场所名称", "详细地址", "所属镇街", "问题类型", "当前状态", "登记日期", "核查日期", "认定日期", "整治方案", "断电日期", "断电电表读数"],
        [1, "甲塑料颗粒加工点", "孔城镇桐梓村一组", "孔城镇", "环境违法", "取缔关闭·两断三清实施中", "2026-09-01",
         "2026-09-02", "2026-09-03", "依法取缔", date(2026, 9, 10), 12345.6],
    ]  # fmt: skip
    path = write(tmp_path / "ban.xlsx", rows)
    report = service(app).import_ledger(path, SITE, actors.dispatcher)
    assert report.problems == [] and report.stored
    case = app.cases.show(report.created[0]["number"])
    assert case["state"] == "clearing" and case["category"] == "ban"
    power = next(i for i in case["items"] if i["key"] == "cut_power")
    assert (
        power["done"]
        and power["done_at"] == "2026-09-10T09:00:00+08:00"
        and power["done_by"] == actors.dispatcher.username
    )
    assert power["data"] == {"meter_reading": "12345.6", "imported": True}
    assert power["evidence"] == [report.sha256] and power["executor"] == "power"
    assert [i["key"] for i in case["items"] if not i["done"]] == [
        "cut_water",
        "clear_materials",
        "clear_products",
        "clear_equipment",
    ]
    # deadlines from the historical instants: 15 days from the classification on 2026-09-03
    assert case["due_date"] == "2026-09-18" and case["due_at"] == "2026-09-19T00:00:00+08:00"
    history = app.cases.history(case["number"])
    assert [(e["trigger"], e["at"]) for e in history] == [
        ("import", "2026-09-01T09:00:00+08:00"),
        ("start_verification", "2026-09-02T09:00:00+08:00"),
        ("classify_ban", "2026-09-03T09:00:00+08:00"),
        ("complete_item", "2026-09-10T09:00:00+08:00"),
    ]
    assert all(e["payload"]["imported"] is True for e in history)
    assert history[3]["payload"]["unit"] == "power" and history[3]["payload"]["evidence"] == [report.sha256]
    assert history[2]["payload"]["deadline"]["due_date"] == "2026-09-18"
    verify(app)

    live = live_site_to_clearing(app, actors, clock)
    for key in ("state", "category", "due_date", "due_at", "due_provisional", "supervision", "counters"):
        assert case[key] == live[key], key
    assert [(i["key"], i["done"], i["done_at"], i["executor"]) for i in case["items"]] == [
        (i["key"], i["done"], i["done_at"], i["executor"]) for i in live["items"]
    ]
    assert [(e["trigger"], e["from_state"], e["to_state"], e["at"]) for e in history[1:]] == [
        (e["trigger"], e["from_state"], e["to_state"], e["at"]) for e in app.cases.history(live["number"])[1:]
    ]


def test_an_enterprise_problem_already_assigned_gets_the_due_date_of_its_assignment(
    app: App, actors: Actors, clock: FixedClock, tmp_path: Path
) -> None:
    app.users.add("finance", "finance", ["handler"])  # a co-unit needs an active handler (cases.staffing)
    rows = [
        [*ENTERPRISE_HEADERS, "当前状态", "登记日期", "交办日期", "主办单位", "协办单位", "办理类别"],
        [1, "用电增容", "描述", "生产要素", "企业一", VALID[0], "孔城镇", "assigned", "2026-09-24", "2026-09-28", "市供电公司", "市财政局、ecology", None],
        [2, "融资难", "描述", "政策扶持", "企业二", VALID[1], "孔城镇", "办理中", "2026-09-01", "2026-09-02", "power", None, "复杂"],
    ]  # fmt: skip
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assert report.problems == [] and report.stored
    assigned = app.cases.show(report.created[0]["number"])
    # 2026-09-28 (Mon) + 1 working day
    assert assigned["state"] == "assigned" and assigned["due_date"] == "2026-09-29" and assigned["lead_unit"] == "power"
    assert set(assigned["co_units"]) == {"finance", "ecology"}
    history = app.cases.history(assigned["number"])
    assert [(e["trigger"], e["at"][:10]) for e in history] == [("import", "2026-09-24"), ("assign", "2026-09-28")]
    assert history[1]["payload"]["imported"] is True and history[1]["payload"]["unit"] == "sti"
    # accepted on the assignment day (no 签收日期): 20 working days from 2026-09-02, complex
    working = app.cases.show(report.created[1]["number"])
    assert working["state"] == "in_progress" and working["fields"]["class"] == "complex"
    clock.set(at("2026-09-02T15:00"))
    live = app.cases.create(ENTERPRISE, actors.dispatcher, {
        "title": "对照", "description": "d", "category": "政策扶持", "enterprise_name": "e", "uscc": VALID[1], "town": "kongcheng",
    })  # fmt: skip
    app.cases.advance(live["number"], "assign", actors.dispatcher, {"lead_unit": "power", "class": "complex"})
    live = app.cases.advance(live["number"], "accept", actors.power)
    assert (working["due_date"], working["due_at"]) == (live["due_date"], live["due_at"])
    assert working["due_date"] == "2026-09-30"  # 20 working days: 09-20 (Sun) works, 09-25..27 are off
    assert [e["actor"] for e in app.cases.history(working["number"])] == [actors.dispatcher.username] * 3
    assert (
        app.cases.history(working["number"])[2]["payload"]["unit"] == "power"
    )  # the lead unit's act, recorded by the office
    verify(app)


def test_items_and_sign_offs_through_to_closed_and_archived(app: App, actors: Actors, tmp_path: Path) -> None:
    headers = ["场所名称", "详细地址", "所属镇街", "问题类型", "当前状态", "整治类别", "登记日期", "核查日期", "认定日期", "整治方案",
               "断水日期", "断电日期", "电表读数", "清除原料日期", "清除产品日期", "清除设备日期", "提交验收日期",
               "属地自查日期", "部门复核日期", "联席办核查日期", "验收通过日期", "回头看日期", "回头看情况"]  # fmt: skip
    days = ["2026-07-01", "2026-07-02", "2026-07-03", "依法取缔", "2026-07-05", "2026-07-06", "888.8", "2026-07-07",
            "2026-07-07", "2026-07-08", "2026-07-09", "2026-07-10", "2026-07-11", "2026-07-12", "2026-07-13"]  # fmt: skip
    rows = [
        headers,
        ["甲点", "孔城镇一组", "孔城镇", "环境违法", "已销号", "取缔关闭", *days, None, None],
        ["乙点", "孔城镇二组", "孔城镇", "环境违法", "已归档", None, *days, "2026-08-20", "未见反弹"],
        ["丙点", "孔城镇三组", "孔城镇", "环境违法", "验收中", "取缔关闭", *days[:12], None, None, None, None, None],
        ["丁点", "孔城镇四组", "孔城镇", "环境违法", "验收中", "取缔关闭", *days[:4], None, *days[5:9], None, None, None, None, None, None, None],
    ]  # fmt: skip
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), SITE, actors.dispatcher)
    found = problems_by_cell(report)
    assert list(found) == [(5, "K")], report.problems  # 丁点: 断水 missing, so it cannot have been submitted
    assert "两断三清尚未全部完成" in found[(5, "K")] and "断水" in found[(5, "K")]
    good = service(app).import_ledger(write(tmp_path / "ok.xlsx", rows[:4]), SITE, actors.dispatcher)
    assert good.stored
    closed, archived, acceptance = (app.cases.show(c["number"]) for c in good.created)
    assert closed["state"] == "closed" and closed["closed_at"] == "2026-07-13T09:00:00+08:00"
    assert closed["due_date"] == "2026-08-12"  # 回头看 30 days after closing
    assert archived["state"] == "archived" and archived["due_date"] is None
    revisit = [e for e in app.cases.history(archived["number"]) if e["trigger"] == "revisit"]
    assert revisit[0]["actor"] == "system" and revisit[0]["at"] == "2026-08-13T00:00:00+08:00"
    assert acceptance["state"] == "acceptance"
    signoffs = {i["key"]: i["done"] for i in acceptance["items"] if i["checklist"] == "signoffs"}
    assert signoffs == {"town_check": True, "department_review": False, "office_verification": False}
    assert acceptance["allowed_items"] == ["department_review"]
    verify(app)


def test_kept_numbers_raise_the_counter(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        ["编号", *ENTERPRISE_HEADERS],
        ["QY-2026-00007", 1, "问题一", "描述", "生产要素", "企业一", VALID[0], "孔城镇"],
        ["2025-031", 2, "问题二", "描述", "生产要素", "企业二", VALID[1], "孔城镇"],
    ]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assert [c["number"] for c in report.created] == ["QY-2026-00007", "QY-2026-00008"]
    assert app.cases.history("QY-2026-00008")[0]["payload"]["ledger_number"] == "2025-031"
    live = app.cases.create(ENTERPRISE, actors.dispatcher, {
        "title": "t", "description": "d", "category": "其他", "enterprise_name": "e", "uscc": VALID[0], "town": "kongcheng",
    })  # fmt: skip
    assert live["number"] == "QY-2026-00009"
    again = service(app).import_ledger(write(tmp_path / "again.xlsx", rows[:2]), ENTERPRISE, actors.dispatcher)
    assert "已被系统中的案件使用" in problems_by_cell(again)[(2, "A")]


def test_an_interrupted_import_leaves_nothing_behind(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [ENTERPRISE_HEADERS] + [
        [i, f"问题{i}", "描述", "生产要素", f"企业{i}", VALID[i % 2], "孔城镇"] for i in range(1, 1501)
    ]
    path = write(tmp_path / "l.xlsx", rows)
    calls: list[tuple[str, int]] = []

    def interrupt(phase: str, done: int, total: int | None) -> None:
        calls.append((phase, done))
        if phase == "write":
            raise KeyboardInterrupt  # Ctrl-C after the first 1,000 cases were inserted

    with pytest.raises(KeyboardInterrupt):
        service(app).import_ledger(path, ENTERPRISE, actors.dispatcher, progress=interrupt)
    assert ("write", 1000) in calls
    assert count(app, Case) == 0 and count(app, CaseEvent) == 0 and count(app, EvidenceFile) == 0
    assert not [p for p in app.evidence.root.rglob("*") if p.is_file()]  # the stored copy went too
    # and the next import numbers from 1: the counter rolled back too
    report = service(app).import_ledger(path, ENTERPRISE, actors.dispatcher)
    assert report.created[0]["number"] == "QY-2026-00001" and len(report.created) == 1500
    verify(app)


def test_instants_are_utc_in_the_database(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        [*ENTERPRISE_HEADERS, "登记日期"],
        [1, "问题", "描述", "生产要素", "企业", VALID[0], "孔城镇", "2026-09-01 14:30"],
    ]
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    with app.db.read() as conn:
        created = conn.execute(select(Case.__table__.c.created_at)).scalar_one()
    assert created == datetime(2026, 9, 1, 6, 30, tzinfo=UTC)
    assert report.stored


def test_annotated_copy_marks_every_problem(app: App, actors: Actors, tmp_path: Path) -> None:
    rows = [
        ["企业问题台账"],
        ENTERPRISE_HEADERS,
        [1, "问题一", "描述", "生产要素", "企业一", BAD_CHECKSUM, "孔城镇"],
        [2, "问题二", "描述", "生产要素", "企业二", VALID[0], "火星镇"],
        [3, "问题三", "描述", "生产要素", "企业三", VALID[1], "孔城镇"],
    ]
    path = write(tmp_path / "台账.xlsx", rows)
    ledger = service(app)
    report = ledger.import_ledger(path, ENTERPRISE, actors.dispatcher)
    target = ledger.annotate(report, path, tmp_path / "台账.errors.xlsx")
    assert target.exists() and report.annotated == str(target)
    workbook = load_workbook(target)
    ws = workbook["Sheet1"]
    assert ws["H2"].value == "问题说明"
    assert ws["F3"].fill.fgColor.rgb.endswith("FFC7CE") and "校验位" in ws["F3"].comment.text
    assert ws["G4"].fill.fgColor.rgb.endswith("FFC7CE") and "火星镇" in ws["G4"].comment.text
    assert "F列" in ws["H3"].value and "G列" in ws["H4"].value and ws["H5"].value is None
    assert ws["F5"].comment is None
    listed = [row for row in workbook["问题清单"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[1]) for r in listed] == [(3, "F"), (4, "G")]
    assert ws["B3"].value == "问题一"  # the clerk's data is untouched


def test_the_streamed_annotated_copy_of_a_large_ledger(
    app: App, actors: Actors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.annotate as ledger_annotate

    monkeypatch.setattr(ledger_annotate, "FULL_ANNOTATE_ROWS", 0)
    rows = [
        ENTERPRISE_HEADERS,
        [1, "问题一", "描述", "生产要素", "企业一", BAD_CHECKSUM, "孔城镇"],
        [2, "问题二", "描述", "生产要素", "企业二", VALID[0], "孔城镇"],
    ]
    path = write(tmp_path / "l.xlsx", rows)
    ledger = service(app)
    report = ledger.import_ledger(path, ENTERPRISE, actors.dispatcher)
    workbook = load_workbook(ledger.annotate(report, path, tmp_path / "l.errors.xlsx"))
    ws = workbook["Sheet1"]
    assert ws["H1"].value == "问题说明" and "校验位" in ws["F2"].comment.text and ws["H3"].value is None
    assert ws["B3"].value == "问题二"


@pytest.mark.parametrize("missing", ["所属镇街", "统一社会信用代码", "问题类别"])
def test_without_a_required_enterprise_column_no_row_is_stored_even_valid_only(app, actors, tmp_path, missing) -> None:
    headers = [h for h in ENTERPRISE_HEADERS if h != missing]
    row = dict(zip(ENTERPRISE_HEADERS, [1, "缺列问题", "描述", "生产要素", "企业一", VALID[0], "孔城镇"], strict=True))
    path = write(tmp_path / "企业台账.xlsx", [headers, [row[h] for h in headers]])
    for valid_only in (False, True):
        report = service(app).import_ledger(path, ENTERPRISE, actors.dispatcher, valid_only=valid_only)
        assert not report.stored and report.valid_rows == 0
        assert [(p.row, p.column, p.reason) for p in report.problems if p.column is None] == [
            (1, None, f"缺少必填列“{missing}”")
        ]
    assert count(app, Case) == 0 and count(app, CaseEvent) == 0


def test_imported_cases_are_in_their_units_todo_at_once(app: App, actors: Actors, tmp_path: Path) -> None:
    """Issue 11: an imported 已交办 case used to be in nobody's 待办 until the sweep escalated it."""
    rows = [
        [*ENTERPRISE_HEADERS, "当前状态", "登记日期", "交办日期", "主办单位", "协办单位", "办理类别"],
        [1, "用电增容", "描述", "生产要素", "企业一", VALID[0], "孔城镇", "已交办", "2026-09-24", "2026-09-28", "市供电公司", "water", None],
        [2, "融资难", "描述", "政策扶持", "企业二", VALID[1], "孔城镇", "办理中", "2026-09-01", "2026-09-02", "power", None, "复杂"],
    ]  # fmt: skip
    report = service(app).import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assigned, working = (c["number"] for c in report.created)
    power = [(e["number"], e["key"], e["due_date"]) for e in app.cases.todo(actors.power)["items"]]
    assert power == [(assigned, "accept", "2026-09-29"), (working, "handle", "2026-09-30")]
    assert [(e["number"], e["key"]) for e in app.cases.todo(actors.water)["items"]] == [(assigned, "co_feedback")]
    page = app.cases.list_cases(actor=actors.power, waiting_for="power", sort="due")
    assert [c["number"] for c in page["items"]] == [assigned, working]
