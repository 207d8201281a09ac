"""Host search by index: the search box's infix match (hostname, id, OS, group, owners) and
its address prefix no longer read every row (store.hostsearch).

PostgreSQL: a GIN trigram index (pg_trgm) of each table's searched columns joined in one
text, which ILIKE '%q%' on that text reads before ILIKE on each column decides; where the
extension cannot be created (no privilege, not installed) the migration still succeeds
without them and says so in the log (search then reads every row, as before). Addresses:
a btree in pattern order (LIKE 'q%' whatever the database's collation).
SQLite: FTS5 tables with the trigram tokenizer over agents and host_profiles (external
content: they hold only the index), kept in step by triggers and filled here; addresses
get a NOCASE index, which SQLite's LIKE optimization reads as a range.

A later migration that rebuilds agents or host_profiles on SQLite (batch_alter_table)
drops these triggers with the old table: it must make them again and rebuild the index
(``INSERT INTO agents_search(agents_search) VALUES ('rebuild')``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger("hostpatrol.collector.store")

# (table, FTS table, searched columns); the FTS tables' columns carry the same names
SEARCHED = (
    ("agents", "agents_search", ("hostname", "id", "os_name", "group_name")),
    ("host_profiles", "host_profiles_search", ("owner", "backup_owner")),
)


def _sqlite_statements(table: str, fts: str, columns: tuple[str, ...]) -> list[str]:
    """The FTS5 table over ``table``'s ``columns``, its triggers, and its first fill."""
    # every name comes from SEARCHED above, none from input (S608)
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new});"  # noqa: S608
    delete = (f"INSERT INTO {fts}({fts}, rowid, {cols}) "  # noqa: S608
              f"VALUES ('delete', old.rowid, {old});")
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', "
        "content_rowid='rowid', tokenize='trigram')",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {delete} END",
        # ingest sets these columns on every report: re-index only when one really changed
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} WHEN {changed} "
        f"BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",  # noqa: S608 (the rows already there)
    ]


def _sqlite_upgrade() -> None:
    for table, fts, columns in SEARCHED:
        for statement in _sqlite_statements(table, fts, columns):
            op.execute(statement)
    op.execute("CREATE INDEX ix_host_addresses_address_nocase "
               "ON host_addresses (address COLLATE NOCASE)")


def _joined(columns: tuple[str, ...]) -> str:
    # one index of the columns joined (store.hostsearch.joined writes the same expression):
    # ILIKE on each column alone would pick a trigram index on agents.id for "id = ..."
    return " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)


def _trigram_extension() -> bool:
    """pg_trgm is there or could be created (trusted since PostgreSQL 13: CREATE on the db)."""
    conn = op.get_bind()
    try:
        with conn.begin_nested():  # a failed CREATE must not abort the migration's transaction
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as e:
        log.warning("migration=0016 pg_trgm=unavailable error=%r: host search keeps reading "
                    "every row; CREATE EXTENSION pg_trgm as a superuser, then downgrade to "
                    "0015 and upgrade again to index it", str(e.orig).strip())
        return False
    return True


def _postgresql_upgrade() -> None:
    op.execute("CREATE INDEX ix_host_addresses_address_prefix "
               "ON host_addresses (address varchar_pattern_ops)")
    if not _trigram_extension():
        return
    for table, _fts, columns in SEARCHED:
        op.execute(f"CREATE INDEX ix_{table}_search_trgm ON {table} "
                   f"USING gin (({_joined(columns)}) gin_trgm_ops)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_host_addresses_address_nocase")
        for _table, fts, _columns in SEARCHED:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {fts}_{suffix}")
            op.execute(f"DROP TABLE {fts}")
        return
    # the extension stays: objects beyond hostpatrol's may use it, and it holds no data
    op.execute("DROP INDEX ix_host_addresses_address_prefix")
    for table, _fts, _columns in SEARCHED:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")
