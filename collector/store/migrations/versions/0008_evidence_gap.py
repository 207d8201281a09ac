"""The last evidence gap an agent reported (reports its full spool had to drop).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("evidence_gap", sa.JSON))
        batch.add_column(sa.Column("evidence_gap_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("evidence_gap_at")
        batch.drop_column("evidence_gap")
