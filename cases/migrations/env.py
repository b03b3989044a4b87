"""Alembic environment: runs migrations on the connection that ``cases.migrate`` hands in."""

from alembic import context
from sqlmodel import SQLModel

import cases.bulletin_store  # noqa: F401 - registers bulletin_requirement
import cases.models  # noqa: F401 - registers the tables on SQLModel.metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cases.migrate.upgrade(database)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
