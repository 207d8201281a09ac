"""Overview rollups (weekly trend, coverage); host-list and register indexes (large fleets).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("computed_at", TS, nullable=False),
    )
    op.create_table(
        "rollup_week_counts",
        sa.Column("week_start", TS, primary_key=True),
        sa.Column("group_name", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("results", sa.BigInteger, nullable=False),
        sa.Column("hosts", sa.Integer, nullable=False),
    )
    op.create_table(
        "rollup_coverage",
        sa.Column("group_name", sa.String(128), primary_key=True),
        sa.Column("check_name", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("hosts", sa.Integer, nullable=False),
    )
    op.create_index("ix_agents_hostname_id", "agents", ["hostname", "id"])
    op.create_index("ix_agents_last_seen", "agents", ["last_seen_at"])
    op.create_index("ix_findings_register_order", "findings", [
        sa.text("level"), sa.text("(deadline IS NULL)"), sa.text("deadline"),
        sa.text("id DESC")])
    op.create_index("ix_findings_state_level_deadline", "findings",
                    ["state", "level", "deadline"])


def downgrade() -> None:
    op.drop_index("ix_findings_state_level_deadline", "findings")
    op.drop_index("ix_findings_register_order", "findings")
    op.drop_index("ix_agents_last_seen", "agents")
    op.drop_index("ix_agents_hostname_id", "agents")
    op.drop_table("rollup_coverage")
    op.drop_table("rollup_week_counts")
    op.drop_table("rollups")
