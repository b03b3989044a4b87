"""The scheduler: APScheduler 3.11 in the Asia/Shanghai zone with an in-memory job store.

One interval job, the tick, runs every minute (coalesced, one instance, no misfire limit): if
this process holds the lease it sweeps, then dispatches due notifications. Deadlines live in the
case table, so APScheduler never holds a job per case. ``run_tick`` is what a tick does, callable
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
from cases.sweep import SweepReport
from scheduling.lease import Lease

log = logging.getLogger("caseflow.scheduler")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TICK_SECONDS = 60


@dataclass
class TickResult:
    leader: bool
    sweep: SweepReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Ticker:
    """What one tick does; ``after_sweep`` hooks (notification dispatch) run after the sweep."""

    def __init__(self, app: App, holder: str | None = None, tick_seconds: int = TICK_SECONDS) -> None:
        self.app = app
        self.lease = Lease(app.db, holder or default_holder(), timedelta(seconds=2 * tick_seconds))
        self.after_sweep: list[Callable[[App], Any]] = []

    def tick(self) -> TickResult:
        now = self.app.clock.now()
        if not self.lease.acquire(now):
            log.debug("not the active scheduler; %s holds the lease", self.lease.holder_now())
            return TickResult(False)
        report = self.app.sweeper.sweep(now)
        if report.steps:
            log.info("sweep at %s: %d steps on %d cases", now.isoformat(), len(report.steps), report.cases)
        result = TickResult(True, report)
        for hook in self.after_sweep:
            result.extra[getattr(hook, "__name__", "hook")] = hook(self.app)
        return result


def _safe_tick(ticker: Ticker) -> None:
    try:
        ticker.tick()
    except Exception:  # noqa: BLE001 - a failed tick is logged; the next one tries again
        log.exception("tick failed")


def make_scheduler(ticker: Ticker, *, blocking: bool, tick_seconds: int = TICK_SECONDS) -> BaseScheduler:
    """The configured scheduler (not started)."""
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(timezone=SHANGHAI, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
    # the first tick runs at once: after downtime it catches up everything that fell due
    scheduler.add_job(
        _safe_tick, "interval", seconds=tick_seconds, args=[ticker], id="tick", next_run_time=datetime.now(SHANGHAI)
    )
    return scheduler
