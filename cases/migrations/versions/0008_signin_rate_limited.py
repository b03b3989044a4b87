"""sign-in attempts refused by the rate limit (429) are recorded, flagged so that they never count

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signin_attempt") as batch:
        batch.add_column(sa.Column("rate_limited", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("signin_attempt") as batch:
        batch.drop_column("rate_limited")
