"""The queries behind the pages (``cases/dashboard.py``), without a browser: the to-do list agrees
with ``CaseService.list_cases(waiting_for=...)`` in both of its query shapes (with and without an
index on ``due_at``), search finds an enterprise by name, visibility holds for a unit's user, and
the dashboard's aggregates agree with counting the cases one by one. On SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from helpers import START, new_enterprise_case, new_site_case, walk_enterprise_to, walk_site_to
from sqlalchemy import text

from cases.dashboard import OVERDUE_LEVELS, CaseFilter, Dashboard


@pytest.fixture
def board(app, actors) -> Dashboard:
    """A dozen cases in several states and supervision levels, and the query module on them."""
    for n, state in enumerate(("registered", "assigned", "in_progress", "answered", "closed", "in_progress")):
        number = new_enterprise_case(app, title=f"问题{n}", enterprise_name=f"桐城测试企业{n}号")["number"]
        if state != "registered":
            walk_enterprise_to(app, number, state)
    for state in ("reported", "clearing", "clearing", "acceptance"):
        walk_site_to(app, new_site_case(app)["number"], state) if state != "reported" else new_site_case(app)
    app.clock.advance(timedelta(days=16))  # past several deadlines: the sweep raises the ladder
    app.sweeper.sweep()
    return Dashboard(app.db, app.definitions, app.clock, app.calendar.calendar)


def _numbers(result) -> list[str]:
    return [c["number"] for c in result["items"]]


@pytest.mark.parametrize("with_index", [False, True], ids=["as-migrated", "due-index"])
def test_todo_lists_agree_with_the_service(app, actors, board, with_index) -> None:
    if with_index:
        with app.db.write() as conn:
            conn.execute(text('CREATE INDEX ix_test_due_at ON "case" (due_at)'))
    for actor in (actors.dispatcher, actors.power, actors.kongcheng, actors.water):
        mine = board.search(actor, CaseFilter(waiting=actor.department), page_size=100)
        theirs = app.cases.list_cases(actor=actor, waiting_for=actor.department, sort="due", page_size=100)
        assert _numbers(mine) == _numbers(theirs), actor.username
        assert mine["total"] == theirs["total"]
        paged = board.search(actor, CaseFilter(waiting=actor.department), page=2, page_size=2)
        assert _numbers(paged) == _numbers(theirs)[2:4]
    office = board.search(actors.dispatcher, CaseFilter(waiting="sti", with_new=True))
    reported = [c for c in office["items"] if c["state"] == "reported"]
    assert reported and office["total"] == board.search(actors.dispatcher, CaseFilter(waiting="sti"))["total"] + len(reported)


def test_search_by_enterprise_name_number_and_credit_code(app, actors, board) -> None:
    found = board.search(actors.dispatcher, CaseFilter(query="测试企业3号"))
    assert [c["enterprise_name"] for c in found["items"]] == ["桐城测试企业3号"]
    number = found["items"][0]["number"]
    assert _numbers(board.search(actors.dispatcher, CaseFilter(query=number.lower()))) == [number]
    assert board.search(actors.dispatcher, CaseFilter(query="100%_"))["total"] == 0  # LIKE wildcards are text


def test_a_units_user_sees_only_its_cases(app, actors, board) -> None:
    everything = board.search(actors.power, CaseFilter(), page_size=200)
    visible = app.cases.list_cases(actor=actors.power, page_size=200)
    assert sorted(_numbers(everything)) == sorted(_numbers(visible))
    assert board.search(actors.supervisor, CaseFilter(), page_size=200)["total"] == app.cases.list_cases(page_size=200)["total"]


def test_dashboard_figures_agree_with_the_cases(app, actors, board) -> None:
    cases = app.cases.list_cases(page_size=500)["items"]
    open_cases = [c for c in cases if c["open"]]
    summary = board.summary()
    assert summary["open"] == len(open_cases)
    assert sum(summary["by_level"].values()) == len(open_cases)
    for level in ("normal", "warned", "overdue", "supervised", "listed"):
        assert summary["by_level"][level] == sum(1 for c in open_cases if c["supervision"] == level)
    assert any(summary["by_level"][lv] for lv in OVERDUE_LEVELS)
    for row in summary["by_state"]:
        assert row["count"] == sum(1 for c in open_cases if (c["type"], c["state"]) == (row["type"], row["state"]))
    kongcheng = sum(summary["by_town"]["kongcheng"].values())
    assert kongcheng == sum(1 for c in open_cases if c["town"] == "kongcheng")
    for unit, count in summary["waiting"].items():
        assert count == app.cases.list_cases(waiting_for=unit, page_size=500)["total"], unit
    trends = board.trends()
    assert sum(w["registered"] for w in trends["weeks"]) == len(cases)
    closed = [c for c in cases if c["closed_at"]]
    assert trends["closed"] == len(closed) == sum(w["closed"] for w in trends["weeks"])
    assert trends["weeks"][-1]["from"] <= (START + timedelta(days=16)).date() <= trends["weeks"][-1]["to"]
