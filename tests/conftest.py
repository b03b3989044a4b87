"""Fixtures shared by every test: databases (SQLite and PostgreSQL), the app, the standard users.

``database_url`` is parametrized: ``sqlite`` (a file in tmp_path) and ``pg`` (a fresh, empty
database on the server of ``TEST_DATABASE_URL``, dropped afterwards). Without
``TEST_DATABASE_URL`` the ``pg`` variants are skipped — except under ``CI=true``, where they fail.
Start a server with ``.ci/start-postgres.sh``.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
from helpers import START, Actors, build_app, standard_actors
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from caseflow.app import App
from workflow.clock import FixedClock

PG_ENV = "TEST_DATABASE_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's maintenance database (from ``TEST_DATABASE_URL``)."""
    url = os.environ.get(PG_ENV)
    if not url:
        message = f"{PG_ENV} is not set (start a server: .ci/start-postgres.sh)"
        if _in_ci():
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_database_url(pg_server: Engine) -> Iterator[str]:
    """A fresh, empty database for one test, dropped (``WITH (FORCE)``) after it."""
    name = f"caseflow_test_{uuid.uuid4().hex[:16]}"
    with pg_server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(os.environ[PG_ENV]).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="pg", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'caseflow.db'}"
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def clock() -> FixedClock:
    """The app's clock: 2026-09-30 10:00 Asia/Shanghai until a test moves it."""
    return FixedClock(START)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def app(database_url: str, data_dir, clock: FixedClock) -> Iterator[App]:
    """A migrated app on an empty database, with the fixed clock."""
    application = build_app(database_url, data_dir, clock=clock)
    try:
        application.migrate()
        yield application
    finally:
        application.close()


@pytest.fixture
def actors(app: App) -> Actors:
    """The standard users (office dispatcher, collector, handlers, unit head, supervisor)."""
    return standard_actors(app)
