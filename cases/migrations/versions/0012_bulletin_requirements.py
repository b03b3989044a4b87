"""bulletin requirements: the office's 下一步工作要求 of each week's bulletin, every save kept

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletin_requirement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("edited_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("edited_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_bulletin_requirement_week", "bulletin_requirement", ["week", "id"])


def downgrade() -> None:
    op.drop_index("ix_bulletin_requirement_week", table_name="bulletin_requirement")
    op.drop_table("bulletin_requirement")
