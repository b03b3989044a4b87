"""Concurrent sweeps over 2,000 due cases: every escalation happens exactly once (DESIGN.md,
"Exactly-once escalation without trusting the scheduler"; PITFALLS #14).

The 2,000 cases are registered once per database through the real service (``template``) and
each test works on its own copy (a SQLite backup, a PostgreSQL ``CREATE DATABASE … TEMPLATE``).
Every case was registered on 2026-09-30 10:00 (due 2026-10-08), so at the frozen sweep instant,
2026-10-20 10:00, all four levels of each case are due: 8,000 escalations. Sweepers are threads
(each with its own app and engine) on both databases and, on PostgreSQL, also processes started
with ``spawn``, each building its own app from the URL at the same frozen instant.
"""

import multiprocessing
import sqlite3
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from helpers import ENTERPRISE, build_app, enterprise_fields, standard_actors
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from cases import audit
from cases.models import Case, CaseEvent, LadderStep
from workflow.clock import SHANGHAI, FixedClock

CASES = 2000
LEVELS = ("warned", "overdue", "supervised", "listed")
TRIGGERS = ("warn", "mark_overdue", "supervise", "list")
NOW = datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)
"""Every level of every template case is due at this instant (listed fell due on 10-15)."""

pytestmark = pytest.mark.slow


# --- the template databases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    backend: str
    url: str
    data_dir: Path


def _fill(url: str, data_dir: Path) -> None:
    app = build_app(url, data_dir)
    try:
        app.migrate()
        dispatcher = standard_actors(app).dispatcher
        fields = enterprise_fields()
        for _ in range(CASES):
            app.cases.create(ENTERPRISE, dispatcher, fields)
    finally:
        app.close()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    ids=["sqlite", "pg"],
)
def template(request, tmp_path_factory) -> Iterator[Template]:
    directory = tmp_path_factory.mktemp("sweep-template")
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'template.db'}"
        _fill(url, directory / "data")
        yield Template("sqlite", url, directory / "data")
        return
    server = request.getfixturevalue("pg_server")
    name = f"caseflow_tpl_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server.url).set(database=name).render_as_string(hide_password=False)
        _fill(url, directory / "data")
        yield Template("postgresql", url, directory / "data")
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def copy_url(template: Template, request, tmp_path) -> Iterator[str]:
    """A fresh copy of the template for one test."""
    if template.backend == "sqlite":
        target = tmp_path / "copy.db"
        source = make_url(template.url).database
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        yield f"sqlite:///{target}"
        return
    server = request.getfixturevalue("pg_server")
    template_name = make_url(template.url).database
    name = f"caseflow_test_{uuid.uuid4().hex[:16]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield make_url(server.url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- checking ------------------------------------------------------------------------------------


def assert_each_escalation_once(url: str, data_dir: Path, reported: list[tuple[str, str]], complete: bool = True) -> None:
    """Events, ladder rows, case rows and the audit chain all say: four steps per case, once.
    ``complete``: every sweeper returned its report (none gave up part-way)."""
    app = build_app(url, data_dir, clock=FixedClock(NOW))
    try:
        assert len(set(reported)) == len(reported), "a step was reported by two sweepers"
        if complete:
            assert len(reported) == CASES * 4, Counter(Counter(reported).values())
        cases, events, steps = Case.__table__, CaseEvent.__table__, LadderStep.__table__
        with app.db.read() as conn:
            per_pair = conn.execute(
                select(events.c.case_id, events.c.trigger, func.count())
                .where(events.c.trigger.in_(TRIGGERS))
                .group_by(events.c.case_id, events.c.trigger)
            ).all()
            assert len(per_pair) == CASES * 4
            assert {count for _, _, count in per_pair} == {1}
            assert Counter(trigger for _, trigger, _ in per_pair) == {t: CASES for t in TRIGGERS}
            assert all(actor == "system" for (actor,) in conn.execute(
                select(events.c.actor).where(events.c.trigger.in_(TRIGGERS)).distinct()
            ))  # fmt: skip
            ladder = conn.execute(
                select(steps.c.case_id, steps.c.deadline_seq, steps.c.level)
            ).all()
            assert len(ladder) == CASES * 4 and len(set(ladder)) == CASES * 4
            assert Counter(level for _, _, level in ladder) == {level: CASES for level in LEVELS}
            rows = conn.execute(
                select(
                    cases.c.ladder_level, cases.c.next_check_at, cases.c.version, cases.c.event_seq
                )
            ).all()
            assert {(r.ladder_level, r.next_check_at, r.version, r.event_seq) for r in rows} == {
                ("listed", None, 5, 5)
            }
            # the order of the steps in every history is the ladder's
            orders = Counter(
                tuple(
                    t
                    for (t,) in conn.execute(
                        select(events.c.trigger)
                        .where(events.c.case_id == case_id)
                        .order_by(events.c.seq)
                    )
                )  # fmt: skip
                for case_id in (1, CASES // 2, CASES)
            )
            assert orders == {("create", *TRIGGERS): 3}
            verified = audit.verify(conn)
            assert verified.ok, verified.first_break
            assert (verified.cases, verified.events) == (CASES, CASES * 5)
        again = app.sweeper.sweep(NOW)
        assert (again.steps, again.cases) == ([], 0)
    finally:
        app.close()


# --- threads ---------------------------------------------------------------------------------------


def _locked(exc: BaseException) -> bool:
    """SQLite's busy timeout ran out: a writer waited longer than 30 s for the lock. (The raw
    ``sqlite3`` error escapes unwrapped when it comes from the ``BEGIN IMMEDIATE`` that
    ``cases.db`` issues in its ``begin`` hook.)"""
    return isinstance(exc, OperationalError | sqlite3.OperationalError) and "database is locked" in str(exc)


@pytest.mark.parametrize("sweepers", [2, 4])
def test_concurrent_thread_sweeps_escalate_each_case_once(template, copy_url, sweepers):
    """On a loaded machine a SQLite sweeper may give up with "database is locked" (SQLite writers
    are not served in turn; see the report): it then leaves whole batches only, and the next
    sweep, like the next tick, completes the work — still each step exactly once."""
    apps = [build_app(copy_url, template.data_dir, clock=FixedClock(NOW)) for _ in range(sweepers)]
    start = threading.Barrier(sweepers, timeout=60)
    reports: list = [None] * sweepers
    failures: list[str] = []
    locked: list[int] = []

    def run(index: int) -> None:
        try:
            start.wait()
            reports[index] = apps[index].sweeper.sweep()
        except BaseException as exc:  # noqa: BLE001 - reported below with the traceback
            if template.backend == "sqlite" and _locked(exc):
                locked.append(index)
            else:
                failures.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(sweepers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
            assert not thread.is_alive()
    finally:
        for app in apps:
            app.close()
    assert not failures, failures[0]
    assert len(locked) < sweepers, "every sweeper gave up"
    assert all(report.now == NOW for report in reports if report is not None)
    reported = [(s.case, s.action) for report in reports if report is not None for s in report.steps]
    if locked:
        app = build_app(copy_url, template.data_dir, clock=FixedClock(NOW))
        try:
            reported += [(s.case, s.action) for s in app.sweeper.sweep().steps]
        finally:
            app.close()
    assert_each_escalation_once(copy_url, template.data_dir, reported, complete=not locked)


def test_sweeps_racing_dispatchers_never_escalate_a_new_deadline(template, copy_url):
    """Two sweepers and a dispatcher assigning 300 of the due cases at the same instant: each case
    is escalated on its old deadline or not at all, and the assignment always starts a new,
    normal clock that nothing escalates (it is due 2026-10-21)."""
    apps = [build_app(copy_url, template.data_dir, clock=FixedClock(NOW)) for _ in range(3)]
    dispatcher = standard_actors(apps[2]).dispatcher
    numbers = [f"QY-2026-{n:05d}" for n in range(CASES, CASES - 300, -1)]  # the last swept first
    start = threading.Barrier(3, timeout=60)
    failures: list[str] = []
    reports: list = []

    def sweep(app) -> None:
        try:
            start.wait()
            for attempt in range(5):  # a sweep that gave up on SQLite's lock runs again, like the next tick
                try:
                    reports.append(app.sweeper.sweep())
                    break
                except (OperationalError, sqlite3.OperationalError) as exc:
                    if not (template.backend == "sqlite" and _locked(exc)) or attempt == 4:
                        raise
        except BaseException:  # noqa: BLE001
            failures.append(traceback.format_exc())

    def assign() -> None:
        try:
            start.wait()
            for number in numbers:
                for attempt in range(5):  # a user retries when SQLite's busy timeout ran out
                    try:
                        apps[2].cases.advance(number, "assign", dispatcher, {"lead_unit": "power"})
                        break
                    except (OperationalError, sqlite3.OperationalError) as exc:
                        if not (template.backend == "sqlite" and _locked(exc)) or attempt == 4:
                            raise
        except BaseException:  # noqa: BLE001
            failures.append(traceback.format_exc())

    threads = [
        threading.Thread(target=sweep, args=(apps[0],)),
        threading.Thread(target=sweep, args=(apps[1],)),
        threading.Thread(target=assign),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not failures, failures[0]
        app = apps[0]
        reported = [(s.case, s.action) for report in reports for s in report.steps]
        assert len(set(reported)) == len(reported)
        complete = len(reports) == 2  # no sweep gave up part-way
        for number in numbers:
            history = app.cases.history(number)
            triggers = [e["trigger"] for e in history]
            assign_at = triggers.index("assign")
            ladder_before = triggers[1:assign_at]
            assert ladder_before in ([], list(TRIGGERS)), (number, triggers)
            assert triggers[assign_at + 1 :] == [], (number, triggers)
            case = app.cases.show(number)
            assert (case["state"], case["supervision"], case["due_date"]) == (
                "assigned",
                "normal",
                "2026-10-21",
            )
        with app.db.read() as conn:
            steps = LadderStep.__table__
            ladder_rows = conn.execute(select(func.count()).select_from(steps)).scalar_one()
            assert ladder_rows == len(reported) if complete else ladder_rows >= len(reported)
            events = CaseEvent.__table__
            per_pair = conn.execute(
                select(events.c.case_id, events.c.trigger, func.count())
                .where(events.c.trigger.in_(TRIGGERS))
                .group_by(events.c.case_id, events.c.trigger)
            ).all()
            assert {n for _, _, n in per_pair} == {1} and len(per_pair) == ladder_rows
            assert conn.execute(select(func.max(steps.c.deadline_seq))).scalar_one() == 1
            assert audit.verify(conn).ok
        untouched = [s for s in reported if s[0] not in set(numbers)]
        if complete:
            assert len(untouched) == (CASES - len(numbers)) * 4
        assert app.sweeper.sweep(NOW).steps == []
    finally:
        for app in apps:
            app.close()


# --- processes (PostgreSQL) ----------------------------------------------------------------------------


def _process_sweeper(url: str, data_dir: str, barrier, results) -> None:
    """Child process: its own app from the URL at the frozen instant; one sweep."""
    try:
        app = build_app(url, Path(data_dir), clock=FixedClock(NOW))
        try:
            app.calendar.calendar()  # warm up before the start line
            barrier.wait()
            report = app.sweeper.sweep()
            results.put(("ok", [(s.case, s.action) for s in report.steps], report.now.isoformat()))
        finally:
            app.close()
    except BaseException:  # noqa: BLE001 - the parent fails with the child's traceback
        results.put(("error", traceback.format_exc(), None))
        barrier.abort()


@pytest.mark.parametrize("template", [pytest.param("postgresql", id="pg", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("sweepers", [2, 4])
def test_concurrent_process_sweeps_escalate_each_case_once(template, copy_url, sweepers):
    assert template.backend == "postgresql"
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(sweepers, timeout=120), ctx.Queue()
    children = [
        ctx.Process(
            target=_process_sweeper, args=(copy_url, str(template.data_dir), barrier, results)
        )
        for _ in range(sweepers)
    ]
    for child in children:
        child.start()
    reported: list[tuple[str, str]] = []
    try:
        for _ in range(sweepers):
            status, steps, now = results.get(timeout=600)
            assert status == "ok", steps
            assert datetime.fromisoformat(now) == NOW
            reported += [tuple(s) for s in steps]
    finally:
        for child in children:
            child.join(timeout=120)
    assert [child.exitcode for child in children] == [0] * sweepers
    assert_each_escalation_once(copy_url, template.data_dir, reported)
