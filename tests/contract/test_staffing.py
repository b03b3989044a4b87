"""Assigning to a unit without an active handler is refused (cases.staffing), on SQLite and
PostgreSQL: at the service (assign, reassign, co-units; a deactivated handler or a unit head does
not count; a refused call changes nothing) and in the ledger import (a row problem with its row
and column). The CLI, the API and the pages are in tests/integration/test_staffing_interfaces.py.

The standard users (helpers.STANDARD_USERS) staff power, water, gas, kongcheng, ecology, drc and
market_regulation; 市统计局 (statistics) and 市税务局 (tax) have nobody unless a test adds someone.
"""

from pathlib import Path
from typing import Any

import pytest
from helpers import ENTERPRISE, Actors, count_rows, new_enterprise_case, walk_enterprise_to, xlsx_bytes
from sqlalchemy import event

from caseflow.app import App
from cases import staffing
from cases.models import Case, CaseEvent, Notification
from workflow.errors import GuardFailed

VALID = ("914403001922038216", "91340600MA2PBM9HXD")
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街",
           "当前状态", "登记日期", "交办日期", "主办单位", "协办单位"]  # fmt: skip


def snapshot(app: App, number: str) -> tuple[Any, ...]:
    case = app.cases.show(number)
    return (case["state"], case["version"], case["lead_unit"], case["co_units"], len(app.cases.history(number)),
            count_rows(app, Notification))  # fmt: skip


def refused(app: App, number: str, trigger: str, actor: Any, fields: dict[str, Any]) -> GuardFailed:
    """The call is refused with ``unit_staffed`` and changes nothing."""
    before = snapshot(app, number)
    with pytest.raises(GuardFailed) as caught:
        app.cases.advance(number, trigger, actor, fields)
    assert caught.value.guard == "unit_staffed"
    assert caught.value.to_dict()["error"] == "guard_failed" and caught.value.http_status == 409
    assert snapshot(app, number) == before, "a refused assignment changes nothing"
    return caught.value


# --- the service ----------------------------------------------------------------------------------


def test_assigning_to_a_unit_without_a_handler_is_refused_and_changes_nothing(app: App, actors: Actors) -> None:
    number = new_enterprise_case(app)["number"]
    error = refused(app, number, "assign", actors.dispatcher, {"lead_unit": "市统计局"})
    assert error.message == (
        "市统计局没有在岗的经办人（handler），无法交办；请系统管理员先为该单位添加经办人账号"
        "（caseflow user add 用户名 --department statistics --role handler）"
    )
    assert error.details == {"guard": "unit_staffed", "units": ["statistics"]}
    assert app.cases.show(number)["state"] == "registered"


def test_a_co_unit_without_a_handler_is_refused_too(app: App, actors: Actors) -> None:
    number = new_enterprise_case(app)["number"]
    fields = {"lead_unit": "power", "co_units": ["ecology", "statistics", "tax"]}
    error = refused(app, number, "assign", actors.dispatcher, fields)
    assert error.message.startswith("市统计局、市税务局没有在岗的经办人（handler），无法交办；请系统管理员先为这些单位")
    assert error.details["units"] == ["statistics", "tax"]


def test_only_an_active_handler_counts(app: App, actors: Actors) -> None:
    number = new_enterprise_case(app)["number"]
    app.users.add("stats_head", "statistics", ["unit_head"])  # signs answers, does not accept cases
    app.users.add("stats_clerk", "statistics", ["handler"])
    app.users.set_active("stats_clerk", False)
    refused(app, number, "assign", actors.dispatcher, {"lead_unit": "statistics"})
    app.users.set_active("stats_clerk", True)
    case = app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "statistics"})
    assert (case["state"], case["lead_unit"]) == ("assigned", "statistics")
    assert app.cases.advance(number, "accept", app.users.actor("stats_clerk"))["state"] == "in_progress"


def test_a_staffed_unit_with_staffed_co_units_passes(app: App, actors: Actors) -> None:
    number = new_enterprise_case(app)["number"]
    case = app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power", "co_units": ["ecology"]})
    assert (case["state"], case["version"], case["lead_unit"]) == ("assigned", 2, "power")
    assert list(case["co_units"]) == ["ecology"]


def test_reassigning_to_a_unit_without_a_handler_is_refused(app: App, actors: Actors) -> None:
    number = new_enterprise_case(app)["number"]
    walk_enterprise_to(app, number, "in_progress")
    error = refused(app, number, "reassign", actors.dispatcher, {"lead_unit": "statistics", "reason": "职责调整"})
    assert "无法改派" in error.message and "市统计局" in error.message
    refused(app, number, "reassign", actors.dispatcher, {"lead_unit": "drc", "co_units": ["tax"], "reason": "职责调整"})
    case = app.cases.advance(number, "reassign", actors.dispatcher, {"lead_unit": "drc", "reason": "职责调整"})
    assert (case["state"], case["lead_unit"], case["counters"]["reassign_count"]) == ("assigned", "drc", 1)


def test_units_already_on_the_case_are_not_checked_again(app: App, actors: Actors) -> None:
    """Only units newly named are checked: a co-unit that lost its last handler after the
    assignment does not block the lead unit's work, nor a reassignment that keeps it."""
    app.users.add("stats_clerk", "statistics", ["handler"])
    number = new_enterprise_case(app)["number"]
    app.cases.advance(number, "assign", actors.dispatcher, {"lead_unit": "power", "co_units": ["statistics"]})
    app.users.set_active("stats_clerk", False)
    assert app.cases.advance(number, "accept", actors.power)["state"] == "in_progress"
    fields = {"lead_unit": "drc", "co_units": ["statistics"], "reason": "职责调整"}
    assert app.cases.advance(number, "reassign", actors.dispatcher, fields)["lead_unit"] == "drc"
    # adding another unstaffed co-unit names it anew: refused, naming only that one
    fields = {"lead_unit": "power", "co_units": ["statistics", "tax"], "reason": "职责调整"}
    assert refused(app, number, "reassign", actors.dispatcher, fields).details["units"] == ["tax"]


def test_unstaffed_reads_all_units_in_one_query(app: App, actors: Actors) -> None:
    app.users.add("stats_clerk", "statistics", ["handler"])
    app.users.add("tax_clerk", "tax", ["handler"])
    app.users.set_active("tax_clerk", False)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    units = ["power", "statistics", "tax", "finance", "power", "kongcheng"]
    with app.db.read() as conn:
        event.listen(conn, "before_cursor_execute", count)
        try:
            assert staffing.unstaffed(conn, units) == ["tax", "finance"]
            assert staffing.unstaffed(conn, []) == []
        finally:
            event.remove(conn, "before_cursor_execute", count)
    assert len(statements) == 1


# --- the ledger import ----------------------------------------------------------------------------


def write(path: Path, rows: list[list[Any]]) -> Path:
    path.write_bytes(xlsx_bytes([HEADERS, *rows]))
    return path


def test_a_ledger_row_naming_a_unit_without_a_handler_is_a_row_problem(
    app: App, actors: Actors, tmp_path: Path
) -> None:
    rows = [
        [1, "用电增容", "描述", "生产要素", "企业一", VALID[0], "孔城镇", "已交办", "2026-09-24", "2026-09-28", "市统计局", None],
        [2, "融资难", "描述", "政策扶持", "企业二", VALID[1], "孔城镇", "办理中", "2026-09-01", "2026-09-02", "power", "ecology、市税务局"],
    ]  # fmt: skip
    report = app.ledger.import_ledger(write(tmp_path / "l.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assert not report.stored and report.valid_rows == 0
    found = {(p.row, p.column, p.header): (p.reason, p.value) for p in report.problems}
    assert set(found) == {(2, "K", "主办单位"), (3, "L", "协办单位")}
    reason, value = found[(2, "K", "主办单位")]
    assert value == "市统计局"
    assert reason.startswith("市统计局没有在岗的经办人（handler），无法交办；") and "--department statistics" in reason
    assert reason.endswith("然后重新导入")
    reason, value = found[(3, "L", "协办单位")]
    assert reason.startswith("市税务局没有在岗的经办人") and value == "ecology、市税务局"
    assert count_rows(app, Case) == 0 and count_rows(app, CaseEvent) == 0

    # with a handler for each, the same ledger imports
    app.users.add("stats_clerk", "statistics", ["handler"])
    app.users.add("tax_clerk", "tax", ["handler"])
    report = app.ledger.import_ledger(write(tmp_path / "l2.xlsx", rows), ENTERPRISE, actors.dispatcher)
    assert report.problems == [] and report.stored and len(report.created) == 2


def test_a_closed_case_in_a_ledger_keeps_its_history(app: App, actors: Actors, tmp_path: Path) -> None:
    """A closed (or declined) case waits on nobody: the unit it was assigned to in the past
    need not have a handler today."""
    headers = [*HEADERS, "签收日期", "答复日期", "办理结果", "答复内容", "签发领导", "审核日期", "销号日期",
               "企业满意度"]  # fmt: skip
    row = [1, "用电增容", "描述", "生产要素", "企业一", VALID[0], "孔城镇", "已销号", "2026-08-03", "2026-08-04",
           "市统计局", None, "2026-08-05", "2026-08-20", "resolved", "已办结", "张主任", "2026-08-21", "2026-08-25", "满意"]  # fmt: skip
    path = tmp_path / "closed.xlsx"
    path.write_bytes(xlsx_bytes([headers, row]))
    report = app.ledger.import_ledger(path, ENTERPRISE, actors.dispatcher)
    assert report.problems == [] and report.stored
    assert app.cases.show(report.created[0]["number"])["state"] == "closed"
