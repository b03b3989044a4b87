"""Request dependencies: the application services, the signed-in actor, idempotency keys."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from caseflow.app import App
from cases.models import IdempotentRequest
from workflow.errors import CaseflowError, InvalidInput, NotAuthenticated, PermissionDenied
from workflow.org import Actor

IDEMPOTENT = IdempotentRequest.__table__


def get_app(request: Request) -> App:
    return request.app.state.caseflow  # type: ignore[no-any-return]


AppDep = Annotated[App, Depends(get_app)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("请先登录（请求头 Authorization: Bearer <token>）")
    return value.strip()


def current_actor(request: Request, app: AppDep) -> Actor:
    return app.auth.resolve(bearer_token(request), "api")


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(*roles: str) -> Callable[[Actor], Actor]:
    """A dependency that admits only actors holding one of ``roles``."""

    def check(actor: ActorDep, app: AppDep) -> Actor:
        if not actor.roles & set(roles):
            names = "、".join(app.org.role_names.get(role, role) for role in roles)
            raise PermissionDenied(f"此功能仅限{names}使用", {"roles": list(roles)})
        return actor

    return check


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="重试同一请求时带上同一个键，只会执行一次"),
]


RESERVATION_TTL = timedelta(minutes=5)
"""A key still "in progress" after this long was left by a request that never finished (a crash
or a killed worker): the next retry takes the reservation over instead of waiting forever."""


def request_fingerprint(method: str, path: str, payload: Any) -> str:
    """SHA-256 of a request's method, path and parsed body (canonical JSON): the same request
    retried has the same fingerprint whatever its encoding (multipart boundaries, key order)."""
    document = json.dumps([method, path, payload], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()


class Idempotency:
    """Replays the first response of a POST retried with the same ``Idempotency-Key``.

    The key is reserved (a row under a unique key) before the action runs, so two concurrent
    retries cannot both act: the second gets 409 while the first is in progress, and the stored
    response once it is done. A refused first attempt frees the key for a corrected retry. As
    the IETF Idempotency-Key draft says, the key belongs to one request: reused on another path
    or with another body (compared by ``request_fingerprint``) it is refused with 422. A
    reservation older than ``RESERVATION_TTL`` (its request died) is taken over by the next retry.
    """

    def __init__(self, app: App, actor: Actor, key: str | None, request: Request) -> None:
        self.app, self.actor, self.key, self.request = app, actor, key, request

    def run(
        self, action: Callable[[], Any], status_code: int = 200, *, payload: Any = None,
        status_of: Callable[[Any], int] | None = None,
    ) -> JSONResponse:  # fmt: skip
        """Run ``action`` once per key; ``payload`` is the parsed request body (fingerprinted);
        ``status_of`` gives the status from the body when it depends on the outcome."""
        if self.key is None:
            body = action()
            return JSONResponse(body, status_code=status_of(body) if status_of else status_code)
        if not self.key.strip():
            raise InvalidInput("Idempotency-Key", "Idempotency-Key 不能为空白")
        where = (IDEMPOTENT.c.key == self.key, IDEMPOTENT.c.username == self.actor.username)
        path = self.request.url.path
        fingerprint = request_fingerprint(self.request.method, path, payload)
        replay = self._reserve(where, path, fingerprint)
        if replay is not None:
            return replay
        try:
            body = action()
        except BaseException:
            with self.app.db.write() as conn:
                conn.execute(delete(IDEMPOTENT).where(*where))
            raise
        if status_of is not None:
            status_code = status_of(body)
        with self.app.db.write() as conn:
            conn.execute(
                update(IDEMPOTENT)
                .where(*where)
                .values(status_code=status_code, body=json.dumps(body, ensure_ascii=False, default=str))
            )
        return JSONResponse(body, status_code=status_code)

    def _reserve(self, where: tuple[Any, ...], path: str, fingerprint: str) -> JSONResponse | None:
        """Reserve the key for this request (None), or the stored response to replay; refuses a
        key used for another request, or one whose first request is still in progress."""
        now = self.app.clock.now()
        with self.app.db.write() as conn:
            row = conn.execute(select(IDEMPOTENT).where(*where)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(IDEMPOTENT).values(
                                key=self.key, username=self.actor.username, method=self.request.method, path=path,
                                status_code=0, body="", created_at=now, fingerprint=fingerprint,
                            )
                        )  # fmt: skip
                except IntegrityError:  # a concurrent first request reserved it a moment ago
                    raise VersionConflictInProgress() from None
                return None
            if row.path != path:
                raise InvalidInput("Idempotency-Key", "此 Idempotency-Key 已用于另一个请求")
            if row.fingerprint is not None and row.fingerprint != fingerprint:
                raise InvalidInput(
                    "Idempotency-Key", "此 Idempotency-Key 已用于内容不同的请求；请求内容改变时请使用新的 Idempotency-Key"
                )
            if row.status_code != 0:
                return JSONResponse(
                    json.loads(row.body), status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
                )
            if row.created_at + RESERVATION_TTL > now:
                raise VersionConflictInProgress()
            taken = conn.execute(  # an abandoned reservation: this retry takes it over
                update(IDEMPOTENT)
                .where(*where, IDEMPOTENT.c.status_code == 0, IDEMPOTENT.c.created_at == row.created_at)
                .values(created_at=now, fingerprint=fingerprint, method=self.request.method)
            ).rowcount
            if taken != 1:
                raise VersionConflictInProgress()
        return None


class VersionConflictInProgress(CaseflowError):
    code = "request_in_progress"
    http_status = 409

    def __init__(self) -> None:
        super().__init__("相同 Idempotency-Key 的请求正在处理中，请稍后重试")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
