"""The host list's search box as SQL: which hosts a text matches, read through indexes.

A host matches when its hostname, id, OS, group, owner or backup owner contains the text
(SQLite's LIKE: ASCII case ignored; PostgreSQL's ILIKE), an address starts with it, or a
package or account is named it. Migration 0016 indexes each part: PostgreSQL's trigram
indexes serve ILIKE as it is; on SQLite an FTS5 trigram index narrows the rows first and
LIKE decides, so both give exactly the hosts a scan of every row gives.
"""

from __future__ import annotations

import sqlalchemy as sa

from .schema import agents, host_addresses, host_packages, host_profiles, host_users

TRIGRAM = 3  # FTS5's trigram index finds nothing for a shorter text: LIKE reads every row


def literal(q: str) -> str:
    """The text searched for: ``q`` without LIKE's wildcards (they are not offered)."""
    return q.replace("%", "").replace("_", "")


def _contains(column: sa.ColumnElement[str], like: str, dialect: str) -> sa.ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (its lower() knows nothing else either);
    # ILIKE would wrap both sides in lower(), three times slower on a full scan
    return column.like(like) if dialect == "sqlite" else column.ilike(like)


def _fts_rowids(fts: str, text: str) -> sa.Select:
    """Rowids whose indexed columns hold ``text`` with any case folded (more than LIKE's)."""
    phrase = '"' + text.replace('"', '""') + '"'
    index = sa.table(fts, sa.column("rowid"))
    return sa.select(index.c.rowid).where(sa.literal_column(fts).op("MATCH")(phrase))


def _matching(table: sa.Table, columns: tuple[str, ...], text: str, dialect: str,
              key: str) -> sa.Select:
    """``key`` of the rows of ``table`` where one of ``columns`` contains ``text``."""
    rows = table.alias(f"{table.name}_hit")  # not correlated with the list's own agents
    like = f"%{text}%"
    contains = sa.or_(*(_contains(rows.c[c], like, dialect) for c in columns))
    if dialect == "sqlite" and len(text) >= TRIGRAM and "\x00" not in text:
        contains = sa.and_(sa.literal_column(f"{rows.name}.rowid").in_(
            _fts_rowids(f"{table.name}_search", text)), contains)
    return sa.select(rows.c[key]).where(contains)


def clause(q: str, dialect: str) -> sa.ColumnElement[bool]:
    """Hosts (rows of ``agents``) that the search text ``q`` matches."""
    text = literal(q)
    names = sorted({q, q.lower()})  # package and account names: whole, as the host has them
    return agents.c.id.in_(sa.union(
        _matching(agents, ("hostname", "id", "os_name", "group_name"), text, dialect, "id"),
        sa.select(host_addresses.c.agent_id).where(host_addresses.c.address.like(f"{text}%")),
        sa.select(host_packages.c.agent_id).where(host_packages.c.name.in_(names)),
        sa.select(host_users.c.agent_id).where(host_users.c.name.in_(names)),
        _matching(host_profiles, ("owner", "backup_owner"), text, dialect, "agent_id")))
