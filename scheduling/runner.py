"""The scheduler: APScheduler 3.11 in the Asia/Shanghai zone with an in-memory job store.

One interval job, the tick, runs every minute (coalesced, one instance, no misfire limit): if
this process holds the lease it sweeps, renewing the lease between sweep batches (a long sweep
never outlives it; if another scheduler took it over, the sweep stops), then dispatches due
notifications. Deadlines live in the case table, so APScheduler never holds a job per case.
Daily cron jobs send the digest and the weekly bulletin and run housekeeping, each only in the
process that holds the lease. ``run_tick`` is what a tick does, callable
without APScheduler (tests, ``caseflow sweep``).
"""

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from caseflow.app import App
from cases.sweep import BATCH, SweepReport
from scheduling.lease import Lease

log = logging.getLogger("caseflow.scheduler")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TICK_SECONDS = 60
HOUSEKEEPING_AT = {"hour": 3, "minute": 17}
"""Daily, at night (an odd minute: not with every other system's 03:00 jobs)."""


@dataclass
class TickResult:
    leader: bool
    sweep: SweepReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_all(app: App, rounds: int = 50) -> dict[str, int]:
    """Deliver what is due in the outbox, batch after batch (bounded per tick)."""
    totals = {"sent": 0, "failed": 0, "dead": 0}
    for _ in range(rounds):
        report = app.dispatcher.dispatch()
        for key in totals:
            totals[key] += len(getattr(report, key))
        if report.claimed == 0:
            break
    return totals


class Ticker:
    """What one tick does: if this process holds the lease, sweep, then dispatch notifications
    (and any other ``after_sweep`` hooks)."""

    def __init__(self, app: App, holder: str | None = None, tick_seconds: int = TICK_SECONDS) -> None:
        self.app = app
        self.lease = Lease(app.db, holder or default_holder(), timedelta(seconds=2 * tick_seconds))
        self.after_sweep: list[Callable[[App], Any]] = [dispatch_all]
        self.batch = BATCH
        """Cases per sweep transaction; the lease is renewed after each batch."""

    def leading(self) -> bool:
        """Whether this process is the active scheduler now (takes or renews the lease)."""
        return self.lease.acquire(self.app.clock.now())

    def digest(self) -> None:
        if self.leading():
            result = self.app.periodic.digest()
            log.info("daily digest %s: %s", result.period, result.to_dict())

    def bulletin(self) -> None:
        if self.leading():
            result = self.app.periodic.bulletin()
            log.info("weekly bulletin %s: %s", result.period, result.to_dict())

    def housekeeping(self) -> None:
        if self.leading():
            report = self.app.housekeeper.run()
            log.info("housekeeping: %d idempotency records, %d tokens, %d sign-in records, %d orphaned evidence files",
                     report.idempotency_records, report.tokens, report.signin_records, report.evidence_files)  # fmt: skip

    def tick(self) -> TickResult:
        now = self.app.clock.now()
        self.app.templates.reload()  # an admin may have saved a template in another process
        if not self.lease.acquire(now):
            log.debug("not the active scheduler; %s holds the lease", self.lease.holder_now())
            return TickResult(False)
        held = True

        def renew() -> bool:
            """Between sweep batches: keep the lease alive however long the sweep takes; stop
            if another scheduler has taken it over meanwhile."""
            nonlocal held
            held = self.lease.acquire(self.app.clock.now())
            return held

        report = self.app.sweeper.sweep(now, self.batch, between_batches=renew)
        if report.steps:
            log.info("sweep at %s: %d steps on %d cases", now.isoformat(), len(report.steps), report.cases)
        if not held:
            log.warning(
                "lost the lease to %s during the sweep; stopped after %d cases", self.lease.holder_now(), report.cases
            )
            return TickResult(False, report)
        result = TickResult(True, report)
        for hook in self.after_sweep:
            result.extra[getattr(hook, "__name__", "hook")] = hook(self.app)
        return result


def _safe(job: Callable[[], Any]) -> None:
    try:
        job()
    except Exception:  # noqa: BLE001 - a failed job is logged; the next run tries again
        log.exception("scheduled job failed")


def make_scheduler(ticker: Ticker, *, blocking: bool, tick_seconds: int = TICK_SECONDS) -> BaseScheduler:
    """The configured scheduler (not started)."""
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(timezone=SHANGHAI, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    # the first tick runs at once: after downtime it catches up everything that fell due
    scheduler.add_job(
        _safe, "interval", seconds=tick_seconds, args=[ticker.tick], id="tick", name="tick",
        next_run_time=datetime.now(SHANGHAI),
    )
    config = ticker.app.notification_config
    # the digest runs every day at its time and itself skips days off (adjusted workdays count)
    scheduler.add_job(_safe, "cron", args=[ticker.digest], id="digest", name="digest", **config.digest)
    scheduler.add_job(_safe, "cron", args=[ticker.bulletin], id="bulletin", name="bulletin", **config.bulletin)
    scheduler.add_job(
        _safe, "cron", args=[ticker.housekeeping], id="housekeeping", name="housekeeping", **HOUSEKEEPING_AT
    )
    return scheduler
