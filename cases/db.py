"""The database: engine creation for SQLite and PostgreSQL, and the two kinds of transaction.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed change survives a power cut), a
busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for write transactions so that two
writers never deadlock on a lock upgrade; reads use a deferred ``BEGIN``. PostgreSQL uses
psycopg 3; services lock the case row with ``FOR UPDATE``. Schema creation is
``cases.migrate``'s job; what to read and write is the repositories'.

A transaction that cannot get its lock in time — SQLite's "database is locked" after the busy
timeout, a PostgreSQL lock timeout, deadlock or serialization failure — is rolled back and
raised as ``DatabaseBusy`` (HTTP 503 with ``Retry-After``, CLI exit 2), never as a raw driver
error: the caller may simply retry.
"""

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from workflow.errors import DatabaseBusy

log = logging.getLogger("caseflow.db")
BUSY_TIMEOUT_MS = 30_000
_READ = "caseflow_read"
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
_PG_BUSY = frozenset({"55P03", "40P01", "40001"})
"""lock_not_available, deadlock_detected, serialization_failure: nothing was done; retry."""


class Database:
    """One engine and the transactions services use; nothing is opened until first use."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.busy_timeout_ms = busy_timeout_ms
        """How long a SQLite writer waits for the lock before ``DatabaseBusy`` (new connections)."""
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self, echo)
        elif self.dialect == "postgresql":
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file; None for PostgreSQL, an in-memory database or a URI."""
        parsed = make_url(self.url)
        if not self.is_sqlite or not parsed.database or parsed.database == ":memory:" or parsed.query.get("uri"):
            return None
        return Path(parsed.database).expanduser()

    def exists(self) -> bool:
        """False only for a SQLite file that is not there yet. Asking never creates it (connecting
        would: a refused command must not leave an empty database behind)."""
        path = self.sqlite_file
        return path is None or path.exists()

    def prepare(self) -> None:
        """Make the directory of a new SQLite file (``caseflow init`` creates the database)."""
        path = self.sqlite_file
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception;
        ``DatabaseBusy`` when the lock could not be had in time."""
        with _busy_as_error(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot; never takes the write lock)."""
        with _busy_as_error(), self.engine.connect() as conn:
            conn = conn.execution_options(**{_READ: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def is_busy(exc: BaseException) -> bool:
    """Whether a driver error means "could not get the lock in time" (nothing was done)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        return any(text in str(orig) for text in _SQLITE_BUSY)
    return getattr(orig, "sqlstate", None) in _PG_BUSY


@contextmanager
def _busy_as_error() -> Iterator[None]:
    try:
        yield
    except (DBAPIError, sqlite3.OperationalError) as exc:
        if not is_busy(exc):
            raise
        log.info("transaction rolled back, the database is busy: %s", exc)
        raise DatabaseBusy() from exc


def _sqlite_engine(database: Database, echo: bool) -> Engine:
    engine = create_engine(
        database.url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": database.busy_timeout_ms / 1000},
        pool_reset_on_return=None,  # every transaction ends in an explicit commit or rollback
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(database.busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ, False)
        # straight to the driver: this runs once per transaction on the hot path
        conn.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")  # type: ignore[union-attr]

    return engine
