"""The host list's search box as SQL: which hosts a text matches.

A host matches when its hostname, id, OS, group, owner or backup owner contains the text
(SQLite's LIKE: ASCII case ignored; PostgreSQL's ILIKE), an address starts with it, or a
package or account is named it. On SQLite, migration 0016's FTS5 trigram tables index the
infix part: the index only narrows (it folds more case than LIKE), and the LIKE of before
decides, so the hosts found are exactly those a scan of every row finds. A text shorter
than a trigram is matched by the scan alone. PostgreSQL: migration 0018's pg_trgm GIN
indexes answer each column's ILIKE, one statement per column (:func:`_postgresql`; an OR
over them kept the planner on a scan); its addresses have a pattern-order index for the
prefix.
"""

from __future__ import annotations

import sqlalchemy as sa

from .schema import agents, host_addresses, host_packages, host_profiles, host_users

TRIGRAM = 3
AGENT_COLUMNS = ("hostname", "id", "os_name", "group_name")
PROFILE_COLUMNS = ("owner", "backup_owner")


def literal(q: str) -> str:
    """The text searched for: ``q`` without LIKE's wildcards (they are not offered)."""
    return q.replace("%", "").replace("_", "")


def _contains(column: sa.ColumnElement[str], like: str, dialect: str) -> sa.ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (its lower() knows nothing else either);
    # ILIKE would wrap both sides in lower(), three times slower on a full scan
    return column.like(like) if dialect == "sqlite" else column.ilike(like)


def _any(table: sa.Table | sa.Alias, columns: tuple[str, ...], like: str,
         dialect: str) -> sa.ColumnElement[bool]:
    return sa.or_(*(_contains(table.c[c], like, dialect) for c in columns))


def _fts(table: sa.Table | sa.Alias, text: str) -> sa.ColumnElement[bool]:
    """SQLite: rows whose FTS5 trigram index holds ``text`` with any case folded."""
    name = f"{table.element.name if isinstance(table, sa.Alias) else table.name}_search"
    index = sa.table(name, sa.column("rowid"))
    phrase = '"' + text.replace('"', '""') + '"'
    return sa.literal_column(f"{table.name}.rowid").in_(
        sa.select(index.c.rowid).where(sa.literal_column(name).op("MATCH")(phrase)))


def having(table: sa.Table | sa.Alias, *conds: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Hosts (``agents.id``) with a row of ``table`` (keyed by ``agent_id``) where ``conds``."""
    return agents.c.id.in_(sa.select(table.c.agent_id).where(*conds))


def _matching(table: sa.Table, columns: tuple[str, ...], text: str,
              dialect: str) -> sa.ColumnElement[bool]:
    """Hosts (``agents.id``) with a row of ``table`` where one of ``columns`` holds ``text``."""
    like = f"%{text}%"
    indexed = dialect == "sqlite" and len(text) >= TRIGRAM and "\x00" not in text
    if table is agents:  # the list's own rows: no subquery
        cond = _any(agents, columns, like, dialect)
        return sa.and_(_fts(agents, text), cond) if indexed else cond
    rows = table.alias(f"{table.name}_hit")  # not correlated with the list's own agents
    cond = _any(rows, columns, like, dialect)
    if indexed:
        cond = sa.and_(_fts(rows, text), cond)
    return having(rows, cond)


def _postgresql(text: str, names: list[str]) -> sa.ColumnElement[bool]:
    """PostgreSQL: the hosts whose ids one statement per column finds, each through its own
    index (migration 0018: pg_trgm GIN indexes for the infix ILIKE, where the extension
    could be made; else that column is scanned), gathered in one IN-list: an OR over the
    columns and the other tables kept the planner on a scan of every host."""
    like = f"%{text}%"
    found = [sa.select(agents.c.id).where(agents.c[c].ilike(like)) for c in AGENT_COLUMNS]
    found += [sa.select(host_profiles.c.agent_id).where(host_profiles.c[c].ilike(like))
              for c in PROFILE_COLUMNS]
    found += [
        sa.select(host_addresses.c.agent_id).where(host_addresses.c.address.like(f"{text}%")),
        sa.select(host_packages.c.agent_id).where(host_packages.c.name.in_(names)),
        sa.select(host_users.c.agent_id).where(host_users.c.name.in_(names)),
    ]
    return agents.c.id.in_(sa.union(*found))


def clause(q: str, dialect: str) -> sa.ColumnElement[bool]:
    """Hosts (rows of ``agents``) that the search text ``q`` matches."""
    text = literal(q)
    names = sorted({q, q.lower()})  # package and account names: whole, as the host has them
    if dialect == "postgresql":
        return _postgresql(text, names)
    return sa.or_(
        _matching(agents, AGENT_COLUMNS, text, dialect),
        having(host_addresses, host_addresses.c.address.like(f"{text}%")),
        having(host_packages, host_packages.c.name.in_(names)),
        having(host_users, host_users.c.name.in_(names)),
        _matching(host_profiles, PROFILE_COLUMNS, text, dialect))
