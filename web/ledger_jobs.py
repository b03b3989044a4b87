"""Ledger imports and exports run in worker threads, so that the page can show a progress bar and
a cancel button while a 100,000-row workbook is read, and an API client can poll a job instead of
holding a request open (``Prefer: respond-async``). Pages and API share one ``LedgerJobs`` per
server process (``jobs_of``).

A ``LedgerJob`` belongs to the user who started it and holds its files in its own directory
under ``data_dir/ledger-jobs`` (the uploaded workbook, the annotated copy, the exported ledger).
Cancelling sets a flag that the progress callback turns into ``JobCancelled`` at the next batch:
an import then rolls its one transaction back, an export removes its temporary file (both are
``ledger``'s guarantees). Jobs live in memory — one server process — and finished ones are
forgotten, with their files, after ``KEEP``. The work itself is ``ledger.LedgerService``'s.
"""

import copy
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request

from caseflow.app import App
from workflow.errors import CaseflowError, InvalidInput, NotFound
from workflow.org import Actor

log = logging.getLogger(__name__)

KEEP = timedelta(hours=24)
"""How long a finished job (its report and files) stays reachable."""
MAX_RUNNING = 2
"""Ledger jobs running at once in this process (each takes most of a core)."""


class JobsBusy(CaseflowError):
    """Too many ledger jobs run now (for this user or this server)."""

    code = "jobs_busy"
    http_status = 409


class JobCancelled(Exception):
    """Raised from the progress callback when the user cancelled the job."""


@dataclass
class LedgerJob:
    id: str
    kind: str
    """``check`` (dry run), ``import`` or ``export``."""
    owner: str
    case_type: str | None
    directory: Path
    started_at: datetime
    source_name: str | None = None
    """The uploaded workbook's own name (kept: the import records it)."""
    download_name: str | None = None
    """The name an exported ledger is offered under."""
    valid_only: bool = False
    state: str = "running"
    """``running``, ``done``, ``failed`` or ``cancelled``."""
    phase: str | None = None
    done: int = 0
    total: int | None = None
    report: Any = None
    """The ``ImportReport`` of a check or an import."""
    result: dict[str, Any] | None = None
    """What an export wrote."""
    error: str | None = None
    finished_at: datetime | None = None
    checked_from: str | None = None
    """The check job an import was confirmed from."""
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Held while the worker changes what a page shows, and while a page copies it."""

    def snapshot(self) -> "LedgerJob":
        """A copy that does not change while a page renders it: its state, progress and outcome
        belong together (the job itself finishes in another thread at any moment)."""
        with self._guard:
            return copy.copy(self)

    @property
    def source(self) -> Path:
        return self.directory / (self.source_name or "source.xlsx")

    @property
    def annotated(self) -> Path:
        return self.directory / "problems.xlsx"

    @property
    def output(self) -> Path:
        return self.directory / "ledger.xlsx"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(self.done * 100 / self.total))

    def progress(self, phase: str, done: int, total: int | None) -> None:
        if self.cancel.is_set():
            raise JobCancelled()
        with self._guard:
            if phase != self.phase:
                self.phase, self.done = phase, 0
            self.done += done
            self.total = total

    def problems_file(self) -> Path:
        """The annotated copy of a finished check or import with problems."""
        job = self.snapshot()
        if job.running or job.report is None or not job.report.problems or not job.annotated.is_file():
            raise InvalidInput("job", "这项任务没有问题标注文件")
        return job.annotated

    def exported_file(self) -> Path:
        """The ledger a finished export wrote."""
        job = self.snapshot()
        if job.kind != "export" or job.state != "done" or not job.output.is_file():
            raise InvalidInput("job", "导出尚未完成" if job.kind == "export" and job.running else "这项任务没有导出文件")
        return job.output

    def _finish(self, state: str, outcome: Any = None, error: str | None = None) -> None:
        with self._guard:
            if self.kind == "export":
                self.result = outcome
            else:
                self.report = outcome
            self.state, self.error = state, error


class LedgerJobs:
    """The ledger jobs of one server process."""

    def __init__(self, app: App, root: Path | None = None) -> None:
        self.app = app
        self.root = root or Path(app.settings.data_dir) / "ledger-jobs"
        self._jobs: dict[str, LedgerJob] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._remove_leftovers()

    # --- creating -------------------------------------------------------------------------------

    def new(self, kind: str, owner: str, case_type: str | None, **extra: Any) -> LedgerJob:
        """A job with its own directory, not yet started (the caller fills its source first)."""
        with self._lock:
            self._forget_old()
            if sum(1 for j in self._jobs.values() if j.running) >= MAX_RUNNING:
                raise JobsBusy("台账任务较多，请等当前任务完成后再试", {"running": MAX_RUNNING})
            if any(j.running and j.owner == owner for j in self._jobs.values()):
                raise JobsBusy("您有一项台账任务正在进行，请等它完成或取消后再试")
            job_id = secrets.token_urlsafe(12)
            directory = self.root / job_id
            directory.mkdir(parents=True)
            job = LedgerJob(job_id, kind, owner, case_type, directory, self.app.clock.now(), **extra)
            self._jobs[job_id] = job
            return job

    def start(self, job: LedgerJob, work: Callable[[LedgerJob], Any]) -> None:
        """Run ``work`` in a thread; what it returns becomes the job's ``report`` (a check or an
        import) or ``result`` (an export), together with the state ``done``."""
        thread = threading.Thread(target=self._run, args=(job, work), name=f"ledger-{job.kind}-{job.id}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def discard(self, job: LedgerJob) -> None:
        """Forget a job that never started (its upload was refused)."""
        with self._lock:
            self._jobs.pop(job.id, None)
        shutil.rmtree(job.directory, ignore_errors=True)

    def _run(self, job: LedgerJob, work: Callable[[LedgerJob], Any]) -> None:
        try:
            job._finish("done", work(job))
        except JobCancelled:
            job._finish("cancelled")
        except CaseflowError as exc:
            job._finish("failed", error=exc.message)
        except Exception:
            log.exception("ledger job %s (%s) failed", job.id, job.kind)
            job._finish("failed", error="处理台账时发生内部错误，已记录日志；请联系管理员")
        finally:
            job.finished_at = self.app.clock.now()
            job.finished.set()
            log.info("ledger job %s (%s by %s) %s", job.id, job.kind, job.owner, job.state)

    # --- finding --------------------------------------------------------------------------------

    def get(self, job_id: str, owner: str) -> LedgerJob:
        """The job, if ``owner`` started it (another user's job is not found, like a case)."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound("台账任务", job_id)
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> LedgerJob:
        """The job once it has finished (or ``TimeoutError``)."""
        job = self._jobs[job_id]
        if not job.finished.wait(timeout):
            raise TimeoutError(f"ledger job {job_id} still runs after {timeout} s")
        return job

    def of(self, owner: str) -> list[LedgerJob]:
        return sorted((j for j in self._jobs.values() if j.owner == owner), key=lambda j: j.started_at, reverse=True)

    def _forget_old(self) -> None:
        cutoff = self.app.clock.now() - KEEP
        for job_id, job in list(self._jobs.items()):
            if not job.running and job.finished_at is not None and job.finished_at < cutoff:
                del self._jobs[job_id]
                shutil.rmtree(job.directory, ignore_errors=True)

    def _remove_leftovers(self) -> None:
        """Directories of jobs of earlier server runs, older than ``KEEP``."""
        if not self.root.is_dir():
            return
        cutoff = (self.app.clock.now() - KEEP).timestamp()
        for directory in self.root.iterdir():
            if directory.is_dir() and directory.stat().st_mtime < cutoff:
                shutil.rmtree(directory, ignore_errors=True)

    # --- stopping -------------------------------------------------------------------------------

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel what runs and wait for it to roll back (server shutdown)."""
        for job in self._jobs.values():
            if job.running:
                job.cancel.set()
        for thread in self._threads:
            thread.join(timeout)


def import_work(app: App, case_type: str, actor: Actor, *, dry_run: bool, valid_only: bool) -> Callable[[LedgerJob], Any]:
    """The work of a check (``dry_run``) or import job: its report, and the annotated copy of
    the workbook when there are problems."""
    ledger = app.ledger

    def work(job: LedgerJob) -> Any:
        report = ledger.import_ledger(
            job.source, case_type, actor, dry_run=dry_run, valid_only=valid_only, progress=job.progress
        )
        if report.problems:
            ledger.annotate(report, job.source, job.annotated)
        return report

    return work


def export_work(
    app: App, *, case_type: str | None, state: str | None, department: str | None,
    visible_to: tuple[str, str] | None,
) -> Callable[[LedgerJob], Any]:  # fmt: skip
    """The work of an export job: what ``export_ledger`` wrote (sheets and rows)."""
    ledger = app.ledger

    def work(job: LedgerJob) -> Any:
        return ledger.export_ledger(job.output, case_type=case_type, state=state, department=department,
                                    visible_to=visible_to, progress=job.progress)  # fmt: skip

    return work


_MAKING = threading.Lock()


def jobs_of(request: Request) -> LedgerJobs:
    """The server's ledger jobs (made on first use; the server cancels them when it stops)."""
    jobs = getattr(request.app.state, "ledger_jobs", None)
    if jobs is None:
        with _MAKING:  # two first requests at once must not make two stores
            jobs = getattr(request.app.state, "ledger_jobs", None)
            if jobs is None:
                jobs = request.app.state.ledger_jobs = LedgerJobs(request.app.state.caseflow)
    return jobs  # type: ignore[no-any-return]
