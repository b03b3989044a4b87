"""The web application: the API under ``/api`` (OpenAPI at ``/api/openapi.json``, interactive
page at ``/api/docs``) and the pages at ``/``; one ``App`` (services) per process."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from caseflow.app import App
from web.api import admin_routes, cases_routes, errors, ledger_job_routes, ledger_routes, report_routes

UPLOAD_SLACK = 1024 * 1024
"""Room for multipart framing and form fields on top of the evidence size limit."""


class BodyLimit:
    """Refuses a request whose declared body is larger than the limit, before reading it (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                body = errors.error_body(
                    "payload_too_large",
                    f"上传内容超过大小上限（{self.limit // (1024 * 1024)} MB）",
                    {"limit_bytes": self.limit},
                )
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_web_app(app: App, *, on_startup: list[object] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs = getattr(web.state, "ledger_jobs", None)
        if jobs is not None:  # ledger imports still running roll back
            jobs.shutdown()

    web = FastAPI(
        title="caseflow 闭环督办",
        version="0.1.0",
        description="企业问题收集→交办→督办→销号，散乱污整治；INTERFACES.md 的 HTTP API。",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    web.state.caseflow = app
    errors.install(web)
    web.include_router(cases_routes.router)
    web.include_router(admin_routes.router)
    web.include_router(ledger_routes.router)
    web.include_router(ledger_job_routes.router)
    web.include_router(report_routes.router)
    try:
        from web.ui import routes as ui_routes
    except ImportError:  # the pages are optional for an API-only deployment
        ui_routes = None  # type: ignore[assignment]
    if ui_routes is not None:
        ui_routes.install(web)

    @web.get("/api/health", tags=["ops"], summary="健康检查")
    def health(request: Request) -> dict[str, str]:
        return {"status": "ok"}

    web.add_middleware(BodyLimit, limit=app.evidence.max_bytes * 10 + UPLOAD_SLACK)
    return web
