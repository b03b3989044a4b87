"""Schema creation and upgrades through Alembic, run programmatically (``caseflow init``)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cases.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = _config()
    database.prepare()
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()


def is_current(database: Database) -> bool:
    """Whether the schema is at the newest revision (False, without creating it, for a SQLite
    file that does not exist)."""
    if not database.exists():
        return False
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with database.read() as conn:  # a read: never waits for (or takes) the write lock
        return MigrationContext.configure(conn).get_current_revision() == head


def autogenerate(database: Database, message: str) -> None:
    """Write a new revision from the models (developers only)."""
    config = _config()
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
