"""Puts the pages into the web app: ``install(web)`` mounts the static files (the hand-written CSS
and the vendored htmx), the page routers, sign-in and sign-out, and error pages for everything
outside ``/api`` (the API keeps its JSON errors)."""

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from notifications.documents import percent
from web.ui import labels
from web.ui.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    Page,
    SignInRequired,
    check_csrf,
    clear_session,
    current_page,
    get_app,
    login_token,
    optional_page,
    safe_next,
    set_login_cookie,
    set_session,
)
from workflow.errors import CaseflowError, InvalidInput, NotAuthenticated, TooManyAttempts

HERE = Path(__file__).parent
PageDep = Annotated[Page, Depends(current_page)]
router = APIRouter(include_in_schema=False)


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=labels.when, level_label=labels.level_label, level_css=lambda v: labels.LEVEL_CSS.get(v, "normal"),
        percent=percent,
    )
    env.globals.update(CHANNELS=labels.CHANNELS, STATUSES=labels.STATUSES, quote=quote)
    return Jinja2Templates(env=env)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def nav(page: Page) -> list[tuple[str, str, str]]:
    """(href, label, key) of the menu, only what this user may open."""
    items = [("/todo", "我的待办", "todo"), ("/cases", "案件查询", "cases")]
    if page.can_register():
        items.append(("/register", "登记案件", "register"))
    items.append(("/ledger", "台账", "ledger"))
    if page.may("dashboard"):
        items.append(("/dashboard", "挂图作战", "dashboard"))
    if page.may("audit"):
        items.append(("/audit", "办理记录", "audit"))
    if page.may("bulletin"):
        items.append(("/bulletin", "工作通报", "bulletin"))
    items.append(("/score", "考核", "score"))
    items.append(("/inbox", "通知", "inbox"))
    if page.may("admin"):
        items.append(("/admin/users", "系统管理", "admin"))
    return items


def render(page: Page | None, request: Request, name: str, context: dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    templates: Jinja2Templates = request.app.state.ui_templates
    app = get_app(request)
    base: dict[str, Any] = {
        "page": page,
        "org": app.org,
        "csrf_field": CSRF_FIELD,
        "active": "",
        "title": "",
        "nav": [],
        "unread": 0,
    }
    if page is not None:
        base.update(nav=nav(page), unread=page.board.unread_count(page.actor.username), csrf=page.csrf)
    else:
        base["csrf"] = ""
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status, headers=headers)


def redirect(request: Request, url: str) -> Response:
    """A redirect after a POST (303), or htmx's own when the request came from htmx."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- sign-in ----------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if optional_page(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next, None, 200)


def _login_page(request: Request, target: str, message: str | None, status: int, username: str = "") -> Response:
    token = login_token(request)
    context = {
        "title": "登录",
        "next": safe_next(target),
        "message": message,
        "username": username,
        "login_csrf": token,
    }
    response = render(None, request, "login.html", context, status)
    set_login_cookie(response, request, token)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    async with request.form() as form:
        return _login(request, form)


def _login(request: Request, form: Any) -> Response:
    target = safe_next(str(form.get("next") or "/"))
    expected, given = request.cookies.get(LOGIN_COOKIE, ""), str(form.get(CSRF_FIELD) or "")
    if not expected or given != expected:
        return _login_page(request, target, "登录表单已过期，请重新输入", 403)
    username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    app = get_app(request)
    try:
        token = app.auth.sign_in(username, password, request.client.host if request.client else "unknown", "web")
    except TooManyAttempts as exc:
        return _login_page(request, target, exc.message, 429, username)
    except (NotAuthenticated, InvalidInput) as exc:
        return _login_page(
            request, target, exc.message if isinstance(exc, NotAuthenticated) else "请填写用户名和密码", 401, username
        )
    response = RedirectResponse(target, status_code=303)
    seconds = int((token.expires_at - app.clock.now()).total_seconds())
    set_session(response, request, token.value, max(seconds, 60))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
    page.app.auth.revoke(page.token)
    response = RedirectResponse("/login", status_code=303)
    clear_session(response, request)
    return response


@router.get("/")
def home(page: PageDep) -> Response:
    works = page.actor.roles & {"handler", "dispatcher", "collector", "unit_head"}
    return RedirectResponse("/todo" if works or not page.may("dashboard") else "/dashboard", status_code=303)


# --- errors -----------------------------------------------------------------------------------


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    page = optional_page(request)
    if is_htmx(request):
        return render(page, request, "_error_fragment.html", {"title": title, "message": message}, status)
    return render(page, request, "error.html", {"title": title, "message": message, "status": status}, status)


def _sign_in_again(request: Request, reason: str) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(target if request.method == 'GET' else '/')}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    response = RedirectResponse(url, status_code=303)
    clear_session(response, request)
    return response


TITLES = {403: "无权操作", 404: "未找到", 409: "无法执行", 413: "文件过大", 422: "输入有误", 429: "操作过于频繁"}


def install_errors(web: FastAPI) -> None:
    api_caseflow = web.exception_handlers.get(CaseflowError)
    api_http = web.exception_handlers.get(StarletteHTTPException)
    api_validation = web.exception_handlers.get(RequestValidationError)

    def for_api(request: Request) -> bool:
        return request.url.path.startswith("/api")

    async def caseflow_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CaseflowError)
        if for_api(request) and api_caseflow is not None:
            return await api_caseflow(request, exc)  # type: ignore[no-any-return,misc]
        if isinstance(exc, NotAuthenticated):
            return _sign_in_again(request, exc.message)
        status = exc.http_status if exc.http_status != 500 else 500
        return _error_page(request, status, TITLES.get(status, "出错了"), exc.message)

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        return _sign_in_again(request, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if for_api(request) and api_http is not None:
            return await api_http(request, exc)  # type: ignore[no-any-return,misc]
        message = {404: "页面不存在", 405: "不支持此请求方法"}.get(exc.status_code, str(exc.detail))
        return _error_page(request, exc.status_code, TITLES.get(exc.status_code, "出错了"), message)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if for_api(request) and api_validation is not None:
            return await api_validation(request, exc)  # type: ignore[no-any-return,misc]
        return _error_page(request, 422, "输入有误", "链接中的参数无效，请从页面上重新进入")

    web.add_exception_handler(CaseflowError, caseflow_error)
    web.add_exception_handler(SignInRequired, sign_in_required)
    web.add_exception_handler(StarletteHTTPException, http_error)
    web.add_exception_handler(RequestValidationError, validation_error)


def install(web: FastAPI) -> None:
    """Add the pages to ``web`` (called by ``web.server.create_web_app``)."""
    from web.ui import admin_pages, cases_pages, ledger_pages, reports_pages

    web.state.ui_templates = make_templates()
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    for module in (cases_pages, ledger_pages, reports_pages, admin_pages):
        web.include_router(module.router)
    web.include_router(router)
    install_errors(web)
