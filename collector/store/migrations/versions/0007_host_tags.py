"""Host tags one per row, indexed by tag: the host list filters by tag at 10,000 hosts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_tags",
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_host_tags_tag", "host_tags", ["tag", "agent_id"])
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT agent_id, tags FROM host_profiles")).all()
    pairs = []
    for agent_id, tags in rows:
        values = json.loads(tags) if isinstance(tags, str) else (tags or [])
        pairs += [{"agent_id": agent_id, "tag": t} for t in {str(v)[:64] for v in values}]
    if pairs:
        conn.execute(sa.text("INSERT INTO host_tags (agent_id, tag) VALUES (:agent_id, :tag)"),
                     pairs)


def downgrade() -> None:
    op.drop_index("ix_host_tags_tag", "host_tags")
    op.drop_table("host_tags")
