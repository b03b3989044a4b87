"""``cases.migrate.is_current``, which every command runs first without importing Alembic, agrees
with Alembic: the head read from the revision files is ``ScriptDirectory``'s, and a database is
current only at that head (not empty, not one revision behind, not with two rows), on SQLite and
PostgreSQL."""

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from cases import migrate
from cases.db import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_the_head_read_from_the_files_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(migrate._config())
    assert migrate.head_revision() == scripts.get_current_head()
    assert migrate.head_revision() is not None


def test_a_database_is_current_only_at_the_head(db: Database) -> None:
    assert not migrate.is_current(db)  # empty: no alembic_version table
    migrate.upgrade(db)
    assert migrate.is_current(db)
    head = migrate.head_revision()
    previous = ScriptDirectory.from_config(migrate._config()).get_revision(head).down_revision
    config = migrate._config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, previous)
        conn.commit()
    assert not migrate.is_current(db)
    migrate.upgrade(db)
    assert migrate.is_current(db)
    with db.write() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    assert not migrate.is_current(db)  # two heads recorded: not a state Alembic upgrades from
