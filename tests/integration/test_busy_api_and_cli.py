"""Another writer holding a SQLite database past the busy timeout: the API answers 503
``database_busy`` with ``Retry-After`` and the command line exits 2 with 数据库正忙，请稍后重试 —
nothing changed, reads still served, and the same request succeeds once the lock is gone."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from api_support import client_for, error_of, live_server, password_hash
from cli_support import ENTERPRISE, ENTERPRISE_FIELDS, OFFICE, Cli, assert_error_document, assert_refused, field_args
from helpers import START, enterprise_fields

from caseflow.app import App, build
from config.settings import Settings
from workflow.clock import FixedClock

BUSY = "数据库正忙，请稍后重试"


@contextmanager
def writer_holding_the_lock(database: Path) -> Iterator[None]:
    """Another connection inside ``BEGIN IMMEDIATE`` (a long write) until the block ends."""
    with closing(sqlite3.connect(database, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@pytest.fixture
def impatient_app(tmp_path: Path) -> Iterator[App]:
    """An app on a SQLite file whose writers wait only 100 ms for the lock."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'caseflow.db'}", data_dir=tmp_path / "data", config_dir=None,
        fake_now=None, sqlite_busy_timeout_ms=100,
    )  # fmt: skip
    app = build(settings, clock=FixedClock(START))
    try:
        app.migrate()
        yield app
    finally:
        app.close()


def test_api_answers_503_with_retry_after_while_another_writer_holds_the_lock(impatient_app: App) -> None:
    app = impatient_app
    app.users.add("busy_office", "sti", ["dispatcher", "collector"], password_hash=password_hash())
    body = {"type": ENTERPRISE, "fields": enterprise_fields()}
    with live_server(app) as url, client_for(url, "busy_office") as office:
        assert app.db.sqlite_file is not None
        with writer_holding_the_lock(app.db.sqlite_file):
            refused = office.post("/api/cases", json=body)
            error = error_of(refused, 503, "database_busy")
            assert error["message"] == BUSY
            assert int(refused.headers["retry-after"]) == error["details"]["retry_after"] > 0
            listed = office.get("/api/cases")  # readers are not blocked by a writer (WAL)
            assert listed.status_code == 200 and listed.json()["total"] == 0
        created = office.post("/api/cases", json=body)
        assert created.status_code == 201, created.text
        assert office.get("/api/cases").json()["total"] == 1
        documented = office.get("/api/openapi.json").json()["paths"]["/api/cases"]["post"]["responses"]
        assert "503" in documented


def test_cli_exits_2_with_one_line_while_another_writer_holds_the_lock(fresh_db: Cli) -> None:
    cli = Cli(fresh_db.workdir, {**fresh_db.env, "CASEFLOW_SQLITE_BUSY_TIMEOUT_MS": "100"})
    new_case = ["case", "new", ENTERPRISE, "--as", OFFICE, *field_args(ENTERPRISE_FIELDS)]
    with writer_holding_the_lock(cli.database_file):
        results = cli.run_all({"text": new_case, "json": [*new_case, "--json"], "list": ["case", "list", "--json"]})
        assert_refused(results["text"], BUSY)
        assert results["text"].stdout == ""
        document = assert_error_document(results["json"], "database_busy")
        assert document["message"] == BUSY
        assert results["list"].returncode == 0 and results["list"].json()["total"] == 0  # reads go on (WAL)
    assert cli.json(*new_case)["number"] == "QY-2026-00001"  # nothing was taken by the refused ones
