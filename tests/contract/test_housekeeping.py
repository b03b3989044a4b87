"""Housekeeping (``cases.housekeeping``), on SQLite and PostgreSQL, driven by the injected clock:
what has outlived its retention goes, what has not stays, and evidence a case cites is never
touched — not even an orphaned file a case action is storing again at the same moment."""

import hashlib
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import PNG, POSTGRESQL_ONLY, evidence_files, new_site_case, tiny_png, walk_site_to
from sqlalchemy import func, insert, select, text

from caseflow.app import App
from cases import repository as repo
from cases.housekeeping import MIN_SIGNIN_DAYS, Housekeeper, Retention
from cases.models import ApiToken, IdempotentRequest, SignInAttempt
from cases.service import Upload
from scheduling.runner import Ticker
from workflow.errors import InvalidInput

IDEMPOTENT, TOKENS, ATTEMPTS = IdempotentRequest.__table__, ApiToken.__table__, SignInAttempt.__table__


def count(app: App, table) -> int:
    with app.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def age(path: Path, app: App, by: timedelta) -> None:
    """Make a file look written ``by`` before the app's (injected) now."""
    stamp = (app.clock.now() - by).timestamp()
    os.utime(path, (stamp, stamp))


def orphan(app: App, data: bytes, old: timedelta = timedelta(hours=2)) -> Path:
    """A file in the evidence store that no row names (a case action that failed to commit)."""
    stored = app.evidence.put(data, "orphan.png")
    path = app.evidence.path(stored.sha256)
    age(path, app, old)
    return path


def remember(app: App, key: str, at_hours_ago: float) -> None:
    with app.db.write() as conn:
        conn.execute(
            insert(IDEMPOTENT).values(
                key=key, username="office", method="POST", path="/api/cases", status_code=201, body="{}",
                created_at=app.clock.now() - timedelta(hours=at_hours_ago), fingerprint=None,
            )
        )  # fmt: skip


def test_idempotency_records_go_after_a_day(app: App) -> None:
    remember(app, "old", 25)
    remember(app, "recent", 23)
    report = app.housekeeper.run()
    assert report.idempotency_records == 1
    with app.db.read() as conn:
        assert list(conn.execute(select(IDEMPOTENT.c.key)).scalars()) == ["recent"]


def test_tokens_go_a_month_after_they_expired_or_were_revoked(app: App) -> None:
    app.users.add("office", "sti", ["dispatcher"], password="Office-pass-2026")
    revoked = app.auth.sign_in("office", "Office-pass-2026", "10.0.0.1")  # expires in 8 hours
    app.auth.revoke(revoked.value)
    app.auth.sign_in("office", "Office-pass-2026", "10.0.0.1")
    app.clock.advance(timedelta(days=30) - timedelta(minutes=1))  # type: ignore[attr-defined]
    assert app.housekeeper.run().tokens == 0
    app.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    assert app.housekeeper.run().tokens == 1  # the revoked one; the other expired 8 hours later
    with app.db.read() as conn:
        assert conn.execute(select(TOKENS.c.revoked_at)).scalars().all() == [None]
    fresh = app.auth.sign_in("office", "Office-pass-2026", "10.0.0.1", kind="web")
    app.clock.advance(timedelta(hours=8))  # type: ignore[attr-defined]
    assert app.housekeeper.run().tokens == 1 and count(app, TOKENS) == 1
    assert app.auth.resolve(fresh.value, "web").username == "office"


def test_sign_in_records_are_kept_six_months(app: App) -> None:
    app.users.add("office", "sti", ["dispatcher"], password="Office-pass-2026")
    app.auth.sign_in("office", "Office-pass-2026", "10.0.0.1")
    app.clock.advance(timedelta(days=MIN_SIGNIN_DAYS) - timedelta(minutes=1))  # type: ignore[attr-defined]
    app.auth.sign_in("office", "Office-pass-2026", "10.0.0.1")
    assert app.housekeeper.run().signin_records == 0
    app.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    assert app.housekeeper.run().signin_records == 1
    assert count(app, ATTEMPTS) == 1


def test_retention_shorter_than_the_law_allows_is_refused(app: App) -> None:
    with pytest.raises(InvalidInput, match="登录记录至少保留 180 天"):
        Retention(signin_days=90)
    with pytest.raises(InvalidInput, match="至少要放置 10 分钟"):
        Retention(evidence_grace=timedelta(seconds=30))


def test_orphaned_evidence_goes_and_cited_evidence_stays(app: App, actors, data_dir: Path) -> None:
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "clearing")
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("断水现场.png", PNG)])
    cited = app.evidence.path(sha(PNG))
    age(cited, app, timedelta(days=30))
    stale, settling = orphan(app, tiny_png(1)), orphan(app, tiny_png(2), old=timedelta(minutes=30))
    temporary = cited.parent / ".incoming-abc123"
    temporary.write_bytes(b"half a photo")
    age(temporary, app, timedelta(hours=3))
    stranger = cited.parent / "notes.txt"  # not a name the store gives: not the store's to remove
    stranger.write_text("kept")
    age(stranger, app, timedelta(days=3))

    dry = app.housekeeper.run(dry_run=True)
    assert (dry.evidence_files, dry.evidence_bytes, dry.temporary_files) == (1, stale.stat().st_size, 1)
    assert dry.orphans == [stale.parent.name + stale.name]
    assert stale.exists() and temporary.exists()

    report = app.housekeeper.run()
    assert report.orphans == dry.orphans and report.temporary_files == 1
    assert not stale.exists() and not temporary.exists()
    assert sorted(evidence_files(data_dir)) == sorted([cited, settling, stranger])
    assert stranger.exists() and app.evidence.read(sha(PNG)) == PNG
    assert app.housekeeper.run().evidence_files == 0


def test_an_orphan_stored_again_by_a_case_action_is_whole_afterwards(app: App, actors) -> None:
    """An orphan removed, then the same photo uploaded: the store writes it again."""
    site = new_site_case(app)["number"]
    walk_site_to(app, site, "clearing")
    path = orphan(app, PNG)
    assert app.housekeeper.run().evidence_files == 1 and not path.exists()
    app.cases.complete_item(site, "cut_water", actors.water, evidence=[Upload("断水现场.png", PNG)])
    assert app.evidence.read(sha(PNG)) == PNG
    assert app.housekeeper.run().evidence_files == 0


def test_a_dry_run_changes_nothing(app: App) -> None:
    remember(app, "old", 48)
    path = orphan(app, tiny_png(3))
    report = app.housekeeper.run(dry_run=True)
    assert (report.idempotency_records, report.evidence_files) == (1, 1)
    assert count(app, IDEMPOTENT) == 1 and path.exists()


def test_only_the_scheduler_holding_the_lease_keeps_house(app: App) -> None:
    remember(app, "old", 48)
    holder, standby = Ticker(app, holder="alpha"), Ticker(app, holder="beta")
    assert holder.leading()
    standby.housekeeping()
    assert count(app, IDEMPOTENT) == 1
    holder.housekeeping()
    assert count(app, IDEMPOTENT) == 0


def lock_waiters(app: App) -> int:
    with app.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one())


@POSTGRESQL_ONLY
def test_an_orphan_a_case_action_is_storing_meanwhile_stays(app: App) -> None:
    """PostgreSQL runs writers side by side: a transaction that holds the file's evidence lock
    and stores its row (what ``CaseService`` does for an upload) makes housekeeping wait, and
    once it committed, the file is cited and stays."""
    path = orphan(app, PNG)
    digest = sha(PNG)
    holding, commit = threading.Event(), threading.Event()

    def case_action() -> None:
        with app.db.write() as conn:
            repo.lock_evidence(conn, digest)
            app.evidence.put(PNG, "断水现场.png")
            repo.save_evidence(conn, {"sha256": digest, "size": len(PNG), "media_type": "image/png",
                                      "original_name": "断水现场.png", "created_by": "water", "created_at": app.clock.now()})  # fmt: skip
            holding.set()
            assert commit.wait(60)

    action = threading.Thread(target=case_action)
    action.start()
    assert holding.wait(60)
    result: dict[str, object] = {}
    keeper = threading.Thread(target=lambda: result.update(report=Housekeeper(app.db, app.evidence, app.clock).run()))
    keeper.start()
    while keeper.is_alive() and lock_waiters(app) == 0:  # until housekeeping waits for the lock
        keeper.join(0.05)
    assert keeper.is_alive() and lock_waiters(app) == 1
    commit.set()
    action.join(60)
    keeper.join(60)
    assert result["report"].evidence_files == 0  # type: ignore[attr-defined]
    assert path.exists() and app.evidence.read(digest) == PNG
