"""OS family, distribution and desktop-ness of each host, from its newest inventory (信创 coverage).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from hostpatrol.collector.store.osfamilies import from_inventory

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("os_family", sa.String(16)))
        batch.add_column(sa.Column("os_distro", sa.String(64)))
        batch.add_column(sa.Column("os_desktop", sa.Boolean))
    conn = op.get_bind()
    latest = sa.table("host_latest", sa.column("agent_id"), sa.column("check_name"),
                      sa.column("result_id"))
    results = sa.table("check_results", sa.column("id"), sa.column("data", sa.JSON))
    agents = sa.table("agents", sa.column("id"), sa.column("os_family"),
                      sa.column("os_distro"), sa.column("os_desktop"))
    rows = conn.execute(sa.select(latest.c.agent_id, latest.c.result_id)
                        .where(latest.c.check_name == "inventory")).all()
    for agent_id, result_id in rows:  # one inventory document in memory at a time
        data = conn.execute(sa.select(results.c.data).where(results.c.id == result_id)).scalar()
        columns = from_inventory(data)
        if columns:
            conn.execute(agents.update().where(agents.c.id == agent_id).values(**columns))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("os_desktop")
        batch.drop_column("os_distro")
        batch.drop_column("os_family")
