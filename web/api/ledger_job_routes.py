"""Ledger imports and exports as jobs over the API, for workbooks too large to wait for in one
request: ``Prefer: respond-async`` (RFC 7240) on ``POST /api/ledger/import`` or
``GET /api/ledger/export`` answers 202 at once with the job and its ``Location``; the client polls
``GET /api/ledger/jobs/{id}`` (state, progress, then the report or the download), may cancel with
``DELETE`` — an import then rolls its one transaction back — and downloads the annotated copy or
the exported ledger. The jobs are the pages' (``web.ledger_jobs``): one store per server process,
the same limits, each job visible to the user who started it only, forgotten after a day."""

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response

from caseflow.app import App
from cases.views import local
from web.api.deps import ActorDep, AppDep
from web.api.schemas import ERRORS
from web.ledger_files import XLSX, attachment
from web.ledger_jobs import LedgerJob, export_work, import_work, jobs_of
from workflow.org import Actor

router = APIRouter(prefix="/api/ledger", tags=["ledger"], responses=ERRORS)
JobId = Annotated[str, PathParam(min_length=8, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="任务编号")]
PreferHeader = Annotated[
    str | None,
    Header(
        alias="Prefer", max_length=200,
        description="respond-async：立即返回 202 和任务地址（Location），在后台导入或导出，可查询进度、取消",
    ),
]  # fmt: skip


def wants_async(prefer: str | None) -> bool:
    """Whether ``Prefer`` asks for ``respond-async`` (among other preferences, any case)."""
    if not prefer:
        return False
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


def job_view(job: LedgerJob) -> dict[str, Any]:
    """What a client sees of a job (a snapshot: state, progress and outcome belong together)."""
    job = job.snapshot()
    href = f"/api/ledger/jobs/{job.id}"
    view: dict[str, Any] = {
        "id": job.id, "href": href, "kind": job.kind, "type": job.case_type, "state": job.state,
        "phase": job.phase, "done": job.done, "total": job.total, "percent": job.percent,
        "file": job.source_name, "valid_only": job.valid_only,
        "started_at": local(job.started_at), "finished_at": local(job.finished_at) if job.finished_at else None,
        "error": job.error, "report": None, "result": None, "problems_href": None, "download_href": None,
    }  # fmt: skip
    if job.report is not None:
        report = job.report.to_dict()
        report.pop("annotated", None)  # a server path: the download is problems_href
        view["report"] = report
        if job.report.problems and job.annotated.is_file():
            view["problems_href"] = f"{href}/problems.xlsx"
    if job.result is not None:
        view["result"] = {k: v for k, v in job.result.items() if k != "file"}  # a server path
        if job.state == "done":
            view["download_href"] = f"{href}/ledger.xlsx"
    return view


def accepted(view: dict[str, Any]) -> dict[str, str]:
    """The headers of a 202 answer for a job."""
    return {"Location": view["href"], "Preference-Applied": "respond-async"}


def start_import(
    request: Request, app: App, actor: Actor, uploaded: Path, name: str, case_type: str, *, dry_run: bool,
    valid_only: bool,
) -> dict[str, Any]:  # fmt: skip
    """A check (``dry_run``) or import job of the uploaded workbook, started; its view. The
    job keeps its own copy of the file (``uploaded`` belongs to the request)."""
    jobs = jobs_of(request)
    job = jobs.new("check" if dry_run else "import", actor.username, case_type, source_name=name, valid_only=valid_only)
    try:
        shutil.copyfile(uploaded, job.source)
    except BaseException:
        jobs.discard(job)
        raise
    jobs.start(job, import_work(app, case_type, actor, dry_run=dry_run, valid_only=valid_only))
    return job_view(job)


def start_export(
    request: Request, app: App, actor: Actor, *, case_type: str | None, state: str | None, department: str | None,
    visible_to: tuple[str, str] | None, download_name: str,
) -> dict[str, Any]:  # fmt: skip
    """An export job, started; its view."""
    jobs = jobs_of(request)
    job = jobs.new("export", actor.username, case_type, download_name=download_name)
    jobs.start(job, export_work(app, case_type=case_type, state=state, department=department, visible_to=visible_to))
    return job_view(job)


@router.get("/jobs", summary="我的台账任务（最近一天）")
def jobs(request: Request, app: AppDep, actor: ActorDep) -> Any:
    return [job_view(job) for job in jobs_of(request).of(actor.username)]


@router.get("/jobs/{job_id}", summary="台账任务：状态、进度、结果")
def job(job_id: JobId, request: Request, app: AppDep, actor: ActorDep) -> Any:
    return job_view(jobs_of(request).get(job_id, actor.username))


@router.delete("/jobs/{job_id}", summary="取消台账任务（导入整体撤销，导出不留文件）")
def cancel(job_id: JobId, request: Request, app: AppDep, actor: ActorDep) -> JSONResponse:
    """202 while the job stops at its next batch; 200 with nothing changed if it had ended."""
    job = jobs_of(request).get(job_id, actor.username)
    if not job.running:
        return JSONResponse(job_view(job), status_code=200)
    job.cancel.set()
    return JSONResponse(job_view(job), status_code=202)


@router.get("/jobs/{job_id}/problems.xlsx", summary="下载问题标注文件", response_class=Response)
def problems(job_id: JobId, request: Request, app: AppDep, actor: ActorDep) -> Response:
    job = jobs_of(request).get(job_id, actor.username)
    stem = Path(job.source_name or "台账.xlsx").stem
    return FileResponse(job.problems_file(), media_type=XLSX, headers=attachment(f"{stem}.errors.xlsx", "ledger.errors.xlsx"))


@router.get("/jobs/{job_id}/ledger.xlsx", summary="下载导出的台账", response_class=Response)
def download(job_id: JobId, request: Request, app: AppDep, actor: ActorDep) -> Response:
    job = jobs_of(request).get(job_id, actor.username)
    return FileResponse(job.exported_file(), media_type=XLSX, headers=attachment(job.download_name or "台账.xlsx"))
