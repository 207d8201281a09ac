"""Dashboard queries over the fleet: filtered host lists, coverage per check, history."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from hostpatrol.shared.clock import utcnow

from . import rollups, sql
from .hostfilter import HostFilter, order, scope_clause, where
from .resultstore import DATA_COLUMNS, with_data
from .schema import agents, check_results, findings, host_addresses, host_profiles, host_tags

__all__ = ["HostFilter", "scope_clause"]
# findings still needing work (findings.deadlines.OPEN_WORK; the store imports no package
# above it): the host list's "open findings", as the overview counts them
OPEN_WORK = ("open", "assigned", "in_progress")


def _listed() -> sa.Select:
    """A host row with its first address, owner and count of findings still needing work."""
    ip = (sa.select(sa.func.min(host_addresses.c.address))
          .where(host_addresses.c.agent_id == agents.c.id, host_addresses.c.family == "ipv4")
          .scalar_subquery())
    open_ = (sa.select(sa.func.count()).select_from(findings)
             .where(findings.c.agent_id == agents.c.id, findings.c.state.in_(OPEN_WORK))
             .scalar_subquery())
    return (sa.select(agents, ip.label("ip"), host_profiles.c.owner.label("owner"),
                      open_.label("open_findings"))
            .outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))


# a tag on at least this share of the hosts is walked in the list's order (hostfilter.where)
COMMON_TAG_SHARE = 1 / 8


def _tagged(conn: sa.Connection, tag: str) -> int:
    """How many hosts have ``tag`` (host_tags' own index: one row per host and tag)."""
    return conn.execute(sa.select(sa.func.count()).select_from(host_tags)
                        .where(host_tags.c.tag == tag)).scalar_one()


def _common_tag(conn: sa.Connection, f: HostFilter) -> bool:
    if not f.tag:
        return False
    every = conn.execute(sa.select(sa.func.count()).select_from(agents)).scalar_one()
    return _tagged(conn, f.tag) >= every * COMMON_TAG_SHARE


def hosts(conn: sa.Connection, f: HostFilter, *, now: datetime, silent_after: timedelta,
          limit: int | None, offset: int = 0) -> list[sa.Row]:
    """One page of hosts (all of them when ``limit`` is None) in the filter's order, each
    with ``ip``, ``owner`` and ``open_findings``."""
    ids = where(conn, sa.select(agents.c.id).order_by(*order(f)).limit(limit).offset(offset),
                f, now, silent_after, common_tag=limit is not None and _common_tag(conn, f))
    if limit is None:  # an export: every row, no IN-list of thousands of ids
        q = where(conn, _listed().order_by(*order(f)), f, now, silent_after)
    else:  # pick the page's ids first (narrow rows sort fast), then read its rows
        q = _listed().where(agents.c.id.in_(ids)).order_by(*order(f))
    return list(conn.execute(q).all())


def count_hosts(conn: sa.Connection, f: HostFilter, *, now: datetime,
                silent_after: timedelta) -> int:
    """How many hosts the filter matches (a tag alone: counted in host_tags' index, which
    holds a row per host and tag of hosts that exist; silent hosts: :func:`count_silent`)."""
    alone = dataclasses.replace(f, tag=None, state=None, scope=None, sort="hostname",
                                desc=False) == HostFilter()
    if alone and f.tag and not f.state and f.scope is None:
        return _tagged(conn, f.tag)
    if alone and f.state == "silent" and not f.tag:
        return count_silent(conn, f.scope, now=now, silent_after=silent_after)
    q = sa.select(sa.func.count()).select_from(agents)
    return conn.execute(where(conn, q, f, now, silent_after)).scalar_one()


def facets(conn: sa.Connection, scope: frozenset[str] | None) -> dict[str, list[str]]:
    """Distinct groups, OS names and host tags for the filter menus: by index probes for
    every group (:func:`sql.distinct`), from the scope's rows for a viewer limited to
    groups."""
    hosts = None if scope is None else scope_clause(scope)
    tagged = None if scope is None else host_tags.c.agent_id.in_(
        sa.select(agents.c.id).where(hosts))
    return {"groups": sql.menu(conn, agents.c.group_name, hosts, limit=10_000),
            "os": sql.menu(conn, agents.c.os_name, hosts, limit=10_000),
            "tags": sql.menu(conn, host_tags.c.tag, tagged, limit=10_000)}


def count_silent(conn: sa.Connection, scope: frozenset[str] | None, *, now: datetime,
                 silent_after: timedelta) -> int:
    """How many hosts :func:`hostfilter.silent_clause` selects, as two ranges of
    ix_agents_status_seen (never seen; seen before the cutoff) counted apart: the OR of
    the two read every active host (7.6 ms at 100,000 hosts; this, 0.06 ms)."""
    def n(cond: sa.ColumnElement[bool]) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(agents).where(
            scope_clause(scope), agents.c.status == "active", cond)).scalar_one()

    return (n(agents.c.last_seen_at < now - silent_after)
            + n(agents.c.last_seen_at.is_(None)))


def state_counts(conn: sa.Connection, scope: frozenset[str] | None, *, now: datetime,
                 silent_after: timedelta) -> dict[str, int]:
    """Hosts by enrollment state, plus active hosts reporting vs silent."""
    counts = dict.fromkeys(("pending", "active", "revoked", "silent", "reporting"), 0)
    for status, n in conn.execute(sa.select(agents.c.status, sa.func.count())
                                  .where(scope_clause(scope)).group_by(agents.c.status)):
        counts[status] = n
    counts["silent"] = count_silent(conn, scope, now=now, silent_after=silent_after)
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
