"""What the store holds for a window: hosts in scope, each host's newest result per check,
and the findings that are problems now. :mod:`compliance` judges them.

A report period reads the results of its window (:func:`newest_in_window`); the overview's
live window, which always ends now, reads the same from ``host_latest`` (each host's newest
result of every check, kept at ingest: :func:`newest_since`), so the overview stays cheap
on a large fleet. Both give the newest result by ``started_at`` (the later stored on a
tie), so for a window ending now they agree; a test holds them to it.

Every reader takes a :class:`Slice` of the fleet (agent ids in a range): the overview's
rollup judges a slice of hosts at a time (:func:`slices`), so the background's memory
stays that of a slice however large the fleet.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..policy.model import Policy
from ..store import sql
from ..store.schema import agents, check_results, findings, host_latest, host_profiles
from .compliance import LOWEST_PROBLEM_LEVEL, UNRECTIFIED, area_of

Newest = dict[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class Slice:
    """Hosts whose agent id is after ``after`` and up to ``upto`` (None: no bound), in the
    database's order of the ids; the agent id columns of every table compare alike."""

    after: str | None = None
    upto: str | None = None

    def where(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """The condition that ``column`` (an agent id) falls in the slice."""
        bounds = [] if self.after is None else [column > self.after]
        if self.upto is not None:
            bounds.append(column <= self.upto)
        return sa.and_(sa.true(), *bounds)


WHOLE = Slice()


def slices(conn: sa.Connection, size: int) -> Iterator[Slice]:
    """The fleet in slices of ``size`` hosts by agent id (every agent in exactly one; the
    last open-ended, so a host enrolled meanwhile falls in one too)."""
    if size < 1:
        msg = f"a slice holds 1 or more hosts, not {size}"
        raise ValueError(msg)
    after = None
    while True:
        q = sa.select(agents.c.id).order_by(agents.c.id).offset(size - 1).limit(1)
        upto = conn.execute(q if after is None else q.where(agents.c.id > after)).scalar()
        yield Slice(after, upto)
        if upto is None:
            return
        after = upto


def in_scope(conn: sa.Connection, start: datetime, end: datetime | None,
             groups: frozenset[str] | None = None, part: Slice = WHOLE
             ) -> dict[str, sa.Row]:
    """Approved hosts enrolled before ``end`` (None: now) and not revoked before ``start``,
    of ``groups`` (None: every group); by agent id, with hostname, OS (name, family,
    distribution, desktop), group and tags."""
    q = (sa.select(agents.c.id, agents.c.hostname, agents.c.os_name, agents.c.group_name,
                   host_profiles.c.tags, agents.c.os_family, agents.c.os_distro,
                   agents.c.os_desktop)
         .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
         .where(agents.c.status != "pending",
                sa.or_(agents.c.revoked_at.is_(None), agents.c.revoked_at >= start),
                part.where(agents.c.id)))
    if end is not None:
        q = q.where(agents.c.enrolled_at < end)
    return {r.id: r for r in conn.execute(q.where(sql.in_scope(agents.c.group_name, groups)))}


def newest_in_window(conn: sa.Connection, start: datetime, end: datetime,
                     part: Slice = WHOLE, only: Collection[str] | None = None) -> Newest:
    """(agent id, check) → status of the newest result started in [start, end), of the
    hosts in ``part`` (and in ``only`` when given)."""
    hosts = part.where(check_results.c.agent_id)
    if only is not None:
        hosts = sa.and_(hosts, sql.among(conn, check_results.c.agent_id, only))
    rank = sa.func.row_number().over(
        partition_by=(check_results.c.agent_id, check_results.c.check_name),
        order_by=(check_results.c.started_at.desc(), check_results.c.id.desc())).label("rank")
    ranked = (sa.select(check_results.c.agent_id, check_results.c.check_name,
                        check_results.c.status, rank)
              .where(check_results.c.started_at >= start, check_results.c.started_at < end,
                     hosts)
              .subquery())
    rows = conn.execute(sa.select(ranked.c.agent_id, ranked.c.check_name, ranked.c.status)
                        .where(ranked.c.rank == 1))
    return {(a, c): s for a, c, s in rows}


def newest_since(conn: sa.Connection, start: datetime, part: Slice = WHOLE,
                 end: datetime | None = None) -> Newest:
    """(agent id, check) → status of the host's newest result, when it started at or after
    ``start``: :func:`newest_in_window` of a window that has not ended (the live window, up
    to now; or the running report period, up to ``end``), read from ``host_latest`` (a
    week of a large fleet's results is tens of millions of rows; its newest, one per host
    and check). A host whose newest result started at or after ``end`` (its clock ahead,
    within the admitted skew) is read from its results, as the window reads it."""
    newest: Newest = {}
    ahead: set[str] = set()
    for a, c, s, at in conn.execute(
            sa.select(host_latest.c.agent_id, host_latest.c.check_name, host_latest.c.status,
                      host_latest.c.started_at)
            .where(host_latest.c.started_at >= start, part.where(host_latest.c.agent_id))):
        if end is not None and at >= end:
            ahead.add(a)
        else:
            newest[(a, c)] = s
    if ahead:
        newest = {k: s for k, s in newest.items() if k[0] not in ahead}
        newest.update(newest_in_window(conn, start, end, part, only=ahead))
    return newest


def current_problems(conn: sa.Connection, policy: Policy, hosts: set[str] | None = None,
                     part: Slice = WHOLE) -> list[tuple[str, str]]:
    """(agent id, area) of every finding that is a problem now (level I–IV, unrectified)."""
    rows = conn.execute(sa.select(findings.c.agent_id, findings.c.check_name,
                                  findings.c.rule_id)
                        .where(findings.c.state.in_(UNRECTIFIED),
                               findings.c.level <= LOWEST_PROBLEM_LEVEL,
                               part.where(findings.c.agent_id)))
    out = []
    for agent_id, check, rule_id in rows:
        if hosts is None or agent_id in hosts:
            rule = policy.rule(rule_id)
            out.append((agent_id, area_of(check, rule.kind if rule else None)))
    return out
