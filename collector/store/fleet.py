"""Dashboard queries over the fleet: filtered host lists, coverage per check, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .schema import agents, check_results, host_latest

PASSING = ("ok",)
NOT_APPLICABLE = ("skipped",)


@dataclass(frozen=True, slots=True)
class HostFilter:
    """What the host list shows; ``scope`` limits a viewer to its groups (None: all)."""

    q: str | None = None
    group: str | None = None
    os: str | None = None
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


def _where(q: sa.Select, f: HostFilter, now: datetime, silent_after: timedelta) -> sa.Select:
    q = q.where(scope_clause(f.scope))
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(agents.c.hostname.ilike(like), agents.c.id.ilike(like)))
    if f.group:
        q = q.where(agents.c.group_name == f.group)
    if f.os:
        q = q.where(agents.c.os_name == f.os)
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
    return list(conn.execute(_where(q, f, now, silent_after)).all())


def count_hosts(conn: sa.Connection, f: HostFilter, *, now: datetime,
                silent_after: timedelta) -> int:
    """How many hosts the filter matches."""
    q = sa.select(sa.func.count()).select_from(agents)
    return conn.execute(_where(q, f, now, silent_after)).scalar_one()


def facets(conn: sa.Connection, scope: frozenset[str] | None) -> dict[str, list[str]]:
    """Distinct groups and OS names for the filter menus."""
    out: dict[str, list[str]] = {}
    for key, col in (("groups", agents.c.group_name), ("os", agents.c.os_name)):
        out[key] = list(conn.execute(sa.select(col).distinct().where(
            scope_clause(scope), col.is_not(None)).order_by(col)).scalars())
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


def coverage(conn: sa.Connection, scope: frozenset[str] | None) -> dict[str, dict[str, int]]:
    """Per check: how many active hosts' latest result has each status."""
    q = (sa.select(host_latest.c.check_name, host_latest.c.status, sa.func.count())
         .join(agents, agents.c.id == host_latest.c.agent_id)
         .where(agents.c.status == "active", scope_clause(scope))
         .group_by(host_latest.c.check_name, host_latest.c.status))
    out: dict[str, dict[str, int]] = {}
    for check, status, n in conn.execute(q):
        out.setdefault(check, {})[status] = n
    return out


def compliance_percent(statuses: dict[str, int]) -> float | None:
    """Share of applicable results that pass (None when nothing applies)."""
    applicable = sum(n for s, n in statuses.items() if s not in NOT_APPLICABLE)
    if not applicable:
        return None
    return 100.0 * sum(statuses.get(s, 0) for s in PASSING) / applicable


def weekly_trend(conn: sa.Connection, scope: frozenset[str] | None, *, now: datetime,
                 weeks: int) -> list[dict[str, Any]]:
    """Per ISO week (oldest first): hosts that reported and % of applicable results passing."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
    out = []
    for i in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=i)
        end = start + timedelta(weeks=1)
        rows = conn.execute(
            sa.select(check_results.c.status, sa.func.count(),
                      sa.func.count(sa.distinct(check_results.c.agent_id)))
            .join(agents, agents.c.id == check_results.c.agent_id)
            .where(check_results.c.started_at >= start, check_results.c.started_at < end,
                   scope_clause(scope))
            .group_by(check_results.c.status)).all()
        statuses = {s: n for s, n, _ in rows}
        hosts_seen = conn.execute(
            sa.select(sa.func.count(sa.distinct(check_results.c.agent_id)))
            .join(agents, agents.c.id == check_results.c.agent_id)
            .where(check_results.c.started_at >= start, check_results.c.started_at < end,
                   scope_clause(scope))).scalar_one() if rows else 0
        out.append({"week_start": start, "hosts": hosts_seen,
                    "compliance": compliance_percent(statuses)})
    return out


def check_history(conn: sa.Connection, agent_id: str, check: str,
                  limit: int = 60) -> list[sa.Row]:
    """The host's newest results of one check (index ix_check_results_agent_check), oldest first."""
    rows = conn.execute(
        sa.select(check_results.c.id, check_results.c.status, check_results.c.started_at,
                  check_results.c.data, check_results.c.error)
        .where(check_results.c.agent_id == agent_id, check_results.c.check_name == check)
        .order_by(check_results.c.id.desc()).limit(limit)).all()
    return list(reversed(rows))
