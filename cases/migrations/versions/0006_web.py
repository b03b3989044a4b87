"""web: case units (visibility), API tokens, sign-in attempts, idempotent requests

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
S = sqlmodel.sql.sqltypes


def upgrade() -> None:
    op.create_table(
        "case_unit",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit", S.AutoString(length=64), nullable=False),
        sa.Column("waiting", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("case_id", "unit"),
    )
    op.create_index("ix_case_unit_unit", "case_unit", ["unit"])
    op.create_index("ix_case_unit_waiting", "case_unit", ["unit", "waiting"])
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", S.AutoString(length=64), nullable=False),
        sa.Column("username", S.AutoString(length=64), nullable=False),
        sa.Column("kind", S.AutoString(length=16), nullable=False),
        sa.Column("created_at", S.UTCDateTime(), nullable=False),
        sa.Column("expires_at", S.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", S.UTCDateTime(), nullable=True),
        sa.Column("address", S.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_token_username", "api_token", ["username"])
    op.create_table(
        "signin_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", S.AutoString(length=64), nullable=False),
        sa.Column("address", S.AutoString(length=64), nullable=False),
        sa.Column("at", S.UTCDateTime(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_user_at", "signin_attempt", ["username", "at"])
    op.create_index("ix_signin_address_at", "signin_attempt", ["address", "at"])
    op.create_table(
        "idempotent_request",
        sa.Column("key", S.AutoString(length=200), nullable=False),
        sa.Column("username", S.AutoString(length=64), nullable=False),
        sa.Column("method", S.AutoString(length=8), nullable=False),
        sa.Column("path", S.AutoString(length=500), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", S.AutoString(), nullable=False),
        sa.Column("created_at", S.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", "username"),
    )
    # cases that exist already get their units
    op.execute(
        'INSERT INTO case_unit (case_id, unit) SELECT id, lead_unit FROM "case" WHERE lead_unit IS NOT NULL '
        'UNION SELECT id, town FROM "case" WHERE town IS NOT NULL '
        "UNION SELECT case_id, executor FROM case_item WHERE executor IS NOT NULL"
    )


def downgrade() -> None:
    for table in ("idempotent_request", "signin_attempt", "api_token", "case_unit"):
        op.drop_table(table)
