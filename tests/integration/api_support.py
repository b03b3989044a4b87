"""Support for the HTTP API tests: a real uvicorn server on a loopback port, signed-in httpx
clients, module-scoped apps on SQLite and PostgreSQL, and snapshots for "nothing changed".

The server runs ``create_web_app(app)`` in a thread of the test process (so the tests share the
app's ``FixedClock`` and can move it). It listens on port 0 (the system picks a free port) and
is ready when its ``startup`` has finished — an event, no sleeps, no polling.

Users that sign in get the one password ``PASSWORD``. The product's own hash (Argon2id with
argon2-cffi's default cost) takes ~0.8 s per hash *and per verification* on a 2-core machine, so
most test users are stored with a cheap Argon2id hash of the same password, computed once per
process and given to ``users.add(password_hash=...)``: sign-in verifies it with the product's own
code (argon2 reads the cost from the hash). Tests of ``users.add(password=...)`` itself create a
user the slow way. Clients are cached per module: one sign-in per user.
"""

import asyncio
import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from helpers import START, build_app
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from caseflow.app import App
from cases.models import SignInAttempt
from web.server import create_web_app
from workflow.clock import FixedClock

HOST = "127.0.0.1"
PASSWORD = "Api-Test-2026-pass!"
"""The password of every user the API tests create (strong enough for ``users.add``)."""
TIMEOUT = 30.0


@cache
def password_hash() -> str:
    """An Argon2id hash of ``PASSWORD`` with a low cost (fast to verify)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


# --- the server -----------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """A uvicorn server that says when it has started (or given up)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


@dataclass
class LiveServer:
    url: str
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=TIMEOUT)
        assert not self.thread.is_alive(), "the uvicorn server did not stop"


def start_server(web: Any, *, proxy_headers: bool = False) -> LiveServer:
    """Serve the ASGI app ``web`` on 127.0.0.1 (port 0: a free port) in a thread; return when it
    accepts connections. With ``proxy_headers``, ``X-Forwarded-For`` sets the client address
    (to sign in "from" several addresses, as behind a reverse proxy).

    uvicorn binds the socket itself: a socket handed in through ``serve(sockets=...)`` would
    leave TCP_NODELAY off on the accepted connections, and every keep-alive response would then
    wait ~40 ms for a delayed ACK (Nagle)."""
    config = uvicorn.Config(
        web, host=HOST, port=0, log_level="error", access_log=False, lifespan="on",
        proxy_headers=proxy_headers, forwarded_allow_ips="*" if proxy_headers else None,
        ws="none", timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="uvicorn", daemon=True)
    thread.start()
    if not server.ready.wait(TIMEOUT) or not server.started:
        server.should_exit = True
        thread.join(TIMEOUT)
        raise RuntimeError("the uvicorn server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(f"http://{HOST}:{port}", server, thread)


@contextmanager
def live_server(app: App, *, proxy_headers: bool = False) -> Iterator[str]:
    """``create_web_app(app)`` served on a loopback port; yields its base URL."""
    server = start_server(create_web_app(app), proxy_headers=proxy_headers)
    try:
        yield server.url
    finally:
        server.stop()


# --- clients --------------------------------------------------------------------------------


def sign_in(base_url: str, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT, verify=False) as client:
        return client.post("/api/auth/token", json={"username": username, "password": password}, headers=headers)


class ApiClient(httpx.Client):
    """An httpx client for one signed-in user (``Authorization: Bearer …``)."""

    username: str
    token: str

    def case(self, number: str) -> dict[str, Any]:
        response = self.get(f"/api/cases/{number}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def act(
        self, number: str, trigger: str, fields: dict[str, Any] | None = None, *,
        comment: str | None = None, expected_version: int | None = None, key: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        body: dict[str, Any] = {"fields": fields or {}}
        if comment is not None:
            body["comment"] = comment
        if expected_version is not None:
            body["expected_version"] = expected_version
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.post(f"/api/cases/{number}/actions/{trigger}", json=body, headers=headers)

    def item(
        self, number: str, item: str, fields: dict[str, Any] | None = None, *,
        files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
        expected_version: int | None = None, comment: str | None = None, key: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        """Complete an item with multipart: ``evidence`` files (name, bytes, content type)."""
        import json

        data: dict[str, str] = {}
        if fields is not None:
            data["fields"] = json.dumps(fields, ensure_ascii=False)
        if expected_version is not None:
            data["expected_version"] = str(expected_version)
        if comment is not None:
            data["comment"] = comment
        upload = [("evidence", (name, content, kind)) for name, content, kind in files]
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.post(f"/api/cases/{number}/items/{item}", data=data, files=upload or None, headers=headers)


def client_for(base_url: str, username: str, password: str = PASSWORD) -> ApiClient:
    response = sign_in(base_url, username, password)
    assert response.status_code == 200, f"sign-in of {username}: {response.status_code} {response.text}"
    token = response.json()["access_token"]
    client = ApiClient(base_url=base_url, timeout=TIMEOUT, verify=False, headers={"Authorization": f"Bearer {token}"})
    client.username, client.token = username, token
    return client


# --- module-scoped environments -------------------------------------------------------------


@dataclass
class ApiEnv:
    """One app (on one database), its clock, its server and its signed-in clients."""

    app: App
    clock: FixedClock
    url: str
    database_url: str
    data_dir: Path
    clients: dict[str, ApiClient] = field(default_factory=dict)
    web: Any = None
    """The served FastAPI application (its ``state`` holds e.g. the ledger jobs)."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def user(self, username: str, department: str, roles: list[str] | tuple[str, ...]) -> str:
        """Add a user who can sign in (once; later calls return the name)."""
        if not self.app.users.exists(username):
            self.app.users.add(username, department, list(roles), password_hash=password_hash())
        return username

    def client(self, username: str, department: str | None = None, roles: tuple[str, ...] = ()) -> ApiClient:
        """A signed-in client for ``username`` (added first when ``department`` is given)."""
        if username not in self.clients:
            if department is not None:
                self.user(username, department, roles)
            self.clients[username] = client_for(self.url, username)
        return self.clients[username]

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=TIMEOUT, verify=False)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


def new_pg_database(server: Engine, base_url: str) -> tuple[str, str]:
    name = f"caseflow_api_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return name, make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server: Engine, name: str) -> None:
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def api_environment(request: pytest.FixtureRequest, kind: str, root: Path) -> Iterator[ApiEnv]:
    """An ``ApiEnv`` on a new SQLite file or PostgreSQL database (``kind``)."""
    import os

    dropped: tuple[Engine, str] | None = None
    if kind == "sqlite":
        database_url = f"sqlite:///{root / 'caseflow.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name, database_url = new_pg_database(server, os.environ["TEST_DATABASE_URL"])
        dropped = (server, name)
    clock = FixedClock(START)
    app = build_app(database_url, root / "data", clock=clock)
    try:
        app.migrate()
        web = create_web_app(app)
        server = start_server(web)
        try:
            env = ApiEnv(app, clock, server.url, database_url, root / "data", web=web)
            try:
                yield env
            finally:
                env.close()
        finally:
            server.stop()
    finally:
        app.close()
        if dropped is not None:
            drop_pg_database(*dropped)


DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="pg", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="module", params=DATABASES)
def api_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """A served app per module and database; tests that move the clock put it back."""
    with api_environment(request, request.param, tmp_path_factory.mktemp("api")) as env:
        yield env


# --- checking -------------------------------------------------------------------------------


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the INTERFACES.md error shape ``{"error", "message", "details"}``; return it."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), f"message not in Chinese: {body}"
    assert isinstance(body["details"], dict), body
    return body  # type: ignore[no-any-return]


def snapshot(app: App, number: str) -> dict[str, Any]:
    """Everything a refused request must leave as it was: the case (as the service shows it to
    no one in particular), its version and its history."""
    return {"case": app.cases.show(number), "history": app.cases.history(number)}


def count(app: App, table: Any) -> int:
    table = getattr(table, "__table__", table)
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def signin_rows(app: App) -> list[tuple[str, str, bool]]:
    with app.db.read() as conn:
        rows = conn.execute(
            select(SignInAttempt.username, SignInAttempt.address, SignInAttempt.success).order_by(SignInAttempt.id)
        ).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pg_engine(url: str) -> Engine:
    return create_engine(url)
