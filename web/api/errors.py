"""One JSON error shape for every refusal: ``{"error", "message", "details"}``.

``CaseflowError`` subclasses carry their HTTP status; FastAPI's own validation errors become
422 ``invalid_input`` naming each bad field; anything unexpected is a 500 with no internals.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.errors import CaseflowError, DatabaseBusy, TooManyAttempts

log = logging.getLogger("caseflow.api")
_HTTP_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed",
               409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input"}  # fmt: skip
_HTTP_MESSAGES = {404: "请求的地址不存在", 405: "不支持此请求方法", 413: "上传内容过大", 415: "不支持的内容类型"}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def _field_name(loc: tuple[Any, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "body" and isinstance(loc[1], int):
        return "body"  # a position in a body that could not be parsed
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


def install(api: FastAPI) -> None:
    @api.exception_handler(CaseflowError)
    async def caseflow_error(_: Request, exc: CaseflowError) -> JSONResponse:
        retry_after = exc.retry_after if isinstance(exc, TooManyAttempts | DatabaseBusy) else None
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        if exc.http_status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse(
            exc.to_dict(), status_code=exc.http_status if exc.http_status != 500 else 500, headers=headers
        )

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for error in exc.errors():
            fields.setdefault(_field_name(tuple(error.get("loc", ()))), _chinese(error))
        text = "；".join(f"{k}：{v}" for k, v in fields.items())
        return JSONResponse(error_body("invalid_input", f"输入有误：{text}", {"fields": fields}), status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body FastAPI could not even decode
            body = error_body("invalid_input", "输入有误：请求体无法解析（应为 UTF-8 编码的 JSON）", {"fields": {"body": "请求体无法解析（应为 UTF-8 编码的 JSON）"}})
            return JSONResponse(body, status_code=422)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @api.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected failure")
        return JSONResponse(error_body("internal_error", "服务器内部错误，请稍后再试"), status_code=500)


def _chinese(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "缺少此字段"
    if kind == "json_invalid":
        return "请求体不是有效的 JSON"
    if kind in ("value_error", "is_instance_of"):
        return "值无效（应为上传的文件或规定格式的值）"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"类型不对（{error.get('msg', '')}）"
    if kind == "extra_forbidden":
        return "不接受此字段"
    return f"无效（{error.get('msg', '')}）"
