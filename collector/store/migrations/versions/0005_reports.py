"""Self-inspection reports (sign-off states, frozen snapshot); register indexes. Merges heads.

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = ("0003", "0004")  # merges the two heads
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "self_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(16), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(255), nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("next_steps", sa.Text, nullable=False),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.Column("prepared_by", sa.String(64), nullable=False),
        sa.Column("prepared_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", TS),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_at", TS),
        sa.Column("snapshot", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("html_en", sa.Text),
        sa.Column("html_zh", sa.Text),
    )
    op.create_index("ix_findings_owner", "findings", ["owner"])
    op.create_index("ix_findings_group_state", "findings", ["group_name", "state"])
    op.create_index("ix_findings_level_deadline", "findings", ["level", "deadline"])


def downgrade() -> None:
    for name in ("ix_findings_level_deadline", "ix_findings_group_state", "ix_findings_owner"):
        op.drop_index(name, table_name="findings")
    op.drop_table("self_reports")
