"""The scheduler: the lease that elects one ticking scheduler, the tick, a scheduler killed in the
middle of a tick, and the APScheduler configuration (PITFALLS #10–#13), on SQLite and PostgreSQL.

Two ``Ticker``s with different holders run against one database, each through its own app
(engine) sharing the test's ``FixedClock``: time moves only through that clock. The lease lasts
two ticks (120 s with the default 60 s tick).
"""

import logging
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from helpers import ENTERPRISE, POSTGRESQL_ONLY, build_app, enterprise_fields, new_enterprise_case
from sqlalchemy import func, select

from cases import audit
from cases.models import CaseEvent, LadderStep, SchedulerLease
from scheduling.lease import Lease
from scheduling.runner import TICK_SECONDS, Ticker, make_scheduler
from workflow.clock import SHANGHAI

TICK = timedelta(seconds=TICK_SECONDS)
DUE = datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)
"""Cases registered at the fixture's start (2026-09-30 10:00) have every level due by now."""
TESTS_DIR = Path(__file__).resolve().parent.parent
TRIGGERS = ("warn", "mark_overdue", "supervise", "list")


@pytest.fixture
def second_app(database_url, data_dir, clock, app):
    """Another process's app on the same database, on the same clock."""
    other = build_app(database_url, data_dir, clock=clock)
    yield other
    other.close()


def count(app, table, *where) -> int:
    table = getattr(table, "__table__", table)
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def ladder_events(app) -> int:
    return count(app, CaseEvent, CaseEvent.__table__.c.trigger.in_(TRIGGERS))


# --- the lease ---------------------------------------------------------------------------------------


def test_only_the_lease_holder_sweeps(app, second_app, actors):
    numbers = [new_enterprise_case(app)["number"] for _ in range(3)]
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    hooks: list[str] = []
    alpha.after_sweep.append(lambda a: hooks.append("alpha"))
    beta.after_sweep.append(lambda a: hooks.append("beta"))
    app.clock.set(DUE)

    first = alpha.tick()
    assert first.leader is True and first.sweep is not None
    assert "dispatch_all" in first.extra  # the tick sweeps, then dispatches notifications
    assert sorted((s.case, s.action) for s in first.sweep.steps) == sorted((n, t) for n in numbers for t in TRIGGERS)
    standby = beta.tick()
    assert (standby.leader, standby.sweep, standby.extra) == (False, None, {})
    assert alpha.lease.holder_now() == beta.lease.holder_now() == "alpha"
    assert hooks == ["alpha"]

    late = new_enterprise_case(app)["number"]  # registered now: due 2026-10-21, warned at 00:00
    for _ in range(3):  # the holder renews at each tick; the standby never sweeps
        app.clock.advance(TICK)
        assert beta.tick().leader is False
        result = alpha.tick()
        assert result.leader is True and result.sweep.steps == []
    app.clock.set(datetime(2026, 10, 20, 23, 59, 30, tzinfo=SHANGHAI))
    assert alpha.tick().sweep.steps == []
    assert beta.tick().leader is False
    app.clock.set(datetime(2026, 10, 21, 0, 0, 30, tzinfo=SHANGHAI))
    assert beta.tick().leader is False
    assert ladder_events(app) == 12
    result = alpha.tick()
    assert [(s.case, s.action) for s in result.sweep.steps] == [(late, "warn")]
    assert ladder_events(app) == 13
    assert hooks == ["alpha"] * 6


def test_standby_takes_over_within_two_ticks_when_the_holder_stops(app, second_app, actors):
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    start = app.clock.now()
    assert alpha.tick().leader is True  # alpha's last renewal; then it stops ticking
    app.clock.advance(TICK)
    assert beta.tick().leader is False, "one missed tick is not yet a dead holder"
    app.clock.set(start + 2 * TICK - timedelta(seconds=1))
    assert beta.tick().leader is False
    number = new_enterprise_case(app)["number"]
    app.clock.set(start + 2 * TICK)  # the lease has lasted its two ticks
    took = beta.tick()
    assert took.leader is True and took.sweep is not None
    assert beta.lease.holder_now() == "beta"
    # the old holder coming back does not get the lease while beta renews it
    app.clock.advance(TICK)
    assert alpha.tick().leader is False
    assert beta.tick().leader is True
    app.clock.advance(TICK)
    assert alpha.tick().leader is False
    assert app.cases.show(number)["supervision"] == "normal"  # nothing due yet: nothing swept


@pytest.mark.parametrize("phase", [1, 30, 59])
def test_takeover_happens_at_most_two_ticks_after_the_first_missed_renewal(app, second_app, phase):
    """Whatever the standby's phase: the holder's last renewal at T, its first missed tick at
    T + 1 tick; the standby leads by T + 3 ticks and not before the lease has run out."""
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    last_renewal = app.clock.now()
    assert alpha.tick().leader is True
    at = last_renewal + timedelta(seconds=phase)
    while True:
        app.clock.set(at)
        if beta.tick().leader:
            break
        at += TICK
        assert at < last_renewal + 10 * TICK, "the standby never took over"
    assert last_renewal + 2 * TICK <= at <= last_renewal + TICK + 2 * TICK


def test_release_hands_the_lease_over_at_once(app, second_app):
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    assert alpha.tick().leader is True
    assert beta.tick().leader is False
    beta.lease.release()  # not the holder: changes nothing
    assert beta.tick().leader is False and alpha.lease.holder_now() == "alpha"
    alpha.lease.release()
    assert beta.tick().leader is True  # the same instant
    assert alpha.tick().leader is False
    assert beta.lease.holder_now() == "beta"


def test_many_schedulers_starting_together_elect_one(app, database_url, data_dir):
    apps = [build_app(database_url, data_dir, clock=app.clock) for _ in range(6)]
    leases = [Lease(a.db, f"holder-{i}", 2 * TICK) for i, a in enumerate(apps)]
    start = threading.Barrier(len(leases), timeout=60)
    results: dict[int, bool] = {}

    def take(i: int) -> None:
        start.wait()
        results[i] = leases[i].acquire(app.clock.now())

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(leases))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert Counter(results.values()) == {True: 1, False: len(leases) - 1}
        winner = next(i for i, won in results.items() if won)
        assert leases[0].holder_now() == f"holder-{winner}"
    finally:
        for a in apps:
            a.close()


# --- a sweep longer than the lease ------------------------------------------------------------------


class SlowSweep:
    """A change sink that makes every sweep step "take" ``seconds`` on the injected clock, and
    records, at each step, whether the lease row (read in the sweep's own transaction) was still
    live. ``at_step`` runs once, at that step (1-based), with the transaction's connection."""

    def __init__(self, app, seconds: int, at_step: int | None = None, action=None) -> None:
        self.app, self.seconds, self.at_step, self.action = app, seconds, at_step, action
        self.live: list[bool] = []

    def on_change(self, conn, change) -> None:
        self.app.clock.advance(timedelta(seconds=self.seconds))
        expires = conn.execute(select(SchedulerLease.expires_at)).scalar_one()
        self.live.append(expires > self.app.clock.now())
        if len(self.live) == self.at_step:
            self.action()


def test_the_sweeper_calls_back_between_batches_and_stops_when_told(app, actors):
    numbers = [new_enterprise_case(app)["number"] for _ in range(5)]
    calls: list[int] = []
    report = app.sweeper.sweep(DUE, batch=2, between_batches=lambda: calls.append(1) is None and len(calls) < 1)
    assert calls == [1] and report.cases == 2  # stopped after the first batch
    assert sorted(app.cases.show(n)["supervision"] for n in numbers) == ["listed"] * 2 + ["normal"] * 3
    calls.clear()
    rest = app.sweeper.sweep(DUE, batch=2, between_batches=lambda: calls.append(1) is None)
    assert rest.cases == 3 and len(calls) == 2  # after each batch that did work, not after the last query
    assert {app.cases.show(n)["supervision"] for n in numbers} == {"listed"}


def test_a_sweep_longer_than_the_lease_renews_it_between_batches(app, second_app, actors):
    numbers = [new_enterprise_case(app)["number"] for _ in range(5)]
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    alpha.batch = 2
    slow = SlowSweep(app, seconds=10)  # 2 cases x 4 levels = 80 s a batch; 200 s in all > the 120 s lease
    app.sweeper.sinks.append(slow)
    app.clock.set(DUE)
    result = alpha.tick()
    assert result.leader is True and "dispatch_all" in result.extra
    assert len(result.sweep.steps) == 4 * len(numbers)
    assert app.clock.now() - DUE > 2 * TICK
    assert all(slow.live), "the lease ran out in the middle of the sweep"
    assert beta.tick().leader is False  # renewed after the last batch: the standby does not take over
    assert alpha.lease.holder_now() == "alpha"


@POSTGRESQL_ONLY  # inside a SQLite write transaction no other scheduler can take the lease
def test_a_scheduler_that_lost_its_lease_mid_sweep_stops_and_the_new_holder_finishes(app, second_app, actors):
    assert not app.db.is_sqlite
    numbers = [new_enterprise_case(app)["number"] for _ in range(5)]
    alpha, beta = Ticker(app, holder="alpha"), Ticker(second_app, holder="beta")
    alpha.batch = 2
    hooks: list[str] = []
    alpha.after_sweep.append(lambda a: hooks.append("alpha"))
    # the first step "takes" 5 minutes: alpha's lease runs out and beta takes it over meanwhile
    took: list[bool] = []

    def stall_and_take_over() -> None:
        app.clock.advance(timedelta(minutes=5))
        took.append(beta.lease.acquire(app.clock.now()))

    slow = SlowSweep(app, seconds=1, at_step=1, action=stall_and_take_over)
    app.sweeper.sinks.append(slow)
    app.clock.set(DUE)
    result = alpha.tick()
    assert took == [True]
    assert result.leader is False and result.sweep.cases == 2  # stopped after its batch
    assert hooks == [] and result.extra == {}  # no dispatch by a scheduler that is not the leader
    app.sweeper.sinks.remove(slow)
    assert sorted(app.cases.show(n)["supervision"] for n in numbers) == ["listed"] * 2 + ["normal"] * 3
    finished = beta.tick()
    assert finished.leader is True and finished.sweep.cases == 3
    assert {app.cases.show(n)["supervision"] for n in numbers} == {"listed"}
    assert ladder_events(app) == 4 * len(numbers)  # every level once


def test_a_failing_tick_is_logged_and_the_next_one_runs(app, caplog, monkeypatch):
    ticker = Ticker(app, holder="alpha")
    scheduler = make_scheduler(ticker, blocking=False)
    job = scheduler.get_job("tick")
    calls: list[int] = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("database went away")

    monkeypatch.setattr(app.sweeper, "sweep", broken)
    with caplog.at_level(logging.ERROR, logger="caseflow.scheduler"):
        job.func(*job.args)  # what the scheduler runs: it must not raise
    assert calls == [1]
    assert any(r.exc_info and "database went away" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    assert ticker.tick().leader is True


# --- a scheduler killed in the middle of a tick -------------------------------------------------------------

VICTIM = """
import sys
from datetime import datetime
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from helpers import build_app
from scheduling.runner import Ticker
from workflow.clock import FixedClock
app = build_app(sys.argv[2], Path(sys.argv[3]), clock=FixedClock(datetime.fromisoformat(sys.argv[4])))
print("ticking", flush=True)
result = Ticker(app, holder="victim").tick()
print("done", result.leader, len(result.sweep.steps), flush=True)
"""
KILL_CASES = 1500


def test_scheduler_killed_mid_tick_loses_nothing_and_doubles_nothing(app, actors, database_url, data_dir):
    fields = enterprise_fields()
    for _ in range(KILL_CASES):
        app.cases.create(ENTERPRISE, actors.dispatcher, fields)
    app.clock.set(DUE)
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(TESTS_DIR), database_url, str(data_dir), DUE.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while count(app, LadderStep) == 0:  # the marker: the first batch is committed
            assert victim.poll() is None, victim.communicate()
        victim.send_signal(signal.SIGKILL)
        out, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert victim.returncode == -signal.SIGKILL, err
    assert "ticking" in out and "done" not in out, "the tick was over before the kill"

    # what the dead tick left: whole batches committed, nothing half-done within a case
    done = count(app, LadderStep)
    assert 0 < done < 4 * KILL_CASES
    with app.db.read() as conn:
        steps_per_case = Counter(
            n for _, n in conn.execute(
                select(LadderStep.__table__.c.case_id, func.count()).group_by(LadderStep.__table__.c.case_id)
            )
        )  # fmt: skip
        assert set(steps_per_case) == {4}
        assert audit.verify(conn).ok

    # restart: the dead holder's lease runs out, the new scheduler sweeps the rest
    successor = Ticker(app, holder="successor")
    ticks = 0
    while True:
        ticks += 1
        result = successor.tick()
        if result.leader:
            break
        assert ticks < 3, "the lease of the dead scheduler did not run out in two ticks"
        app.clock.advance(TICK)
    assert len(result.sweep.steps) == 4 * KILL_CASES - done
    assert {s.action for s in result.sweep.steps} == set(TRIGGERS)
    assert count(app, LadderStep) == 4 * KILL_CASES
    with app.db.read() as conn:
        events = CaseEvent.__table__
        pairs = conn.execute(
            select(events.c.case_id, events.c.trigger, func.count())
            .where(events.c.trigger.in_(TRIGGERS))
            .group_by(events.c.case_id, events.c.trigger)
        ).all()
        assert len(pairs) == 4 * KILL_CASES and {n for _, _, n in pairs} == {1}
        verified = audit.verify(conn)
        assert verified.ok and verified.events == 5 * KILL_CASES
    app.clock.advance(TICK)
    assert successor.tick().sweep.steps == []


# --- APScheduler configuration ---------------------------------------------------------------------------


def test_make_scheduler_configures_one_coalesced_tick_in_shanghai(app):
    ticker = Ticker(app, holder="alpha")
    scheduler = make_scheduler(ticker, blocking=False)
    assert isinstance(scheduler, BackgroundScheduler)
    assert scheduler.timezone == ZoneInfo("Asia/Shanghai")
    scheduler.start(paused=True)  # job defaults are applied when the scheduler starts; nothing runs
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"tick", "digest", "bulletin", "housekeeping"}
        for job in jobs.values():  # PITFALLS #11: never dropped as misfired, never doubled
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None), job.id
            assert str(job.trigger.timezone) == "Asia/Shanghai", job.id  # #12
            assert ":" in job.func_ref  # an importable module:function (#13)
            assert job.name == job.id  # the logs say which job ran
        tick = jobs["tick"]
        assert isinstance(tick.trigger, IntervalTrigger)
        assert tick.trigger.interval == timedelta(seconds=60)
        assert list(tick.args) == [ticker.tick]
        assert tick.next_run_time is not None and tick.next_run_time.utcoffset() == timedelta(hours=8)
        assert tick.next_run_time <= datetime.now(SHANGHAI)  # the first tick at once: catch up
        friday = datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
        assert jobs["digest"].trigger.get_next_fire_time(None, friday) == datetime(2026, 10, 10, 8, 30, tzinfo=SHANGHAI)
        assert jobs["bulletin"].trigger.get_next_fire_time(None, friday) == datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)
        assert list(jobs["digest"].args) == [ticker.digest] and list(jobs["bulletin"].args) == [ticker.bulletin]
        assert jobs["housekeeping"].trigger.get_next_fire_time(None, friday) == datetime(
            2026, 10, 10, 3, 17, tzinfo=SHANGHAI
        )
        assert list(jobs["housekeeping"].args) == [ticker.housekeeping]
    finally:
        scheduler.shutdown(wait=False)
    assert ticker.lease.holder_now() is None  # a paused scheduler never ran a job


def test_make_scheduler_blocking_and_tick_seconds(app):
    ticker = Ticker(app, holder="alpha", tick_seconds=15)
    assert ticker.lease.ttl == timedelta(seconds=30)
    scheduler = make_scheduler(ticker, blocking=True, tick_seconds=15)
    assert isinstance(scheduler, BlockingScheduler)
    assert scheduler.timezone == ZoneInfo("Asia/Shanghai")
    assert scheduler.get_job("tick").trigger.interval == timedelta(seconds=15)
