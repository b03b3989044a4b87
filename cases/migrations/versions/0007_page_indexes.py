"""indexes behind the dashboard, the to-do lists and the audit search (bench/pages.py)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_case_board", "case", ["state", "type", "ladder_level", "town"]),
    ("ix_case_ladder_level", "case", ["ladder_level"]),
    ("ix_case_due_at", "case", ["due_at"]),
    ("ix_case_created_at", "case", ["created_at"]),
    ("ix_case_closed", "case", ["closed_at", "lead_unit", "town"]),
    ("ix_case_created_by", "case", ["created_by"]),
    ("ix_case_event_at", "case_event", ["at"]),
    ("ix_ladder_step_level", "ladder_step", ["level", "case_id"]),
    ("ix_ladder_step_level_at", "ladder_step", ["level", "at"]),
    ("ix_case_unit_waiting_case", "case_unit", ["unit", "waiting", "case_id"]),
    ("ix_case_unit_case_waiting", "case_unit", ["case_id", "waiting", "unit"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
