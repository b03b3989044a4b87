"""The ledger (台账) pages: download an import template, upload a workbook and see what the
import would do (every problem with its row, column and reason, an annotated copy, the cases it
would create) before confirming it, and export the current ledger.

Checks, imports and exports run as ``LedgerJob``s in worker threads; the job page polls its
progress with htmx and offers a cancel button. Users who may register a type may import it;
everyone may export, a unit's user the cases their unit may see (as the case list shows them).
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from starlette.datastructures import FormData, UploadFile

from cases.evidence import file_sha256
from cases.service import ALL_SEEING
from web.ledger_files import XLSX, attachment, safe_name, save_upload
from web.ledger_jobs import LedgerJob, export_work, import_work, jobs_of
from web.ui.routes import is_htmx, redirect, render
from web.ui.session import Page, check_csrf, current_page
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput, PayloadTooLarge

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]
JobId = Annotated[str, PathParam(min_length=8, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
TypePath = Annotated[str, PathParam(max_length=64, pattern=r"^[a-z_]+$")]
NumberPath = Annotated[str, PathParam(max_length=32)]

SHOWN_PROBLEMS = 500
SHOWN_ROWS = 200
KIND_LABELS = {"check": "检查台账", "import": "导入台账", "export": "导出台账"}
STATE_LABELS = {"running": "进行中", "done": "已完成", "failed": "失败", "cancelled": "已取消"}
PHASE_LABELS = {"read": "读取并校验", "write": "写入数据库", "export": "导出"}


def importable(page: Page) -> list[Any]:
    """The specs whose ledgers this user may import: the types they may register (each row is
    checked again as a registration, e.g. a town's handler imports the sites of that town)."""
    return [page.app.definitions.current(t).spec for t in page.can_register()]


def sees_all(page: Page) -> bool:
    return bool(page.actor.roles & ALL_SEEING)


# --- the ledger page ----------------------------------------------------------------------------


def _context(page: Page, request: Request, **extra: Any) -> dict[str, Any]:
    from web.ui.labels import department_groups

    specs = [page.app.definitions.current(t).spec for t in page.app.definitions.types]
    context = {
        "title": "台账导入导出", "active": "ledger", "specs": specs, "importable": importable(page),
        "sees_all": sees_all(page), "groups": department_groups(page.app.org), "jobs": jobs_of(request).of(page.actor.username),
        "max_mb": page.app.settings.max_ledger_bytes // (1024 * 1024), "values": {}, "errors": {}, "message": None,
        "kind_labels": KIND_LABELS, "state_labels": STATE_LABELS,
    }  # fmt: skip
    context.update(extra)
    return context


@router.get("/ledger")
def ledger_page(request: Request, page: PageDep) -> Response:
    return render(page, request, "ledger.html", _context(page, request))


@router.get("/ledger/template/{case_type}.xlsx")
def template_download(case_type: TypePath, request: Request, page: PageDep) -> Response:
    spec = _spec(page, case_type)
    data = _written(request, lambda target: page.app.ledger.export_template(spec.type, target))
    return Response(
        data, media_type=XLSX, headers=attachment(f"{spec.name}台账模板.xlsx", f"template-{spec.type}.xlsx")
    )


@router.get("/cases/{number}/history.xlsx")
def history_download(number: NumberPath, request: Request, page: PageDep) -> Response:
    """One case's whole history as a workbook (``caseflow export history``), for who may see it."""
    view = page.app.cases.show(number, page.actor)  # NotFound for a case this user may not see
    data = _written(request, lambda target: page.app.ledger.export_history(view["number"], target))
    name = f"办理记录-{view['number']}.xlsx"
    return Response(data, media_type=XLSX, headers=attachment(name, f"history-{view['number']}.xlsx"))


def _written(request: Request, write: Callable[[Path], Any]) -> bytes:
    """The bytes of a workbook ``write`` puts in a private temporary file."""
    jobs = jobs_of(request)
    jobs.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jobs.root, prefix="download-") as directory:
        target = Path(directory) / "file.xlsx"
        write(target)
        return target.read_bytes()


def _spec(page: Page, case_type: str) -> Any:
    if case_type not in page.app.definitions.specs:
        allowed = "、".join(f"{k}（{s.name}）" for k, s in page.app.definitions.specs.items())
        raise InvalidInput("type", f"未知案件类型“{case_type}”；可选：{allowed}")
    return page.app.definitions.current(case_type).spec


# --- upload and check ---------------------------------------------------------------------------


@router.post("/ledger/check")
async def upload(request: Request, page: PageDep) -> Response:
    async with request.form(max_files=2, max_fields=10) as form:
        check_csrf(page, form)
        values = {"type": str(form.get("type") or "")}
        try:
            job = await _start_check(request, page, form)
        except (InvalidInput, PayloadTooLarge) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"file": exc.message}
            message = "未能开始检查：" + "；".join(errors.values())
            context = _context(page, request, values=values, errors=errors, message=message)
            return render(page, request, "ledger.html", context, 422 if isinstance(exc, InvalidInput) else 413)
    return redirect(request, f"/ledger/jobs/{job.id}")


async def _start_check(request: Request, page: Page, form: FormData) -> LedgerJob:
    case_type = str(form.get("type") or "")
    allowed = {s.type: s for s in importable(page)}
    if case_type not in allowed:
        names = "、".join(s.name for s in allowed.values()) or "无（您的角色不能登记案件）"
        raise InvalidInput("type", f"请选择台账类型；您可以导入：{names}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("file", "请选择要导入的台账文件（.xlsx）")
    name = safe_name(upload.filename)
    jobs = jobs_of(request)
    job = jobs.new("check", page.actor.username, case_type, source_name=name)
    try:
        await save_upload(upload, job.source, page.app.settings.max_ledger_bytes)
    except BaseException:
        jobs.discard(job)
        raise
    jobs.start(job, import_work(page.app, case_type, page.actor, dry_run=True, valid_only=False))
    return job


# --- confirm --------------------------------------------------------------------------------------


@router.post("/ledger/jobs/{job_id}/import")
async def confirm(job_id: JobId, request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
        valid_only = form.get("valid_only") == "1"
        expected = str(form.get("sha256") or "")
    jobs = jobs_of(request)
    checked = jobs.get(job_id, page.actor.username).snapshot()
    report = checked.report
    if checked.kind != "check" or checked.state != "done" or report is None:
        raise InvalidInput("job", "只能导入已检查完成的台账")
    if expected != report.sha256:
        raise InvalidInput("sha256", "确认的文件与检查的文件不一致，请重新上传")
    if report.problems and not valid_only:
        raise InvalidInput("valid_only", "台账还有问题：请修改后重新上传，或选择“只导入无误的行”")
    job = jobs.new("import", page.actor.username, checked.case_type, source_name=checked.source_name,
                   valid_only=valid_only, checked_from=checked.id)  # fmt: skip
    try:
        shutil.copyfile(checked.source, job.source)
        if file_sha256(job.source) != report.sha256:
            raise InvalidInput("sha256", "检查过的文件已不可用，请重新上传")
    except BaseException:
        jobs.discard(job)
        raise
    assert checked.case_type is not None
    jobs.start(job, import_work(page.app, checked.case_type, page.actor, dry_run=False, valid_only=valid_only))
    return redirect(request, f"/ledger/jobs/{job.id}")


# --- export ---------------------------------------------------------------------------------------


@router.post("/ledger/export")
async def export(request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
        values = {k: str(form.get(k) or "").strip() for k in ("type", "state", "department")}
    try:
        job = _start_export(request, page, values)
    except InvalidInput as exc:
        errors = {f"export_{key}": reason for key, reason in exc.errors.items()}
        values = {f"export_{key}": value for key, value in values.items()}
        context = _context(
            page, request, values=values, errors=errors, message="未能导出：" + "；".join(errors.values())
        )
        return render(page, request, "ledger.html", context, 422)
    return redirect(request, f"/ledger/jobs/{job.id}")


def _start_export(request: Request, page: Page, values: dict[str, str]) -> LedgerJob:
    app = page.app
    case_type = values["type"] or None
    if case_type is not None:
        _spec(page, case_type)
    state = values["state"] or None
    if state is not None:
        try:
            app.ledger.selection(case_type, state)
        except InvalidInput as exc:
            raise InvalidInput("state", exc.reason) from None
    department = values["department"] or None
    if department is not None:
        department = app.org.resolve(department, "department")
        if not sees_all(page) and department != page.actor.department:
            raise InvalidInput("department", "只能导出本单位的台账")
    visible_to = None if sees_all(page) else (page.actor.department, page.actor.username)
    jobs = jobs_of(request)
    job = jobs.new("export", page.actor.username, case_type, download_name=_export_name(page, case_type, department))
    jobs.start(job, export_work(app, case_type=case_type, state=state, department=department, visible_to=visible_to))
    return job


def _export_name(page: Page, case_type: str | None, department: str | None) -> str:
    what = page.app.definitions.current(case_type).spec.name if case_type else "全部"
    unit = (
        page.app.org.name(department)
        if department
        else ("" if sees_all(page) else page.app.org.name(page.actor.department))
    )
    day = page.app.clock.now().astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"台账-{what}{'-' + unit if unit else ''}-{day}.xlsx"


# --- the job page ---------------------------------------------------------------------------------


def _job_context(page: Page, job: LedgerJob) -> dict[str, Any]:
    """The job as one snapshot: the worker may finish it while the page renders."""
    job = job.snapshot()
    spec = page.app.definitions.current(job.case_type).spec if job.case_type else None
    elapsed = ((job.finished_at or page.app.clock.now()) - job.started_at).total_seconds()
    return {
        "title": KIND_LABELS[job.kind], "active": "ledger", "job": job, "spec": spec, "report": job.report,
        "kind_label": KIND_LABELS[job.kind], "state_label": STATE_LABELS[job.state],
        "phase_label": PHASE_LABELS.get(job.phase or "", "准备中"), "elapsed": max(0, round(elapsed)),
        "shown_problems": SHOWN_PROBLEMS, "shown_rows": SHOWN_ROWS,
    }  # fmt: skip


@router.get("/ledger/jobs/{job_id}")
def job_page(job_id: JobId, request: Request, page: PageDep) -> Response:
    job = jobs_of(request).get(job_id, page.actor.username)
    return render(page, request, "ledger_job.html", _job_context(page, job))


@router.get("/ledger/jobs/{job_id}/status")
def job_status(job_id: JobId, request: Request, page: PageDep) -> Response:
    job = jobs_of(request).get(job_id, page.actor.username)
    return render(page, request, "_ledger_job.html", _job_context(page, job))


@router.post("/ledger/jobs/{job_id}/cancel")
async def cancel(job_id: JobId, request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
    job = jobs_of(request).get(job_id, page.actor.username)
    job.cancel.set()
    if is_htmx(request):
        return render(page, request, "_ledger_job.html", _job_context(page, job))
    return redirect(request, f"/ledger/jobs/{job.id}")


@router.get("/ledger/jobs/{job_id}/problems.xlsx")
def problems_download(job_id: JobId, request: Request, page: PageDep) -> Response:
    job = jobs_of(request).get(job_id, page.actor.username)
    stem = Path(job.source_name or "台账.xlsx").stem
    return FileResponse(
        job.problems_file(), media_type=XLSX, headers=attachment(f"{stem}.errors.xlsx", "ledger.errors.xlsx")
    )


@router.get("/ledger/jobs/{job_id}/ledger.xlsx")
def export_download(job_id: JobId, request: Request, page: PageDep) -> Response:
    job = jobs_of(request).get(job_id, page.actor.username)
    return FileResponse(job.exported_file(), media_type=XLSX, headers=attachment(job.download_name or "台账.xlsx"))
