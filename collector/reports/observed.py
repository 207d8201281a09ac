"""What the store holds for a window: hosts in scope, each host's newest result per check,
and the findings that are problems now. :mod:`compliance` judges them.

A report period reads the results of its window (:func:`newest_in_window`); the overview's
live window, which always ends now, reads the same from ``host_latest`` (each host's newest
result of every check, kept at ingest: :func:`newest_since`), so the overview stays cheap
on a large fleet. Both give the newest result by ``started_at`` (the later stored on a
tie), so for a window ending now they agree; a test holds them to it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..policy.model import Policy
from ..store import sql
from ..store.schema import agents, check_results, findings, host_latest, host_profiles
from .compliance import LOWEST_PROBLEM_LEVEL, UNRECTIFIED, area_of

Newest = dict[tuple[str, str], str]


def in_scope(conn: sa.Connection, start: datetime, end: datetime | None,
             groups: frozenset[str] | None = None) -> dict[str, sa.Row]:
    """Approved hosts enrolled before ``end`` (None: now) and not revoked before ``start``,
    of ``groups`` (None: every group); by agent id, with hostname, OS (name, family,
    distribution, desktop), group and tags."""
    q = (sa.select(agents.c.id, agents.c.hostname, agents.c.os_name, agents.c.group_name,
                   host_profiles.c.tags, agents.c.os_family, agents.c.os_distro,
                   agents.c.os_desktop)
         .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
         .where(agents.c.status != "pending",
                sa.or_(agents.c.revoked_at.is_(None), agents.c.revoked_at >= start)))
    if end is not None:
        q = q.where(agents.c.enrolled_at < end)
    return {r.id: r for r in conn.execute(q.where(sql.in_scope(agents.c.group_name, groups)))}


def newest_in_window(conn: sa.Connection, start: datetime, end: datetime) -> Newest:
    """(agent id, check) → status of the newest result started in [start, end)."""
    rank = sa.func.row_number().over(
        partition_by=(check_results.c.agent_id, check_results.c.check_name),
        order_by=(check_results.c.started_at.desc(), check_results.c.id.desc())).label("rank")
    ranked = (sa.select(check_results.c.agent_id, check_results.c.check_name,
                        check_results.c.status, rank)
              .where(check_results.c.started_at >= start, check_results.c.started_at < end)
              .subquery())
    rows = conn.execute(sa.select(ranked.c.agent_id, ranked.c.check_name, ranked.c.status)
                        .where(ranked.c.rank == 1))
    return {(a, c): s for a, c, s in rows}


def newest_since(conn: sa.Connection, start: datetime) -> Newest:
    """(agent id, check) → status of the host's newest result, when it started at or after
    ``start`` (the live window: from ``start`` to now)."""
    rows = conn.execute(sa.select(host_latest.c.agent_id, host_latest.c.check_name,
                                  host_latest.c.status)
                        .where(host_latest.c.started_at >= start))
    return {(a, c): s for a, c, s in rows}


def current_problems(conn: sa.Connection, policy: Policy,
                     hosts: set[str] | None = None) -> list[tuple[str, str]]:
    """(agent id, area) of every finding that is a problem now (level I–IV, unrectified)."""
    rows = conn.execute(sa.select(findings.c.agent_id, findings.c.check_name,
                                  findings.c.rule_id)
                        .where(findings.c.state.in_(UNRECTIFIED),
                               findings.c.level <= LOWEST_PROBLEM_LEVEL))
    out = []
    for agent_id, check, rule_id in rows:
        if hosts is None or agent_id in hosts:
            rule = policy.rule(rule_id)
            out.append((agent_id, area_of(check, rule.kind if rule else None)))
    return out
