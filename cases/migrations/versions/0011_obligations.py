"""obligations (责任清单): one row per thing one unit owes on one case

Existing cases get their open obligations from ``caseflow init`` (``cases.obligations.backfill``),
which needs the definitions and the calendar that a migration does not have.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "obligation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("case.id"), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("follows_clock", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("opened_trigger", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ever_overdue", sa.Boolean(), nullable=False),
        sa.Column("next_check_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("closed_trigger", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
    )
    op.create_index("ix_obligation_unit_open", "obligation", ["unit", "closed_at", "due_at"])
    op.create_index("ix_obligation_case", "obligation", ["case_id", "closed_at"])
    op.create_index("ix_obligation_next_check_at", "obligation", ["next_check_at"])
    op.create_index("ix_obligation_closed_at", "obligation", ["closed_at"])
    # what a case shows: the highest level of its own clock and its open obligations
    op.add_column(  # in place on both databases (a batch rebuild of case would trip its references)
        "case",
        sa.Column("supervision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="normal"),
    )
    op.execute('UPDATE "case" SET supervision = ladder_level')
    op.create_index("ix_case_supervision", "case", ["supervision"])
    op.create_index("ix_case_board_supervision", "case", ["state", "type", "supervision", "town"])


def downgrade() -> None:
    op.drop_table("obligation")
    op.drop_index("ix_case_board_supervision", table_name="case")
    op.drop_index("ix_case_supervision", table_name="case")
    # not a batch rebuild: the tables that reference case would refuse its copy (SQLite ≥ 3.35
    # and PostgreSQL drop a column in place)
    op.execute('ALTER TABLE "case" DROP COLUMN supervision')
