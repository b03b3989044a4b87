"""Who is signed in, and whether a form really comes from our own page.

The session cookie holds a ``web`` token of ``AuthService`` (HttpOnly, SameSite=Lax, Secure over
https); it is checked on every request like an API token. Every form carries a CSRF token in a
hidden field (htmx also sends it as the ``X-CSRF-Token`` header): an HMAC of the session token,
so it is per session, needs no storage and changes at each sign-in. The sign-in form, which has
no session yet, uses a double-submit cookie instead. A POST without the right token is refused
with 403 before anything is read or changed.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from caseflow.app import App
from cases.dashboard import Dashboard
from workflow.errors import NotAuthenticated, PermissionDenied
from workflow.org import Actor

SESSION_COOKIE = "caseflow_session"
LOGIN_COOKIE = "caseflow_signin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

ALL_ROLES = ("collector", "dispatcher", "handler", "unit_head", "supervisor", "convenor", "admin")
RIGHTS: dict[str, frozenset[str]] = {
    "dashboard": frozenset({"dispatcher", "supervisor", "convenor", "admin"}),
    "audit": frozenset({"dispatcher", "supervisor", "convenor", "admin"}),
    "verify": frozenset({"supervisor", "admin"}),
    "bulletin": frozenset({"dispatcher", "supervisor", "convenor", "admin", "handler", "unit_head"}),  # 各成员单位
    "score": frozenset(ALL_ROLES),  # all units for the office and readers; a member unit its own line
    "cases": frozenset(ALL_ROLES),
    "admin": frozenset({"admin"}),
}
"""Pages and the roles that may open them (DOMAIN.md §1). Case actions are the services' call."""
OPEN_TO_ALL = ("score", "cases")
"""Pages every signed-in user may open, whatever roles the organisation configures."""


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""

    def __init__(self, reason: str = "请先登录") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(PermissionDenied):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__("表单已失效或来源不明（CSRF 校验失败），请刷新页面后重试")


@dataclass
class Page:
    """The signed-in user of one request and what the templates need about them."""

    request: Request
    app: App
    actor: Actor
    token: str
    user: dict[str, Any]
    csrf: str
    board: Dashboard
    extra: dict[str, Any] = field(default_factory=dict)

    def may(self, right: str) -> bool:
        if right in OPEN_TO_ALL:  # a role departments.yaml adds reads cases like any other
            return True
        return bool(self.actor.roles & RIGHTS[right])

    def require(self, right: str) -> None:
        if not self.may(right):
            names = self.app.org.role_names
            roles = "、".join(names.get(r, r) for r in sorted(RIGHTS[right]))
            raise PermissionDenied(f"此页面仅限{roles}使用", {"right": right})

    def can_register(self) -> list[str]:
        """The case types this user may register."""
        return [t for t in self.app.definitions.types if may_register(self.app, self.actor, t)]


def may_register(app: App, actor: Actor, case_type: str) -> bool:
    spec = app.definitions.current(case_type).spec
    for rule in spec.create.actors:
        if not actor.has(rule.role) or rule.department and rule.department != actor.department:
            continue
        if rule.unit is None:
            return True
        if rule.unit == "town" and app.org.find(actor.department) and app.org.get(actor.department).kind in ("street", "town", "park"):
            return True
    return False


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"caseflow web form", hashlib.sha256).hexdigest()


def get_app(request: Request) -> App:
    return request.app.state.caseflow  # type: ignore[no-any-return]


def get_board(request: Request) -> Dashboard:
    board = getattr(request.app.state, "ui_board", None)
    if board is None:
        app = get_app(request)
        board = Dashboard(app.db, app.definitions, app.clock, app.calendar.calendar)
        request.app.state.ui_board = board
    return board  # type: ignore[no-any-return]


def current_page(request: Request) -> Page:
    """The signed-in user's page context (a FastAPI dependency); ``SignInRequired`` else."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise SignInRequired()
    app = get_app(request)
    try:
        actor = app.auth.resolve(token, "web")
    except NotAuthenticated as exc:
        raise SignInRequired(exc.message) from None
    user = next((u for u in app.users.all() if u["username"] == actor.username), {"display_name": actor.username})
    return Page(request, app, actor, token, user, csrf_for(token), get_board(request))


def optional_page(request: Request) -> Page | None:
    try:
        return current_page(request)
    except SignInRequired:
        return None


def check_csrf(page: Page, form: FormData | None) -> None:
    """Refuse (403) a POST whose token is not this session's."""
    given = page.request.headers.get(CSRF_HEADER) or (str(form.get(CSRF_FIELD) or "") if form is not None else "")
    if not given or not hmac.compare_digest(given, page.csrf):
        raise CsrfRefused()


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure(request), path="/")


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request))


def login_token(request: Request) -> str:
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, max_age=3600, httponly=True, samesite="lax", secure=secure(request), path="/")


def safe_next(target: str | None) -> str:
    """Only a path of this site (no ``//host``, no scheme) may follow a sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
