"""Schema creation and upgrades through Alembic, run programmatically (``caseflow init``).

Alembic is imported by the functions that run it: every command checks ``is_current`` first,
which reads the head from the revision files and the database's revision with one query,
without importing Alembic (about as long to import as SQLAlchemy itself).
"""

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from cases.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _config() -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    config = _config()
    database.prepare()
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()


def head_revision() -> str | None:
    """The newest revision, as Alembic's ``ScriptDirectory.get_current_head`` gives it, read from
    the ``revision``/``down_revision`` assignments of the revision files (the head is the one no
    other revises); ``None`` unless there is exactly one head."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values = {name: ast.literal_eval(value) for name, value in _ASSIGNMENT.findall(path.read_text("utf-8"))}
        if not values.get("revision"):
            continue
        revisions.add(values["revision"])
        down = values.get("down_revision")
        revised.update(down if isinstance(down, tuple | list) else [down] if down else [])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def is_current(database: Database) -> bool:
    """Whether the schema is at the newest revision (False, without creating it, for a SQLite
    file that does not exist)."""
    if not database.exists():
        return False
    head = head_revision()
    with database.read() as conn:  # a read: never waits for (or takes) the write lock
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return head is not None and current == [head]


def autogenerate(database: Database, message: str) -> None:
    """Write a new revision from the models (developers only)."""
    from alembic import command

    config = _config()
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
