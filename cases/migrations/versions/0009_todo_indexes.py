"""indexes behind a unit's to-do list sorted by deadline (bench/pages.py, bench/api.py)

``case (due_at, id)`` replaces ``case (due_at)``: walked in order, it gives the first page of a
to-do list without sorting (on PostgreSQL ties of ``due_at`` are only ordered by ``id`` with the
second column; on SQLite the old index held the rowid already). ``case (id, due_at)`` lets a
unit's whole list be sorted from a narrow index instead of the case rows (deep pages, units
with few cases).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_case_due_at_id", "case", ["due_at", "id"]),
    ("ix_case_id_due_at", "case", ["id", "due_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.drop_index("ix_case_due_at", table_name="case")


def downgrade() -> None:
    op.create_index("ix_case_due_at", "case", ["due_at"])
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
