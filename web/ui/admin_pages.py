"""The inbox (everyone) and administration (admins): users and roles, the working-day calendar
(every user may read it; admins add holidays and adjusted working days, which recomputes the
open deadlines), and the preview of notification templates."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from notifications.events import EVENTS
from web.ui.routes import is_htmx, redirect, render
from web.ui.session import Page, check_csrf, current_page
from workflow.clock import SHANGHAI
from workflow.errors import CaseflowError, InvalidInput, PermissionDenied

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]


# --- inbox ------------------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(request: Request, page: PageDep, unread: bool = False) -> Response:
    messages = page.app.inbox.messages(user=page.actor.username, unread=unread, limit=200, channel="inapp")
    return render(page, request, "inbox.html", {"title": "通知", "active": "inbox", "messages": messages, "only_unread": unread})


@router.post("/inbox/{notification_id}/read")
async def mark_read(notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
    page.app.inbox.mark_read(notification_id, page.actor.username)
    if is_htmx(request):
        return render(page, request, "_read_mark.html", {})
    return redirect(request, "/inbox")


# --- users ------------------------------------------------------------------------------------------


def _users_context(page: Page, values: dict[str, Any], errors: dict[str, str], message: str | None) -> dict[str, Any]:
    from web.ui.labels import department_groups

    return {
        "title": "用户与角色", "active": "admin", "tab": "users", "users": page.app.users.all(),
        "roles": [(r, page.app.org.role_names.get(r, r)) for r in page.app.org.roles], "groups": department_groups(page.app.org),
        "values": values, "errors": errors, "message": message,
    }  # fmt: skip


@router.get("/admin/users")
def users(request: Request, page: PageDep) -> Response:
    page.require("admin")
    return render(page, request, "admin_users.html", _users_context(page, {}, {}, None))


@router.post("/admin/users")
async def add_user(request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        return _add_user(request, page, form)


@router.post("/admin/users/{username}/active")
async def set_user_active(
    username: Annotated[str, Path(min_length=1, max_length=64)], request: Request, page: PageDep
) -> Response:
    async with request.form() as form:
        check_csrf(page, form)
        wanted = str(form.get("active") or "")
    page.require("admin")
    if wanted not in ("0", "1"):
        raise InvalidInput("active", "active 只能是 1（启用）或 0（停用）")
    try:
        view = page.app.users.set_active(username, wanted == "1", by=page.actor)
    except InvalidInput as exc:
        context = _users_context(page, {}, {}, "未停用：" + "；".join(exc.errors.values()))
        return render(page, request, "admin_users.html", context, 422)
    done = "activated" if wanted == "1" else "deactivated"
    return redirect(request, f"/admin/users?{done}={view['username']}&revoked={view['revoked_tokens']}")


def _add_user(request: Request, page: Page, form: FormData) -> Response:
    check_csrf(page, form)
    page.require("admin")
    values = {k: str(form.get(k) or "").strip() for k in ("username", "display_name", "department", "email", "phone")}
    roles = [str(r) for r in form.getlist("roles")]
    password = str(form.get("password") or "")
    try:
        page.app.users.add(
            values["username"], values["department"], roles, password=password or None,
            display_name=values["display_name"] or None, email=values["email"] or None, phone=values["phone"] or None,
        )  # fmt: skip
    except InvalidInput as exc:
        context = _users_context(page, {**values, "roles": roles}, exc.errors, "未添加：请按提示修改")
        return render(page, request, "admin_users.html", context, 422)
    return redirect(request, "/admin/users?added=" + values["username"])


# --- calendar ---------------------------------------------------------------------------------------


def _calendar_context(page: Page, year: int, message: str | None = None, errors: dict[str, str] | None = None,
                      values: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    data = page.app.calendar.show(year)
    return {"title": f"工作日历 {year}", "active": "admin" if page.may("admin") else "", "tab": "calendar", "data": data,
            "year": year, "message": message, "errors": errors or {}, "values": values or {},
            "years": list(range(year - 2, year + 3)), "editable": page.may("admin")}  # fmt: skip


@router.get("/admin/calendar")
def calendar(request: Request, page: PageDep, year: int | None = None) -> Response:
    chosen = year or page.app.clock.now().astimezone(SHANGHAI).year
    try:
        context = _calendar_context(page, chosen)
    except InvalidInput as exc:
        raise InvalidInput("year", exc.reason) from None
    return render(page, request, "admin_calendar.html", context)


@router.post("/admin/calendar")
async def add_day(request: Request, page: PageDep) -> Response:
    async with request.form() as form:
        return _add_day(request, page, form)


def _add_day(request: Request, page: Page, form: FormData) -> Response:
    check_csrf(page, form)
    if not page.may("admin"):
        raise PermissionDenied("只有管理员（admin）可以维护工作日历")
    values = {k: str(form.get(k) or "").strip() for k in ("date", "kind", "name")}
    year = int(values["date"][:4]) if values["date"][:4].isdigit() else page.app.clock.now().astimezone(SHANGHAI).year
    try:
        change, recomputed = page.app.add_calendar_day(values["date"], values["kind"], values["name"], page.actor)
    except InvalidInput as exc:
        context = _calendar_context(page, year if 2000 <= year <= 2099 else 2026, "未登记：请按提示修改", exc.errors, values)
        return render(page, request, "admin_calendar.html", context, 422)
    message = f"已登记 {change.day.isoformat()}（{'节假日' if change.kind == 'holiday' else '调休上班日'}“{change.name}”）；重新计算了{len(recomputed)}件案件的期限"
    return render(page, request, "admin_calendar.html", _calendar_context(page, change.day.year, message))


# --- notification templates ------------------------------------------------------------------------------


@router.get("/admin/templates")
def templates(request: Request, page: PageDep, name: str = "assigned", case: str = "") -> Response:
    page.require("admin")
    if name not in EVENTS:
        raise InvalidInput("name", f"未知模板“{name}”")
    rendered, error = None, None
    try:
        rendered = _preview(page, name, case.strip() or None)
    except CaseflowError as exc:
        error = exc.message
    context = {"title": "通知模板预览", "active": "admin", "tab": "templates", "events": list(EVENTS.values()), "name": name,
               "case": case, "rendered": rendered, "error": error, "origin": page.app.templates.origin(name),
               "per_case": EVENTS[name].per_case}  # fmt: skip
    return render(page, request, "admin_templates.html", context)


def _preview(page: Page, name: str, case: str | None) -> Any:
    if case is None:
        return page.app.templates.preview(name)
    from notifications.preview import preview

    app = page.app
    return preview(app.db, app.definitions, app.notification_config, app.templates, app.clock, name, case)
