"""A transaction that cannot get its lock in time is refused as ``DatabaseBusy`` (数据库正忙，请稍后
重试), rolled back, never a raw driver error: SQLite's "database is locked" once the busy timeout
has passed (two real connections on a file database, one holding ``BEGIN IMMEDIATE``), and a
PostgreSQL lock timeout. Other driver errors are left alone."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from helpers import POSTGRESQL_ONLY, SQLITE_ONLY, count_rows
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError

from cases.db import Database
from cases.models import User
from cases.users import UserService
from workflow.errors import DatabaseBusy

USERS = User.__table__


@contextmanager
def sqlite_writer_holding_the_lock(app) -> Iterator[None]:
    """Another connection to the same file, inside ``BEGIN IMMEDIATE`` until the block ends."""
    assert app.db.sqlite_file is not None
    with closing(sqlite3.connect(app.db.sqlite_file, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@contextmanager
def pg_row_locked(app, username: str) -> Iterator[None]:
    """Another transaction holding ``FOR UPDATE`` on a user row until the block ends."""
    with app.db.write() as conn:
        conn.execute(text("SELECT 1 FROM user_account WHERE username = :u FOR UPDATE"), {"u": username})
        yield


@pytest.fixture
def impatient(app) -> Iterator[Database]:
    """A second engine on the same database that waits only 50 ms for a lock."""
    db = Database(app.db.url, busy_timeout_ms=50)
    yield db
    db.dispose()


@SQLITE_ONLY
def test_sqlite_writer_times_out_as_database_busy_and_changes_nothing(app, actors, impatient):
    assert app.db.is_sqlite
    users = UserService(impatient, app.org, app.clock)
    before = count_rows(app, User)
    with sqlite_writer_holding_the_lock(app):
        # BEGIN IMMEDIATE itself cannot get the lock (a raw sqlite3 error before the translation)
        with pytest.raises(DatabaseBusy) as busy:
            users.add("late_writer", "power", ["handler"])
        # a write statement inside a deferred (read) transaction: SQLAlchemy's wrapped error
        with pytest.raises(DatabaseBusy), impatient.read() as conn:
            conn.execute(insert(USERS).values(username="sneaky", display_name="x", department="power", roles=[],
                                              channels=["inapp"], active=True, created_at=app.clock.now()))  # fmt: skip
    error = busy.value
    assert (error.code, error.http_status, error.message) == ("database_busy", 503, "数据库正忙，请稍后重试")
    assert error.retry_after > 0 and error.details == {"retry_after": error.retry_after}
    assert isinstance(error.__cause__, sqlite3.OperationalError | DBAPIError)
    assert count_rows(app, User) == before
    # the lock released, the same engine (and its pooled connections) works again
    assert users.add("late_writer", "power", ["handler"])["username"] == "late_writer"


@POSTGRESQL_ONLY
def test_postgresql_lock_timeout_is_database_busy(app, actors, impatient):
    assert not app.db.is_sqlite
    with pg_row_locked(app, "power"), pytest.raises(DatabaseBusy), impatient.write() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
        conn.execute(update(USERS).where(USERS.c.username == "power").values(display_name="改名"))
    assert app.users.actor("power").username == "power"
    assert next(u for u in app.users.all() if u["username"] == "power")["display_name"] != "改名"


def test_other_driver_errors_are_not_busy(app, impatient):
    with pytest.raises(DBAPIError) as raised, impatient.read() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(raised.value, DatabaseBusy)
