"""A ledger import that fails removes the copy of the ledger it stored — but never from under
another transaction that found the same file there (PostgreSQL, where writers run side by side;
SQLite serializes them with BEGIN IMMEDIATE). The import is held in its write phase; the same
workbook is then attached as evidence to a case; the import fails; the evidence must survive."""

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import build_app, make_uscc, new_site_case, standard_actors, walk_site_to, xlsx_bytes
from sqlalchemy import text

from caseflow.app import App
from cases.service import Upload

HEADERS = ["序号", "问题标题", "问题描述", "问题类别", "企业名称", "统一社会信用代码", "所属镇街"]


class Stop(Exception):
    """The import's failure, raised from its progress callback."""


@pytest.fixture
def pg_app(pg_database_url: str, tmp_path: Path) -> Iterator[App]:
    app = build_app(pg_database_url, tmp_path / "data")
    try:
        app.migrate()
        yield app
    finally:
        app.close()


def lock_waiters(app: App) -> int:
    """Transactions waiting for a lock (an advisory one, or a row the import holds)."""
    with app.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one())


def test_a_failing_import_never_removes_evidence_another_transaction_relies_on(pg_app: App, tmp_path: Path) -> None:
    app = pg_app
    actors = standard_actors(app)
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "clearing")
    rows = [HEADERS] + [
        [i, f"问题{i}", "描述", "生产要素", f"企业{i}", make_uscc(f"91340881MA2L{i:05d}"), "孔城镇"]
        for i in range(1, 1201)
    ]
    data = xlsx_bytes(rows)
    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(data)
    writing, fail = threading.Event(), threading.Event()
    outcome: dict[str, BaseException | object] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase == "write":
            writing.set()
            assert fail.wait(60)
            raise Stop()

    def run_import() -> None:
        try:
            app.ledger.import_ledger(ledger, "enterprise_issue", actors.dispatcher, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["import"] = exc

    def attach() -> None:
        try:
            outcome["item"] = app.cases.complete_item(
                site, "cut_water", actors.water, {}, evidence=[Upload("台账.xlsx", data)]
            )
        except BaseException as exc:  # noqa: BLE001
            outcome["item"] = exc

    importer = threading.Thread(target=run_import)
    importer.start()
    assert writing.wait(60), "the import did not reach its write phase"
    path = app.evidence.path(hashlib.sha256(data).hexdigest())
    assert path.exists()  # the import's own copy, not committed
    attacher = threading.Thread(target=attach)
    attacher.start()
    # the attaching transaction waits for a lock the import holds, or finishes; only then it fails
    while attacher.is_alive() and lock_waiters(app) == 0:
        attacher.join(0.05)
    fail.set()
    importer.join(60)
    attacher.join(60)
    assert isinstance(outcome["import"], Stop)
    assert isinstance(outcome["item"], dict), outcome["item"]
    assert path.exists()
    assert app.cases.evidence_file(path.parent.name + path.name)[1] == data  # readable, hash checked
    assert app.cases.show(site)["version"] == outcome["item"]["version"]
