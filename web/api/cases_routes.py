"""Case endpoints: register, list, to-do, detail, actions, items with evidence, history, files."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile

from cases.responsibility import MAX_TODO
from cases.service import Upload
from web.api.deps import ActorDep, AppDep, Idempotency, IdempotencyKeyHeader
from web.api.schemas import (
    ERRORS,
    ActionRequest,
    CaseCreate,
    CasePage,
    CaseView,
    ErrorBody,
    Event,
    ItemDecisionRequest,
    TodoList,
)
from workflow.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/api", tags=["cases"], responses=ERRORS)
NumberPath = Annotated[str, Path(max_length=32, description="案件编号（如 QY-2026-00001）或 ID")]
TriggerPath = Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+$")]
MAX_FILES = 10
TODO_PAGE = 50
"""Obligations per page of ``GET /api/todo`` unless ``limit`` says otherwise (as ``/api/todo/cases``)."""


@router.post("/cases", status_code=201, response_model=CaseView, summary="登记案件")
def create_case(
    body: CaseCreate, app: AppDep, actor: ActorDep, request: Request, key: IdempotencyKeyHeader = None
) -> Any:
    return Idempotency(app, actor, key, request).run(
        lambda: app.cases.create(body.type, actor, dict(body.fields), comment=body.comment),
        status_code=201,
        payload=body.model_dump(mode="json"),
    )


@router.get("/cases", response_model=CasePage, summary="案件列表（仅限有权查看的）")
def list_cases(
    app: AppDep,
    actor: ActorDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64, description="单位代码或名称")] = None,
    town: Annotated[str | None, Query(max_length=64)] = None,
    supervision: Annotated[
        str | None, Query(max_length=16, description="normal/warned/overdue/supervised/listed")
    ] = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=100, description="编号、标题或统一社会信用代码")] = None,
    sort: Annotated[str, Query(pattern="^(newest|oldest|due)$")] = "newest",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    return app.cases.list_cases(
        actor=actor, case_type=type, state=state, department=department, town=town, supervision=supervision,
        overdue=overdue, query=q, sort=sort, page=page, page_size=page_size,
    )  # fmt: skip


@router.get(
    "/todo", response_model=TodoList, summary="我的待办：本单位此刻可以办理的责任事项（最紧急的在前），及等待其他单位的事项"
)
def todo(
    app: AppDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=MAX_TODO, description="每页条数（两个列表各自）")] = TODO_PAGE,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="从第几条起（0 为最紧急的一条）")] = 0,
) -> Any:
    return {**app.cases.todo(actor, limit=limit, offset=offset), "limit": limit, "offset": offset}


@router.get("/todo/cases", response_model=CasePage, summary="等待本单位办理的案件（按期限排序，分页）")
def todo_cases(
    app: AppDep,
    actor: ActorDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    return app.cases.list_cases(actor=actor, waiting_for=actor.department, sort="due", page=page, page_size=page_size)


@router.get("/cases/{number}", response_model=CaseView, summary="案件详情（含当前用户可执行的操作）")
def show_case(number: NumberPath, app: AppDep, actor: ActorDep) -> Any:
    return app.cases.show(number, actor)


def _json_or_multipart(model: Any, first: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    """An action's request body in OpenAPI: ``model`` as JSON, or the same as multipart form
    fields (``first``, then the comment and version) with the ``evidence`` files."""
    multipart = {
        **first,
        "comment": {"type": "string", "maxLength": 2000},
        "expected_version": {"type": "integer", "minimum": 1},
        "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}},
    }
    content = {
        "application/json": {"schema": model.model_json_schema()},
        "multipart/form-data": {"schema": {"type": "object", "properties": multipart}},
    }
    return {"requestBody": {"required": True, "content": content} if required else {"content": content}}


_ACTION_BODY = _json_or_multipart(
    ActionRequest, {"fields": {"type": "string", "description": "字段，JSON 对象"}}, required=True
)


@router.post(
    "/cases/{number}/actions/{trigger}",
    response_model=CaseView,
    summary="执行操作（JSON；需要证明材料的操作用 multipart 上传 evidence）",
    openapi_extra=_ACTION_BODY,
)
async def act(
    number: NumberPath, trigger: TriggerPath, app: AppDep, actor: ActorDep, request: Request,
    key: IdempotencyKeyHeader = None,
) -> Any:  # fmt: skip
    uploads: list[Upload] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=MAX_FILES, max_fields=20) as form:
            files = [f for f in form.getlist("evidence") if isinstance(f, StarletteUploadFile)]
            if len(files) != len(form.getlist("evidence")):
                raise InvalidInput("evidence", "evidence 应为上传的文件")
            uploads = await read_uploads(files, app.evidence.max_bytes)  # type: ignore[arg-type]
            raw = {k: v for k, v in form.items() if k != "evidence" and isinstance(v, str)}
        try:
            body = ActionRequest.model_validate(
                {"fields": parse_fields_json(raw.get("fields")), "comment": raw.get("comment") or None,
                 "expected_version": raw.get("expected_version") or None}  # fmt: skip
            )
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
    else:
        try:
            body = ActionRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return await run_in_threadpool(
        Idempotency(app, actor, key, request).run,
        lambda: app.cases.advance(
            number, trigger, actor, dict(body.fields), comment=body.comment, expected_version=body.expected_version,
            evidence=uploads,
        ),
        payload={**body.model_dump(mode="json"), "evidence": described(uploads)},
    )


@router.post(
    "/cases/{number}/items/{item}",
    response_model=CaseView,
    summary="办理事项（两断三清、整改、验收签字），可上传证明材料",
)
async def complete_item(
    number: NumberPath,
    item: TriggerPath,
    app: AppDep,
    actor: ActorDep,
    request: Request,
    evidence: Annotated[list[UploadFile] | None, Form(description="证明材料（照片、PDF、Word/Excel）")] = None,
    fields: Annotated[
        str | None, Form(max_length=20000, description='字段，JSON 对象，如 {"meter_reading": "123.4"}')
    ] = None,
    comment: Annotated[str | None, Form(max_length=2000)] = None,
    expected_version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    key: IdempotencyKeyHeader = None,
) -> Any:
    uploads = await read_uploads(evidence or [], app.evidence.max_bytes)
    values = parse_fields_json(fields)
    return await run_in_threadpool(
        Idempotency(app, actor, key, request).run,
        lambda: app.cases.complete_item(
            number, item, actor, values, comment=comment, expected_version=expected_version, evidence=uploads
        ),
        payload={"fields": values, "comment": comment, "expected_version": expected_version,
                 "evidence": described(uploads)},  # fmt: skip
    )


ITEM_DECISION_PATHS = {
    "waive": "waive", "approve-waiver": "approve_waiver", "reject-waiver": "reject_waiver",
    "confirm": "confirm", "reject": "reject",
}  # fmt: skip
"""The last part of ``/api/cases/{number}/items/{item}/…`` → the decision."""
_DECISION_BODY = _json_or_multipart(ItemDecisionRequest, {"reason": {"type": "string", "maxLength": 2000}})


@router.post(
    "/cases/{number}/items/{item}/{decision}",
    response_model=CaseView,
    summary="事项决定：申请不适用（waive，可附证明材料）、审批不适用申请（approve-waiver / reject-waiver）、"
    "确认或退回上报办结的事项（confirm / reject）",
    openapi_extra=_DECISION_BODY,
)
async def decide_item(
    number: NumberPath,
    item: TriggerPath,
    decision: Annotated[str, Path(pattern=r"^(waive|approve-waiver|reject-waiver|confirm|reject)$")],
    app: AppDep,
    actor: ActorDep,
    request: Request,
    key: IdempotencyKeyHeader = None,
) -> Any:
    uploads: list[Upload] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=MAX_FILES, max_fields=20) as form:
            files = [f for f in form.getlist("evidence") if isinstance(f, StarletteUploadFile)]
            if len(files) != len(form.getlist("evidence")):
                raise InvalidInput("evidence", "evidence 应为上传的文件")
            uploads = await read_uploads(files, app.evidence.max_bytes)  # type: ignore[arg-type]
            raw = {k: v or None for k, v in form.items() if k != "evidence" and isinstance(v, str)}
        try:
            body = ItemDecisionRequest.model_validate(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
    else:
        try:
            body = ItemDecisionRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return await run_in_threadpool(
        Idempotency(app, actor, key, request).run,
        lambda: app.cases.decide_item(
            number, item, ITEM_DECISION_PATHS[decision], actor, body.reason, comment=body.comment,
            expected_version=body.expected_version, evidence=uploads,
        ),
        payload={**body.model_dump(mode="json"), "evidence": described(uploads)},
    )


@router.get("/cases/{number}/history", response_model=list[Event], summary="办理记录（哈希链）")
def history(number: NumberPath, app: AppDep, actor: ActorDep) -> Any:
    return app.cases.history(number, actor)


@router.get(
    "/evidence/{sha256}",
    summary="下载证明材料（内容与 SHA-256 不符时拒绝提供）",
    response_class=Response,
    responses={500: {"model": ErrorBody, "description": "文件已损坏或被篡改（evidence_corrupted）"}},
)
def evidence(sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], app: AppDep, actor: ActorDep) -> Response:
    meta, data = app.cases.evidence_file(sha256, actor)
    name = meta["original_name"]
    disposition = f"inline; filename*=UTF-8''{_quote(name)}"
    return Response(
        data,
        media_type=meta["media_type"],
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def described(uploads: list[Upload]) -> list[list[str]]:
    """Name and SHA-256 of each upload: what an idempotency fingerprint compares."""
    return [[u.name, hashlib.sha256(u.data).hexdigest()] for u in uploads]


async def read_uploads(files: list[UploadFile], limit: int) -> list[Upload]:
    if len(files) > MAX_FILES:
        raise InvalidInput("evidence", f"一次最多上传{MAX_FILES}个文件")
    uploads = []
    for upload in files:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(limit)
        uploads.append(Upload(upload.filename or "file", data))
    return uploads


def parse_fields_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("fields", 'fields 应为 JSON 对象，如 {"meter_reading": "123.4"}') from None
    if not isinstance(value, dict):
        raise InvalidInput("fields", "fields 应为 JSON 对象")
    return value
