"""Agent operations: key history (rotation), commands for check-in, clone signals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS),
    )
    op.create_index("ix_agent_keys_agent", "agent_keys", ["agent_id"])
    op.create_table(
        "agent_commands",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("done_at", TS),
    )
    op.create_index("ix_agent_commands_pending", "agent_commands", ["agent_id", "delivered_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("clone_suspected_at", TS))
        batch.add_column(sa.Column("clone_reason", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("clone_reason")
        batch.drop_column("clone_suspected_at")
    op.drop_table("agent_commands")
    op.drop_table("agent_keys")
