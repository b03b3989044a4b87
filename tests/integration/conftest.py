"""Fixtures for the command-line integration tests (helpers live in ``cli_support``).

The schema and the standard users are made once per session through the CLI (``template_db``:
``caseflow init`` and ``caseflow user add``); each module (``module_db``) or test (``fresh_db``)
then works on its own copy of that SQLite file. ``bare_cli`` has no database at all.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    INVOCATIONS,
    USERS,
    Cli,
    EvidenceFiles,
    add_user_args,
    assert_ok,
    clone_database,
    make_cli,
    write_evidence_files,
)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """With ``CASEFLOW_IT_STATS=1``: how many ``caseflow`` commands the session ran."""
    if os.environ.get("CASEFLOW_IT_STATS") and INVOCATIONS:
        by_command: dict[str, int] = {}
        for args in INVOCATIONS:
            name = " ".join(args[:2])
            by_command[name] = by_command.get(name, 0) + 1
        listed = ", ".join(f"{name} {count}" for name, count in sorted(by_command.items(), key=lambda x: -x[1]))
        terminalreporter.write_line(f"caseflow commands run: {len(INVOCATIONS)} ({listed})")


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """An initialised database with the standard users, made once through the CLI."""
    cli = make_cli(tmp_path_factory.mktemp("template"))
    cli.ok("init")
    results = cli.run_all({name: add_user_args(name, dept, roles) for name, (dept, roles) in USERS.items()})
    for result in results.values():
        assert_ok(result)
    return cli


@pytest.fixture(scope="module")
def module_db(template_db: Cli, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A copy of the template for one module whose tests do not interfere."""
    return clone_database(template_db, tmp_path_factory.mktemp("module"))


@pytest.fixture
def cli(module_db: Cli, tmp_path: Path) -> Cli:
    """The module's database, run from this test's own working directory."""
    return module_db.in_dir(tmp_path)


@pytest.fixture
def fresh_db(template_db: Cli, tmp_path: Path) -> Cli:
    """A copy of the template for this test alone."""
    return clone_database(template_db, tmp_path)


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """No database yet (``caseflow init`` has not run)."""
    return make_cli(tmp_path)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> EvidenceFiles:
    return write_evidence_files(tmp_path_factory.mktemp("evidence"))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the server of ``TEST_DATABASE_URL``, dropped afterwards."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        message = "TEST_DATABASE_URL is not set (start a server: .ci/start-postgres.sh)"
        if in_ci():
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"caseflow_cli_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
