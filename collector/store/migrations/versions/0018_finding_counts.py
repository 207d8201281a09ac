"""Findings counted by triggers (store.findingcounts), and the indexes the overview and the
host list's state filter read at 100,000 hosts.

``finding_counts`` holds signed deltas of how many findings each group has in each state
and level: a trigger on ``findings`` appends +1 for a new row, -1 for a deleted one, and
-1/+1 when an update changes its group, state or level, whatever code path wrote it.
Appending, never updating a shared row, keeps concurrent writers on PostgreSQL from
queueing on one counter row (or deadlocking on two). The background job folds the deltas
into one row per key (``findingcounts.compact``). The register's total, the overview's
open findings per level and the API's total read the sums instead of counting every
finding. The table is filled here from the findings already stored.

Indexes: ``ix_findings_rule_spread`` (a rule's findings the fleet spread has not raised),
``ix_findings_rule_agent`` (the hosts holding a rule's finding, for the spread's count),
``ix_agents_status_seen`` (silent hosts: active, not seen since a cutoff) and
``ix_agents_status_os`` (the overview's OS families of the active hosts, from the index).
PostgreSQL: the host search's infix match (store.hostsearch) gets pg_trgm GIN indexes on
the searched columns of ``agents`` and ``host_profiles``. pg_trgm ships with PostgreSQL
(contrib) and is a trusted extension: the database's owner may make it. Where it cannot
be made, the upgrade says so and goes on without these indexes (the search then scans
those columns, as before). The host list's name order (``ix_agents_hostname_lower``)
includes the hostname, so that a deep page reads the index alone.

A later migration that rebuilds ``findings`` on SQLite (batch_alter_table) drops these
triggers with the old table: it must make them again (``_sqlite_statements``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KEY = ("group_name", "state", "level")
CHANGED = " OR ".join(f"old.{c} IS DISTINCT FROM new.{c}" for c in KEY)


def _delta(row: str, n: int) -> str:
    # every name is a constant of this module (S608)
    return (f"INSERT INTO finding_counts (group_name, state, level, n) "  # noqa: S608
            f"VALUES ({row}.group_name, {row}.state, {row}.level, {n});")


def _sqlite_statements() -> list[str]:
    changed = CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return [
        f"CREATE TRIGGER finding_counts_ai AFTER INSERT ON findings BEGIN {_delta('new', 1)} END",
        f"CREATE TRIGGER finding_counts_ad AFTER DELETE ON findings BEGIN {_delta('old', -1)} END",
        # rules touch last_seen on every report: count again only when the key changed
        f"CREATE TRIGGER finding_counts_au AFTER UPDATE OF {', '.join(KEY)} ON findings "
        f"WHEN {changed} BEGIN {_delta('old', -1)} {_delta('new', 1)} END",
    ]


def _postgresql_statements() -> list[str]:
    return [
        "CREATE FUNCTION finding_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_delta('OLD', -1)} END IF; "
        f"IF TG_OP IN ('UPDATE', 'INSERT') THEN {_delta('NEW', 1)} END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER finding_counts_aid AFTER INSERT OR DELETE ON findings "
        "FOR EACH ROW EXECUTE FUNCTION finding_counts_delta()",
        f"CREATE TRIGGER finding_counts_au AFTER UPDATE OF {', '.join(KEY)} ON findings "
        f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION finding_counts_delta()",
    ]


TRIGRAM = {"agents": ("hostname", "id", "os_name", "group_name"),
           "host_profiles": ("owner", "backup_owner")}


def _trigram_indexes() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as e:
        logging.getLogger(__name__).warning(
            "0018: pg_trgm could not be made (%s): the host search scans its columns",
            str(e.orig).strip())
        return
    for table, columns in TRIGRAM.items():
        for column in columns:
            op.execute(f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
                       f"USING gin ({column} gin_trgm_ops)")


def upgrade() -> None:
    op.create_table(
        "finding_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("group_name", sa.String(128)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_statements() if sqlite else _postgresql_statements():
        op.execute(statement)
    op.execute("INSERT INTO finding_counts (group_name, state, level, n) "
               "SELECT group_name, state, level, count(*) FROM findings "
               "GROUP BY group_name, state, level")
    # a rule's active findings not yet raised by the fleet spread (findings.register:
    # looked up for every finding the spread raises; the rule's other findings, read
    # through ix_findings_rule_state, were all read each time)
    op.create_index("ix_findings_rule_spread", "findings", ["rule_id", "spread", "state"])
    # the hosts holding a rule's finding, one probe each (findings.register._hosts_with)
    op.create_index("ix_findings_rule_agent", "findings", ["rule_id", "agent_id", "state"])
    op.create_index("ix_agents_status_seen", "agents", ["status", "last_seen_at"])
    op.create_index("ix_agents_status_os", "agents",
                    ["status", "os_family", "os_distro", "os_name"])
    if not sqlite:
        _trigram_indexes()
        # the host list's order read from the index alone (a deep page walks it: an
        # expression index without the column it reads sent every row to the heap)
        op.drop_index("ix_agents_hostname_lower", "agents")
        op.execute("CREATE INDEX ix_agents_hostname_lower ON agents (lower(hostname), id) "
                   "INCLUDE (hostname)")


def downgrade() -> None:
    op.drop_index("ix_agents_status_os", "agents")
    op.drop_index("ix_agents_status_seen", "agents")
    op.drop_index("ix_findings_rule_spread", "findings")
    op.drop_index("ix_findings_rule_agent", "findings")
    if op.get_bind().dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER finding_counts_{suffix}")
    else:
        op.drop_index("ix_agents_hostname_lower", "agents")
        op.execute("CREATE INDEX ix_agents_hostname_lower ON agents (lower(hostname), id)")
        for table, columns in TRIGRAM.items():
            for column in columns:
                op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
        op.execute("DROP TRIGGER finding_counts_aid ON findings")
        op.execute("DROP TRIGGER finding_counts_au ON findings")
        op.execute("DROP FUNCTION finding_counts_delta()")
    op.drop_table("finding_counts")
