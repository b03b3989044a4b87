"""indexes behind the figures' ratings and a unit's "waiting on others" list

``case_event (trigger, at)``: ``cases.figures`` counts, for a period, the ``close``, ``reopen``
and ``approve_extension`` events (the enterprise's ratings, the extensions granted) and now reads
those only, not every event of the period (the dashboard's last twelve weeks).

``obligation.lead`` (the case's lead unit, else its town; kept by ``cases.obligations.reconcile``)
with ``(lead, closed_at)``: what the cases a unit leads wait on from other units is read from the
open obligations of that unit's cases, not from every open obligation joined to its case.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_event_trigger_at", "case_event", ["trigger", "at"])
    op.add_column("obligation", sa.Column("lead", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.execute(
        'UPDATE obligation SET lead = (SELECT COALESCE(c.lead_unit, c.town) FROM "case" c WHERE c.id = obligation.case_id)'
    )
    op.create_index("ix_obligation_lead_open", "obligation", ["lead", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_obligation_lead_open", table_name="obligation")
    op.execute("ALTER TABLE obligation DROP COLUMN lead")  # in place on both (SQLite ≥ 3.35)
    op.drop_index("ix_case_event_trigger_at", table_name="case_event")
