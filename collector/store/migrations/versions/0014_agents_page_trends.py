"""The address an agent enrolled from (the agents page shows it for a pending agent); an
index on when reports arrived (the trend finds late reports for closed weeks by it) and
one on when findings' events happened (findings opened and rectified per week).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("enroll_ip", sa.String(64)))
    op.create_index("ix_reports_received", "reports", ["received_at"])
    op.create_index("ix_finding_events_at", "finding_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_finding_events_at", table_name="finding_events")
    op.drop_index("ix_reports_received", table_name="reports")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("enroll_ip")
