"""Request dependencies: the application services, the signed-in actor, idempotency keys."""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select, update

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

    def check(actor: ActorDep) -> Actor:
        if not actor.roles & set(roles):
            raise PermissionDenied(f"此功能仅限{'、'.join(roles)}使用", {"roles": list(roles)})
        return actor

    return check


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="重试同一请求时带上同一个键，只会执行一次"),
]


class Idempotency:
    """Replays the first response of a POST retried with the same ``Idempotency-Key``.

    The key is reserved (a row under a unique key) before the action runs, so two concurrent
    retries cannot both act: the second gets 409 while the first is in progress, and the stored
    response once it is done. A refused first attempt frees the key for a corrected retry.
    """

    def __init__(self, app: App, actor: Actor, key: str | None, request: Request) -> None:
        self.app, self.actor, self.key, self.request = app, actor, key, request

    def run(self, action: Callable[[], Any], status_code: int = 200) -> JSONResponse:
        if self.key is None:
            return JSONResponse(action(), status_code=status_code)
        if not self.key.strip():
            raise InvalidInput("Idempotency-Key", "Idempotency-Key 不能为空白")
        where = (IDEMPOTENT.c.key == self.key, IDEMPOTENT.c.username == self.actor.username)
        with self.app.db.write() as conn:
            row = conn.execute(select(IDEMPOTENT).where(*where)).first()
            if row is None:
                conn.execute(
                    insert(IDEMPOTENT).values(
                        key=self.key, username=self.actor.username, method=self.request.method,
                        path=self.request.url.path, status_code=0, body="", created_at=self.app.clock.now(),
                    )
                )  # fmt: skip
        if row is not None:
            if row.path != self.request.url.path:
                raise InvalidInput("Idempotency-Key", "此 Idempotency-Key 已用于另一个请求")
            if row.status_code == 0:
                raise VersionConflictInProgress()
            return JSONResponse(
                json.loads(row.body), status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
            )
        try:
            body = action()
        except BaseException:
            with self.app.db.write() as conn:
                conn.execute(delete(IDEMPOTENT).where(*where))
            raise
        with self.app.db.write() as conn:
            conn.execute(
                update(IDEMPOTENT)
                .where(*where)
                .values(status_code=status_code, body=json.dumps(body, ensure_ascii=False, default=str))
            )
        return JSONResponse(body, status_code=status_code)


class VersionConflictInProgress(CaseflowError):
    code = "request_in_progress"
    http_status = 409

    def __init__(self) -> None:
        super().__init__("相同 Idempotency-Key 的请求正在处理中，请稍后重试")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
