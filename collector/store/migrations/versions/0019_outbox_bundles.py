"""Notifications sent as one message for many (notify.flood): a channel's rate and the
rows a bundle or a digest stands for.

``outbox.bundle_id`` names the message (a flood bundle or a daily digest) that carried a
row instead of a message of its own; a bundle's text counts exactly the rows naming it.
``ix_outbox_bundle`` finds them; ``ix_outbox_channel_sent`` counts what a channel was sent
in the last minute (its ``max_per_minute``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("bundle_id", sa.BigInteger))
    op.create_index("ix_outbox_bundle", "outbox", ["bundle_id", "id"])
    op.create_index("ix_outbox_channel_sent", "outbox", ["channel", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_channel_sent", "outbox")
    op.drop_index("ix_outbox_bundle", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("bundle_id")
