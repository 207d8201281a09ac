"""Host search by index on SQLite: the search box's infix match (hostname, id, OS, group,
owners) and its address prefix no longer read every row (store.hostsearch).

SQLite: FTS5 tables with the trigram tokenizer over agents and host_profiles (external
content: they hold only the index), kept in step by triggers and filled here; addresses
get a NOCASE index, which SQLite's LIKE optimization reads as a range.
PostgreSQL: a btree in pattern order for the address prefix (LIKE 'q%' whatever the
database's collation). Its infix match stays a scan: pg_trgm's GIN indexes were tried, and
the planner still scanned at 10,000 hosts while texts most hosts match got slower.

A later migration that rebuilds agents or host_profiles on SQLite (batch_alter_table)
drops these triggers with the old table: it must make them again and rebuild the index
(``INSERT INTO agents_search(agents_search) VALUES ('rebuild')``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

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


def _postgresql_upgrade() -> None:
    op.execute("CREATE INDEX ix_host_addresses_address_prefix "
               "ON host_addresses (address varchar_pattern_ops)")


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
    op.execute("DROP INDEX ix_host_addresses_address_prefix")
