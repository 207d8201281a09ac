"""Dashboard queries over the fleet: filtered host lists, coverage per check, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from hostpatrol.shared.clock import utcnow

from . import rollups
from .resultstore import DATA_COLUMNS, with_data
from .schema import agents, check_results, host_tags


@dataclass(frozen=True, slots=True)
class HostFilter:
    """What the host list shows; ``scope`` limits a viewer to its groups (None: all)."""

    q: str | None = None
    group: str | None = None
    os: str | None = None
    tag: str | None = None       # a host tag (host profile), e.g. "intranet"
    state: str | None = None     # pending | active | revoked | silent | reporting
    result: str | None = None    # ok | warn | fail | error (worst latest result)
    scope: frozenset[str] | None = None


def scope_clause(scope: frozenset[str] | None) -> sa.ColumnElement[bool]:
    """Rows of the given groups only (everything when ``scope`` is None)."""
    if scope is None:
        return sa.true()
    if not scope:
        return sa.false()
    return agents.c.group_name.in_(sorted(scope))


def _silent(now: datetime, silent_after: timedelta) -> sa.ColumnElement[bool]:
    cutoff = now - silent_after
    return sa.and_(agents.c.status == "active",
                   sa.or_(agents.c.last_seen_at.is_(None), agents.c.last_seen_at < cutoff))


def _contains(column: sa.ColumnElement[str], like: str, dialect: str) -> sa.ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (its lower() knows nothing else either);
    # ILIKE would wrap both sides in lower(), three times slower on a full scan
    return column.like(like) if dialect == "sqlite" else column.ilike(like)


def _tagged(tag: str) -> sa.ColumnElement[bool]:
    return agents.c.id.in_(sa.select(host_tags.c.agent_id).where(host_tags.c.tag == tag))


def _where(q: sa.Select, f: HostFilter, now: datetime, silent_after: timedelta,
           dialect: str = "") -> sa.Select:
    q = q.where(scope_clause(f.scope))
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(_contains(agents.c.hostname, like, dialect),
                           _contains(agents.c.id, like, dialect)))
    if f.group:
        q = q.where(agents.c.group_name == f.group)
    if f.os:
        q = q.where(agents.c.os_name == f.os)
    if f.tag:
        q = q.where(_tagged(f.tag))
    if f.state == "silent":
        q = q.where(_silent(now, silent_after))
    elif f.state == "reporting":
        q = q.where(agents.c.status == "active", sa.not_(_silent(now, silent_after)))
    elif f.state:
        q = q.where(agents.c.status == f.state)
    if f.result:
        q = q.where(agents.c.worst_status == f.result)
    return q


def hosts(conn: sa.Connection, f: HostFilter, *, now: datetime, silent_after: timedelta,
          limit: int, offset: int) -> list[sa.Row]:
    """One page of hosts ordered by hostname (index ix_agents_hostname)."""
    q = sa.select(agents).order_by(agents.c.hostname, agents.c.id).limit(limit).offset(offset)
    return list(conn.execute(_where(q, f, now, silent_after, conn.dialect.name)).all())


def count_hosts(conn: sa.Connection, f: HostFilter, *, now: datetime,
                silent_after: timedelta) -> int:
    """How many hosts the filter matches."""
    q = sa.select(sa.func.count()).select_from(agents)
    return conn.execute(_where(q, f, now, silent_after, conn.dialect.name)).scalar_one()


def facets(conn: sa.Connection, scope: frozenset[str] | None) -> dict[str, list[str]]:
    """Distinct groups, OS names and host tags for the filter menus."""
    out: dict[str, list[str]] = {}
    for key, col in (("groups", agents.c.group_name), ("os", agents.c.os_name)):
        out[key] = list(conn.execute(sa.select(col).distinct().where(
            scope_clause(scope), col.is_not(None)).order_by(col)).scalars())
    tags = sa.select(host_tags.c.tag).distinct()
    if scope is not None:
        tags = tags.join(agents, agents.c.id == host_tags.c.agent_id).where(
            scope_clause(scope))
    out["tags"] = list(conn.execute(tags.order_by(host_tags.c.tag)).scalars())
    return out


def state_counts(conn: sa.Connection, scope: frozenset[str] | None, *, now: datetime,
                 silent_after: timedelta) -> dict[str, int]:
    """Hosts by enrollment state, plus active hosts reporting vs silent."""
    counts = dict.fromkeys(("pending", "active", "revoked", "silent", "reporting"), 0)
    for status, n in conn.execute(sa.select(agents.c.status, sa.func.count())
                                  .where(scope_clause(scope)).group_by(agents.c.status)):
        counts[status] = n
    counts["silent"] = conn.execute(sa.select(sa.func.count()).select_from(agents).where(
        scope_clause(scope), _silent(now, silent_after))).scalar_one()
    counts["reporting"] = counts["active"] - counts["silent"]
    return counts


def coverage(conn: sa.Connection, scope: frozenset[str] | None,
             now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Per check: how many active hosts' latest result has each status (a rollup, at
    most ``rollups.COVERAGE_TTL`` old: counting every host's results per view does not
    scale)."""
    return rollups.coverage(conn, scope, now or utcnow())


def check_history(conn: sa.Connection, agent_id: str, check: str,
                  limit: int = 60) -> list[SimpleNamespace]:
    """The host's newest results of one check (index ix_check_results_agent_check), oldest
    first, ``data`` read through :func:`resultstore.with_data`."""
    rows = conn.execute(
        sa.select(check_results.c.id, check_results.c.check_name, check_results.c.status,
                  check_results.c.started_at, *DATA_COLUMNS, check_results.c.error)
        .where(check_results.c.agent_id == agent_id, check_results.c.check_name == check)
        .order_by(check_results.c.id.desc()).limit(limit)).all()
    return with_data(conn, reversed(rows))
