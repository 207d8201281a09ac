"""Per-host facts for search and the software view: packages, pending updates, addresses,
users (rebuilt at ingest from the newest inventory, patches and accounts results), and the
host list's case-insensitive hostname order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from hostpatrol.collector.store import hostfacts

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("host_packages", "host_updates", "host_addresses", "host_users", "host_fact_digests")


def _agent() -> sa.Column:
    return sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True)


def upgrade() -> None:
    op.create_table("host_packages", _agent(),
                    sa.Column("name", sa.String(512), primary_key=True),
                    sa.Column("version", sa.String(256), primary_key=True),
                    sa.Column("arch", sa.String(64), primary_key=True))
    op.create_index("ix_host_packages_name_version", "host_packages",
                    ["name", "version", "agent_id"])
    op.create_table("host_updates", _agent(),
                    sa.Column("name", sa.String(256), primary_key=True),
                    sa.Column("arch", sa.String(32), primary_key=True),
                    sa.Column("installed", sa.String(256)),
                    sa.Column("candidate", sa.String(256)),
                    sa.Column("security", sa.Boolean, nullable=False))
    op.create_index("ix_host_updates_name", "host_updates", ["name", "security", "agent_id"])
    op.create_index("ix_host_updates_security", "host_updates", ["security", "agent_id"])
    op.create_table("host_addresses", _agent(),
                    sa.Column("address", sa.String(64), primary_key=True),
                    sa.Column("family", sa.String(8), nullable=False))
    op.create_index("ix_host_addresses_address", "host_addresses", ["address"])
    op.create_table("host_users", _agent(),
                    sa.Column("name", sa.String(256), primary_key=True),
                    sa.Column("admin", sa.Boolean, nullable=False))
    op.create_index("ix_host_users_name", "host_users", ["name"])
    op.create_table("host_fact_digests", _agent(),
                    sa.Column("kind", sa.String(16), primary_key=True),
                    sa.Column("digest", sa.String(64), nullable=False))
    op.create_index("ix_agents_hostname_lower", "agents", [sa.text("lower(hostname)"), "id"])
    conn = op.get_bind()
    latest = sa.table("host_latest", sa.column("agent_id"), sa.column("check_name"),
                      sa.column("result_id"), sa.column("status"))
    results = sa.table("check_results", sa.column("id"), sa.column("data", sa.JSON))
    agents = sa.table("agents", sa.column("id"), sa.column("status"))
    rows = conn.execute(sa.select(latest.c.agent_id, latest.c.check_name, latest.c.result_id)
                        .join(agents, agents.c.id == latest.c.agent_id)
                        .where(agents.c.status == "active",
                               latest.c.check_name.in_(sorted(hostfacts.CHECKS)),
                               latest.c.status.not_in(("error", "skipped")))
                        .order_by(latest.c.agent_id, latest.c.check_name)).all()
    for agent_id, check, result_id in rows:  # one result document in memory at a time
        data = conn.execute(sa.select(results.c.data).where(results.c.id == result_id)).scalar()
        hostfacts.store(conn, [(agent_id, check, data)])


def downgrade() -> None:
    op.drop_index("ix_agents_hostname_lower", table_name="agents")
    for table in TABLES:
        op.drop_table(table)
