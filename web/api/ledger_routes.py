"""The ledger (台账) over the API: import a workbook (``dry_run`` to see what would happen),
export the ledger, download the import template. The work is ``ledger.LedgerService``'s;
an import answers with its report — every problem with row, column and reason — and 422 when
problems kept it from storing anything. A unit's user exports what their unit may see. Large
workbooks go through jobs instead (``Prefer: respond-async``, ``web.api.ledger_job_routes``)."""

import json
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from caseflow.app import App
from cases.evidence import file_sha256
from ledger import LedgerRejected
from cases.service import ALL_SEEING
from web.api.deps import ActorDep, AppDep, Idempotency, IdempotencyKeyHeader
from web.api.ledger_job_routes import PreferHeader, accepted, start_export, start_import, wants_async
from web.api.schemas import ERRORS
from web.ledger_files import XLSX, attachment, safe_name, save_upload
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput
from workflow.org import Actor

router = APIRouter(prefix="/api/ledger", tags=["ledger"], responses=ERRORS)
TypeQuery = Annotated[
    str, Query(max_length=64, description="案件类型代码（GET /api/workflows 列出全部类型），如 enterprise_issue")
]


def _workspace(app: App) -> Path:
    """A private directory for one request's files (removed when it is answered)."""
    directory = Path(app.settings.data_dir) / "ledger-jobs" / f"api-{secrets.token_urlsafe(9)}"
    directory.mkdir(parents=True)
    return directory


def _check_type(app: App, case_type: str | None) -> None:
    if case_type is not None and case_type not in app.definitions.specs:
        allowed = "、".join(f"{k}（{s.name}）" for k, s in app.definitions.specs.items())
        raise InvalidInput("type", f"未知案件类型“{case_type}”；可选：{allowed}")


@router.post(
    "/import",
    summary="导入台账（.xlsx；dry_run 只检查；Prefer: respond-async 在后台进行）",
    responses={202: {"description": "已在后台开始（Prefer: respond-async）：任务及其地址（Location）"}},
)
async def import_ledger(
    app: AppDep,
    actor: ActorDep,
    request: Request,
    file: Annotated[UploadFile, File(description="台账工作簿（.xlsx）")],
    type: TypeQuery,
    dry_run: bool = False,
    valid_only: bool = False,
    key: IdempotencyKeyHeader = None,
    prefer: PreferHeader = None,
) -> Response:
    """Every row is checked; nothing is stored unless every row is valid (or ``valid_only``).
    200 with the report for a dry run, 201 when cases were stored, 422 with the report in
    ``details`` when problems kept everything out. Retried with the same ``Idempotency-Key``
    (same file, same options), a stored import answers again without importing twice.
    With ``Prefer: respond-async``: 202 and the job (``GET /api/ledger/jobs/{id}``)."""
    _check_type(app, type)
    name = safe_name(file.filename or "")
    directory = _workspace(app)
    try:
        source = directory / name
        await save_upload(file, source, app.settings.max_ledger_bytes)
        digest = await run_in_threadpool(file_sha256, source)
        payload = {"type": type, "dry_run": dry_run, "valid_only": valid_only, "file": [name, digest]}
        idempotency = Idempotency(app, actor, key, request)
        if wants_async(prefer):
            payload["async"] = True
            response = await run_in_threadpool(
                idempotency.run,
                lambda: start_import(request, app, actor, source, name, type, dry_run=dry_run, valid_only=valid_only),
                202,
                payload=payload,
            )
            response.headers.update(accepted(json.loads(response.body)))
            return response
        return await run_in_threadpool(
            idempotency.run,
            lambda: _import(app, actor, source, type, dry_run=dry_run, valid_only=valid_only),
            payload=payload,
            status_of=lambda body: 201 if body["stored"] else 200,
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _import(app: App, actor: Actor, source: Path, case_type: str, *, dry_run: bool, valid_only: bool) -> dict[str, Any]:
    """The import's report as the API answers it; ``LedgerRejected`` when nothing was stored."""
    report = app.ledger.import_ledger(source, case_type, actor, dry_run=dry_run, valid_only=valid_only)
    body = report.to_dict()
    body.pop("annotated", None)  # a server path; the problems are all in the body
    if report.problems and not report.stored:
        what = "试运行，未导入" if dry_run else "未导入任何数据"
        raise LedgerRejected(
            f"台账有 {len(report.problems)} 处问题（涉及 {len(report.invalid_rows)} 行），{what}", body
        )
    if not dry_run and not report.stored:
        raise LedgerRejected("台账中没有可导入的数据行，未导入任何数据", body)
    return body


@router.get(
    "/export",
    summary="导出台账（.xlsx；Prefer: respond-async 在后台进行）",
    response_class=Response,
    responses={202: {"description": "已在后台开始（Prefer: respond-async）：任务及其地址（Location）"}},
)
def export_ledger(
    request: Request,
    app: AppDep,
    actor: ActorDep,
    type: Annotated[str | None, Query(max_length=64, description="案件类型；默认全部")] = None,
    state: Annotated[str | None, Query(max_length=64, description="状态（代码或中文名）")] = None,
    department: Annotated[str | None, Query(max_length=64, description="单位：主办、属地或待办事项的承办单位")] = None,
    prefer: PreferHeader = None,
) -> Response:
    _check_type(app, type)
    if state is not None:
        app.ledger.selection(type, state)  # refused before any job starts
    if department is not None:
        department = app.org.resolve(department, "department")
    visible_to = _visible_to(actor, department)
    day = app.clock.now().astimezone(SHANGHAI).strftime("%Y%m%d")
    if wants_async(prefer):
        view = start_export(request, app, actor, case_type=type, state=state, department=department,
                            visible_to=visible_to, download_name=f"台账-{day}.xlsx")  # fmt: skip
        return JSONResponse(view, status_code=202, headers=accepted(view))
    directory = _workspace(app)
    try:
        target = directory / "ledger.xlsx"
        app.ledger.export_ledger(target, case_type=type, state=state, department=department, visible_to=visible_to)
        data = target.read_bytes()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return _xlsx(data, f"台账-{day}.xlsx", f"ledger-{day}.xlsx")


def _visible_to(actor: Actor, department: str | None) -> tuple[str, str] | None:
    if actor.roles & ALL_SEEING:
        return None
    if department is not None and department != actor.department:
        raise InvalidInput("department", "只能导出本单位的台账")
    return actor.department, actor.username


@router.get("/template/{case_type}", summary="下载台账导入模板（.xlsx）", response_class=Response)
def template(case_type: str, app: AppDep, actor: ActorDep) -> Response:
    _check_type(app, case_type)
    spec = app.definitions.current(case_type).spec
    directory = _workspace(app)
    try:
        target = directory / "template.xlsx"
        app.ledger.export_template(case_type, target)
        data = target.read_bytes()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return _xlsx(data, f"{spec.name}台账模板.xlsx", f"template-{case_type}.xlsx")


def _xlsx(data: bytes, name: str, fallback: str) -> Response:
    return Response(data, media_type=XLSX, headers=attachment(name, fallback))
