"""Dialect-aware statements both backends need (insert-or-ignore, upsert)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: Mapping[str, Any],
                  conflict: Iterable[str]) -> Any | None:
    """Insert a row unless one with the same ``conflict`` key exists; return its id or None."""
    stmt = _insert(conn, table).values(**values).on_conflict_do_nothing(
        index_elements=list(conflict)
    ).returning(table.c.id)
    return conn.execute(stmt).scalar()


def upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
           key: Iterable[str]) -> None:
    """Insert rows, replacing the non-key columns of rows whose ``key`` exists."""
    if not rows:
        return
    key = list(key)
    stmt = _insert(conn, table).values(rows)
    update = {c: stmt.excluded[c] for c in rows[0] if c not in key}
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=update))
