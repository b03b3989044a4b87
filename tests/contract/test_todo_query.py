"""The to-do list query (``CaseService.list_cases(waiting_for=...)``, ``repository.list_cases``)
against a straightforward reference computed in Python from the raw tables, on a few hundred
generated cases with ties in ``due_at`` and cases without one, on SQLite and PostgreSQL: every
page of every page size, both of its shapes (the walk of the deadline index and the sort of the
unit's cases), visibility for a unit's user, and the first page's plan on SQLite (the index, no
temporary B-tree).
"""

import random
from datetime import datetime, timedelta

import pytest
from helpers import SQLITE_ONLY, START, new_enterprise_case
from sqlalchemy import event, insert, select

from cases import repository as repo
from cases.dashboard import CaseFilter, Dashboard
from cases.models import Case, CaseUnit
from cases.service import ALL_SEEING

CASES, UNITS = Case.__table__, CaseUnit.__table__
UNIT_POOL = ("power", "water", "kongcheng", "drc", "sti")
CREATORS = ("collector", "power", "water", "dispatcher")
DEADLINES = [START + timedelta(days=d, hours=h) for d in (-3, 0, 2, 9) for h in (0, 8)]
"""Eight instants only: many cases share a deadline."""
GENERATED = 320


@pytest.fixture
def todo_app(app, actors):
    """One real case (its definition stored), then ``GENERATED`` copies written in bulk: a
    quarter without a deadline, the others on one of eight instants; each concerns a few units,
    waiting on some of them (``power`` often, ``drc`` rarely, ``market_regulation`` never)."""
    new_enterprise_case(app)
    rng = random.Random(20261126)
    with app.db.write() as conn:
        template = dict(conn.execute(select(CASES)).one()._mapping)
        first = template["id"] + 1
        cases, units = [], []
        for n in range(GENERATED):
            case_id = first + n
            due = None if rng.random() < 0.25 else rng.choice(DEADLINES)
            cases.append({
                **template, "id": case_id, "number": f"QY-2026-{50000 + n:05d}", "title": f"问题{n}",
                "due_at": due, "next_check_at": due, "created_by": rng.choice(CREATORS),
            })  # fmt: skip
            odds = {"power": 0.6, "water": 0.3, "kongcheng": 0.3, "drc": 0.04, "sti": 0.2}
            for unit in rng.sample(UNIT_POOL, rng.randint(0, 4)):
                units.append({"case_id": case_id, "unit": unit, "waiting": rng.random() < odds[unit]})
        # the ids are not in deadline order: write them shuffled so that rowid order helps nothing
        rng.shuffle(cases)
        conn.execute(insert(CASES), cases)
        conn.execute(insert(UNITS), units)
    return app


def reference(app, unit, actor=None, sort="due"):
    """Numbers of the cases waiting on ``unit`` that ``actor`` may see, in ``sort`` order."""
    with app.db.read() as conn:
        cases = {r.id: r for r in conn.execute(select(CASES.c.id, CASES.c.number, CASES.c.due_at, CASES.c.created_by))}
        rows = list(conn.execute(select(UNITS)))
    chosen = {r.case_id for r in rows if r.unit == unit and r.waiting}
    if actor is not None and not actor.roles & ALL_SEEING:
        mine = {r.case_id for r in rows if r.unit == actor.department}
        chosen = {i for i in chosen if i in mine or cases[i].created_by == actor.username}
    if sort == "due":
        lowest = datetime.min.replace(tzinfo=START.tzinfo)
        ordered = sorted(chosen, key=lambda i: (cases[i].due_at is None, cases[i].due_at or lowest, i))
    else:
        ordered = sorted(chosen, reverse=sort == "newest")
    return [cases[i].number for i in ordered]


def pages(app, unit, actor, page_size, sort="due"):
    numbers, page, total = [], 1, None
    while True:
        result = app.cases.list_cases(actor=actor, waiting_for=unit, sort=sort, page=page, page_size=page_size)
        total = result["total"] if total is None else total
        assert result["total"] == total
        if not result["items"]:
            return numbers, total
        assert len(result["items"]) <= page_size
        numbers += [c["number"] for c in result["items"]]
        page += 1


@pytest.mark.parametrize("window", [1, repo.WALK_WINDOW, 10**9], ids=["tight-window", "default", "never-walk"])
def test_every_page_of_every_units_todo_list_matches_the_reference(todo_app, actors, monkeypatch, window) -> None:
    monkeypatch.setattr(repo, "WALK_WINDOW", window)
    expected_counts = {}
    for unit in (*UNIT_POOL, "market_regulation"):
        own = actors.dispatcher if unit == "sti" else actors.handler(unit)
        want = reference(todo_app, unit, own)
        expected_counts[unit] = len(want)
        for page_size in (1, 3, 17, 500):
            got, total = pages(todo_app, unit, own, page_size)
            assert got == want, (unit, page_size)
            assert total == len(want)
        assert pages(todo_app, unit, None, 7) == (want, len(want))  # no actor: everything
    assert expected_counts["market_regulation"] == 0 and 0 < expected_counts["drc"] < 20
    assert expected_counts["power"] > 50


def test_the_walk_agrees_with_the_reference_whenever_it_answers(todo_app, actors) -> None:
    """``walk_waiting`` answers a page or gives up (``None``); it must answer for the first pages
    of a unit with many waiting cases and give up past the cases with a deadline."""
    want = [int(n.rsplit("-", 1)[1]) for n in reference(todo_app, "power")]
    with todo_app.db.read() as conn:
        number_of = {r.id: int(r.number.rsplit("-", 1)[1]) for r in conn.execute(select(CASES.c.id, CASES.c.number))}
        total = len(want)
        answered = gave_up = 0
        for limit in (1, 5, 20):
            for offset in range(0, total + 3):
                ids = repo.walk_waiting(conn, "power", total, offset, limit)
                if ids is None:
                    gave_up += 1
                    continue
                answered += 1
                assert [number_of[i] for i in ids] == want[offset : offset + limit], (offset, limit)
    assert answered > 20 and gave_up > 20


@pytest.mark.parametrize("sort", ["due", "newest", "oldest"])
def test_other_units_lists_and_sorts_keep_visibility(todo_app, actors, sort) -> None:
    """A unit's user asking for another unit's waiting cases sees only those it may see; the
    other sorts of the to-do list give the reference order too."""
    for actor, unit in (
        (actors.power, "water"),
        (actors.water, "power"),
        (actors.drc, "kongcheng"),
        (actors.power, "power"),
    ):
        got, total = pages(todo_app, unit, actor, 11, sort)
        assert got == reference(todo_app, unit, actor, sort), (actor.username, unit)
        assert total == len(got)
    everything = todo_app.cases.list_cases(actor=actors.supervisor, waiting_for="power", sort=sort, page_size=500)
    assert [c["number"] for c in everything["items"]] == reference(todo_app, "power", None, sort)


@SQLITE_ONLY  # SQLite's plan; PostgreSQL chooses by its statistics (bench/pages.py shows both plans)
def test_first_page_walks_the_deadline_index_on_sqlite(todo_app, actors) -> None:
    assert todo_app.db.engine.dialect.name == "sqlite"
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(todo_app.db.engine, "before_cursor_execute", grab)
    try:
        todo_app.cases.list_cases(actor=actors.power, waiting_for="power", sort="due", page_size=10)
    finally:
        event.remove(todo_app.db.engine, "before_cursor_execute", grab)
    walks = [(s, p) for s, p in seen if "EXISTS" in s and "ORDER BY" in s]
    assert len(walks) == 1, [s for s, _ in seen]
    with todo_app.db.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + walks[0][0], walks[0][1])]
        counts = [s for s, _ in seen if s.lstrip().upper().startswith("SELECT COUNT")]
        count_plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + counts[0], ("power",))]
    assert any("ix_case_due_at_id" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert len(counts) == 1 and all("case_unit" in step for step in count_plan), count_plan  # case_unit alone


@pytest.mark.parametrize("window", [1, repo.WALK_WINDOW, 10**9], ids=["tight-window", "default", "never-walk"])
def test_the_pages_to_do_list_matches_the_reference(todo_app, actors, monkeypatch, window) -> None:
    """The web pages' query (``Dashboard.search``) gives the same lists, page by page."""
    monkeypatch.setattr(repo, "WALK_WINDOW", window)
    board = Dashboard(todo_app.db, todo_app.definitions, todo_app.clock, todo_app.calendar.calendar)
    for unit in ("power", "drc", "water", "market_regulation"):
        for actor in (actors.handler(unit), actors.supervisor):
            for sort in ("due", "newest"):
                want = reference(todo_app, unit, actor, sort)
                for page_size in (4, 30):
                    got, page = [], 1
                    while True:
                        result = board.search(actor, CaseFilter(waiting=unit, sort=sort), page, page_size)
                        assert result["total"] == len(want), (unit, actor.username, sort)
                        if not result["items"]:
                            break
                        got += [c["number"] for c in result["items"]]
                        page += 1
                    assert got == want, (unit, actor.username, sort, page_size)
