"""Ledger jobs of the pages (``web.ledger_jobs``), on SQLite and PostgreSQL: a job runs in its
own thread, reports progress, and a cancelled import leaves the database as it was — whether it
is cancelled while the rows are read or in the middle of the write transaction; a cancelled
export leaves no file. Jobs are per user and limited in number; old ones are forgotten."""

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import make_uscc
from openpyxl import Workbook
from sqlalchemy import func, select

from caseflow.app import App
from cases import repository as repo
from web.ledger_jobs import KEEP, MAX_RUNNING, JobsBusy, LedgerJob, LedgerJobs
from web.ui.routes import make_templates
from workflow.errors import NotFound

ROWS = 600  # more than one write chunk (ledger.importer.CHUNK)
HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]


def ledger(path: Path, rows: int = ROWS) -> Path:
    book = Workbook()
    ws = book.active
    ws.append(HEADERS)
    for i in range(rows):
        ws.append([i + 1, f"问题{i}", "描述", "生产要素", f"企业{i}", make_uscc(f"91340881MA2J{i:05d}"), "孔城镇"])
    book.save(path)
    return path


def cases(app: App) -> int:
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(repo.CASES)).scalar_one())


def events(app: App) -> int:
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(repo.EVENTS)).scalar_one())


@pytest.fixture
def office(app: App) -> Any:
    app.users.add("office", "sti", ["dispatcher", "collector"])
    return app.users.actor("office")


def run_import(jobs: LedgerJobs, app: App, office: Any, source: Path, cancel_in: str | None) -> LedgerJob:
    job = jobs.new("import", "office", "enterprise_issue", source_name=source.name)
    job.source.write_bytes(source.read_bytes())
    phases: list[str] = []

    def progress(phase: str, done: int, total: int | None) -> None:
        phases.append(phase)
        if phase == cancel_in:
            job.cancel.set()
        job.progress(phase, done, total)

    def work(job: LedgerJob) -> Any:
        return app.ledger.import_ledger(job.source, "enterprise_issue", office, progress=progress)

    jobs.start(job, work)
    jobs.wait(job.id, 120)
    assert cancel_in is None or phases.count(cancel_in) == 1, phases
    return job


def test_an_import_job_stores_every_row_and_reports_progress(app: App, office: Any, tmp_path: Path) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    job = run_import(jobs, app, office, ledger(tmp_path / "台账.xlsx"), None)
    assert job.state == "done" and job.report.stored and len(job.report.created) == ROWS
    assert (job.phase, job.done, job.total) == ("write", ROWS, ROWS)
    assert cases(app) == ROWS
    assert app.cases.history(job.report.created[0]["number"])[0]["payload"]["source"]["file"] == "台账.xlsx"


@pytest.mark.parametrize("phase", ["read", "write"])
def test_a_cancelled_import_leaves_the_database_as_it_was(app: App, office: Any, tmp_path: Path, phase: str) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    before = (cases(app), events(app))
    job = run_import(jobs, app, office, ledger(tmp_path / "台账.xlsx"), phase)
    assert job.state == "cancelled" and job.report is None
    assert (cases(app), events(app)) == before
    # and the next import of the same ledger is not blocked by anything left behind
    again = run_import(jobs, app, office, ledger(tmp_path / "台账.xlsx"), None)
    assert again.state == "done" and cases(app) == before[0] + ROWS


def test_a_cancelled_export_leaves_no_file(app: App, office: Any, tmp_path: Path) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    run_import(jobs, app, office, ledger(tmp_path / "台账.xlsx"), None)
    job = jobs.new("export", "office", None, download_name="台账.xlsx")
    job.cancel.set()
    jobs.start(job, lambda j: app.ledger.export_ledger(j.output, progress=j.progress))
    jobs.wait(job.id, 120)
    assert job.state == "cancelled" and not job.output.exists()
    assert [p.name for p in job.directory.iterdir()] == []


def test_a_failing_job_says_why_in_chinese(app: App, office: Any, tmp_path: Path) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    job = jobs.new("check", "office", "enterprise_issue", source_name="空.xlsx")
    Workbook().save(job.source)  # no header anywhere
    jobs.start(job, lambda j: app.ledger.import_ledger(j.source, "enterprise_issue", office, dry_run=True))
    jobs.wait(job.id, 60)
    assert job.state == "failed" and "找不到企业问题台账的表头行" in (job.error or "")

    broken = jobs.new("check", "office", "enterprise_issue")

    def crash(job: LedgerJob) -> None:
        raise RuntimeError("disk on fire")

    jobs.start(broken, crash)
    jobs.wait(broken.id, 60)
    assert broken.state == "failed" and broken.error == "处理台账时发生内部错误，已记录日志；请联系管理员"


def test_jobs_are_per_user_and_limited(app: App, office: Any, tmp_path: Path) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    first = jobs.new("check", "office", "enterprise_issue")
    with pytest.raises(JobsBusy, match="您有一项台账任务正在进行"):
        jobs.new("check", "office", "enterprise_issue")
    others = [jobs.new("check", f"user{i}", None) for i in range(MAX_RUNNING - 1)]
    with pytest.raises(JobsBusy, match="台账任务较多"):
        jobs.new("check", "late", None)
    with pytest.raises(NotFound):
        jobs.get(first.id, "user0")
    assert jobs.get(first.id, "office") is first
    for job in [first, *others]:
        jobs.discard(job)
        assert not job.directory.exists()
    assert jobs.new("check", "late", None).running


def test_finished_jobs_are_forgotten_with_their_files_after_a_day(app: App, office: Any, tmp_path: Path) -> None:
    jobs = LedgerJobs(app, tmp_path / "jobs")
    job = jobs.new("export", "office", None)
    jobs.start(job, lambda j: j.output.write_bytes(b"PK"))
    jobs.wait(job.id, 60)
    app.clock.advance(KEEP - timedelta(minutes=1))  # type: ignore[attr-defined]
    jobs.new("check", "someone", None)
    assert jobs.get(job.id, "office") is job and job.output.exists()
    app.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    jobs.new("check", "someone else", None)
    with pytest.raises(NotFound):
        jobs.get(job.id, "office")
    assert not job.directory.exists()


def render_job(job: LedgerJob) -> str:
    """The job fragment the status poll returns, rendered from one snapshot as the pages do."""
    seen = job.snapshot()
    template = make_templates().get_template("_ledger_job.html")
    return template.render(job=seen, report=seen.report, phase_label="读取并校验", elapsed=0, csrf="",
                           csrf_field="csrf", shown_problems=50, shown_rows=50)  # fmt: skip


def test_a_page_shows_one_moment_of_a_job_that_finishes_while_it_renders(
    app: App, office: Any, tmp_path: Path
) -> None:
    """A status poll that caught the job running must not render it half finished (the state
    ``done`` without its report), even though the worker finishes it meanwhile."""
    jobs = LedgerJobs(app, tmp_path / "jobs")
    job = jobs.new("check", "office", "enterprise_issue", source_name="台账.xlsx")
    job.source.write_bytes(ledger(tmp_path / "台账.xlsx", 3).read_bytes())
    release = threading.Event()

    def check(job: LedgerJob) -> Any:
        assert release.wait(30)
        return app.ledger.import_ledger(job.source, "enterprise_issue", office, dry_run=True, progress=job.progress)

    jobs.start(job, check)
    seen = job.snapshot()
    release.set()
    jobs.wait(job.id, 60)
    assert (seen.state, seen.report) == ("running", None)
    assert job.state == "done" and job.report is not None and job.report.valid_rows == 3
    earlier = render_job(seen)
    assert "hx-get" in earlier and "检查结果" not in earlier
    now = render_job(job)
    assert "hx-get" not in now and "检查结果" in now and "全部 3 行无误" in now
