"""Read-side queries of the register for the dashboard: filtered pages, counts, timelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..policy.model import LEVELS
from ..store import findingcounts, sql
from ..store.schema import agents, check_results, finding_events, findings, reports, waivers
from .deadlines import OPEN_WORK, overdue_clause
from .events import ACTIVE


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """What the register page shows; ``scope`` limits a viewer to its groups (None: all)."""

    state: str | None = None   # a state, or "active" (every state still needing attention)
    level: str | None = None   # I | II | III | IV | info
    host: str | None = None    # agent id, or part of a hostname
    group: str | None = None
    rule: str | None = None
    owner: str | None = None
    overdue: bool = False
    scope: frozenset[str] | None = None
    sort: str = "level"        # one of SORTS
    desc: bool = False


# the register's orders; every one ends on the id, so pages never overlap or skip a row
SORTS = ("level", "deadline", "age", "last_seen", "host")
WORK = "work"  # the state filter for "still needing work" (deadlines.OPEN_WORK)


def _states(f: FindingFilter) -> tuple[str, ...] | None:
    if f.state == "active":
        return ACTIVE
    if f.state == WORK:
        return OPEN_WORK
    return (f.state,) if f.state else None


def common(conn: sa.Connection, scope: frozenset[str] | None,
           states: tuple[str, ...] | list[str] | None) -> bool:
    """Whether findings in ``states`` are at least an eighth of the scope's findings (the
    triggers' counts): a page of them is found soonest by walking the page's order and
    testing each row's state, not by sorting every one of them (285,000 at 100,000 hosts:
    36 ms; the walk, 2 ms). See :func:`state_in`."""
    if not states:
        return False
    matched = findingcounts.count(conn, scope=scope, states=states)
    return matched > 0 and matched * 8 >= findingcounts.count(conn, scope=scope)


def state_in(states: tuple[str, ...] | list[str], *, walk: bool) -> sa.ColumnElement[bool]:
    """``findings.state IN states``; with ``walk`` (:func:`common`) written so that no
    index of the state is picked for it (``state || ''``), and the planner walks the index
    of the query's order instead."""
    column = findings.c.state.concat("") if walk else findings.c.state
    return column.in_(states)


def _where(q: sa.Select, f: FindingFilter, now: datetime, *, walk: bool = False) -> sa.Select:
    q = q.where(sql.in_scope(findings.c.group_name, f.scope))
    if states := _states(f):
        q = q.where(state_in(states, walk=walk))
    if f.level in LEVELS:
        q = q.where(findings.c.level == LEVELS[f.level])
    if f.host:
        like = f"%{f.host.replace('%', '').replace('_', '')}%"
        ids = sa.select(agents.c.id).where(agents.c.hostname.ilike(like))
        q = q.where(sa.or_(findings.c.agent_id == f.host, findings.c.agent_id.in_(ids)))
    if f.group:
        q = q.where(findings.c.group_name == f.group)
    if f.rule:
        q = q.where(findings.c.rule_id == f.rule)
    if f.owner:
        q = q.where(sa.or_(findings.c.owner == f.owner, findings.c.backup_owner == f.owner))
    if f.overdue:
        q = q.where(overdue_clause(now))
    return q


def order(f: FindingFilter) -> list[sa.ColumnElement[object]]:
    """The register's order for ``f.sort``: level (most severe first, then the nearest
    deadline), deadline (none last), age (youngest first), last seen, or host name (case
    ignored); reversed by ``f.desc``; the id last."""
    def way(column: sa.ColumnElement[object], flip: bool = False) -> sa.ColumnElement[object]:
        return column.desc() if f.desc != flip else column.asc()

    tie = way(findings.c.id, flip=True)
    if f.sort == "deadline":
        return [findings.c.deadline.is_(None), way(findings.c.deadline), tie]
    if f.sort == "age":  # youngest first: the newest first_seen
        return [way(findings.c.first_seen, flip=True), tie]
    if f.sort == "last_seen":
        return [way(findings.c.last_seen), tie]
    if f.sort == "host":
        return [way(sa.func.lower(agents.c.hostname)), way(findings.c.id)]
    return [way(findings.c.level), findings.c.deadline.is_(None), way(findings.c.deadline),
            tie]


def page(conn: sa.Connection, f: FindingFilter, now: datetime, *, limit: int | None,
         offset: int = 0) -> list[sa.Row]:
    """One page of findings in the filter's order (every match when ``limit`` is None), with
    hostnames."""
    by = order(f)
    if limit is None:  # an export: one pass, no IN-list
        q = (sa.select(findings, agents.c.hostname)
             .join(agents, agents.c.id == findings.c.agent_id).order_by(*by))
        return list(conn.execute(_where(q, f, now)).all())
    # pick the page's ids from an index first (narrow rows sort fast), then read 50 rows:
    # sorting every active finding's full row costs O(register) per page at 10,000 hosts
    ids = sa.select(findings.c.id).order_by(*by).limit(limit).offset(offset)
    if f.sort == "host":
        ids = ids.join(agents, agents.c.id == findings.c.agent_id)
    # only the default order has an index to walk (ix_findings_register_order)
    walk = f.sort == "level" and not f.desc and common(conn, f.scope, _states(f))
    q = (sa.select(findings, agents.c.hostname)
         .join(agents, agents.c.id == findings.c.agent_id)
         .where(findings.c.id.in_(_where(ids, f, now, walk=walk))).order_by(*by))
    return list(conn.execute(q).all())


def count(conn: sa.Connection, f: FindingFilter, now: datetime) -> int:
    """How many findings match: summed from the counts the triggers keep
    (store.findingcounts) when the filter is only of group, state and level, else counted."""
    if not (f.host or f.rule or f.owner or f.overdue):
        return findingcounts.count(conn, scope=f.scope, states=_states(f), group=f.group or None,
                                   levels=[LEVELS[f.level]] if f.level in LEVELS else None)
    return conn.execute(_where(sa.select(sa.func.count()).select_from(findings), f, now)
                        ).scalar_one()


def facets(conn: sa.Connection, scope: frozenset[str] | None,
           now: datetime) -> dict[str, Any]:
    """Distinct groups, rules and owners for the filter menus (and each rule's title): by
    index probes for every group (:func:`sql.distinct`), from the scope's rows for a
    viewer limited to groups."""
    del now  # the menus do not depend on the time
    scoped = None if scope is None else sql.in_scope(findings.c.group_name, scope)
    out: dict[str, Any] = {
        key: sql.menu(conn, col, scoped)
        for key, col in (("groups", findings.c.group_name), ("rules", findings.c.rule_id),
                         ("owners", findings.c.owner))}
    # a rule's title as one of its findings has it (the menu's label; the titles of a
    # rule's findings differ only across policy versions)
    out["rule_titles"] = {rule: conn.execute(
        sa.select(findings.c.title).where(findings.c.rule_id == rule).limit(1)).scalar()
        for rule in out["rules"]}
    return out


def open_by_level(conn: sa.Connection, scope: frozenset[str] | None,
                  now: datetime) -> dict[str, Any]:
    """Findings still needing work, per level, and how many are overdue."""
    levels = dict.fromkeys(LEVELS, 0)
    names = {v: k for k, v in LEVELS.items()}
    for level, n in findingcounts.by_level(conn, scope=scope, states=OPEN_WORK).items():
        levels[names[level]] = n
    overdue = count(conn, FindingFilter(scope=scope, overdue=True), now)
    fixed = count(conn, FindingFilter(scope=scope, state="fixed"), now)
    return {"levels": levels, "overdue": overdue, "fixed": fixed,
            "total": sum(levels.values())}


def host_findings(conn: sa.Connection, agent_id: str, limit: int = 200) -> list[sa.Row]:
    """A host's findings, active first, most severe first."""
    return list(conn.execute(sa.select(findings).where(findings.c.agent_id == agent_id)
                             .order_by(findings.c.state.not_in(ACTIVE), findings.c.level,
                                       findings.c.id.desc()).limit(limit)).all())


def host_timeline(conn: sa.Connection, agent_id: str, limit: int = 100) -> list[sa.Row]:
    """The newest events of all of a host's findings."""
    return list(conn.execute(
        sa.select(finding_events, findings.c.title, findings.c.subject, findings.c.check_name)
        .join(findings, findings.c.id == finding_events.c.finding_id)
        .where(findings.c.agent_id == agent_id)
        .order_by(finding_events.c.id.desc()).limit(limit)).all())


def waivers_of(conn: sa.Connection, finding_id: int) -> list[sa.Row]:
    """A finding's waivers, oldest first."""
    return list(conn.execute(sa.select(waivers).where(waivers.c.finding_id == finding_id)
                             .order_by(waivers.c.id)).all())


def pending_waivers(conn: sa.Connection, scope: frozenset[str] | None,
                    limit: int = 100) -> list[sa.Row]:
    """Waivers waiting for a decision, oldest first, with their finding."""
    q = (sa.select(waivers, findings.c.title, findings.c.subject, findings.c.agent_id,
                   findings.c.level)
         .join(findings, findings.c.id == waivers.c.finding_id)
         .where(waivers.c.state == "requested").order_by(waivers.c.id).limit(limit))
    q = q.where(sql.in_scope(findings.c.group_name, scope))
    return list(conn.execute(q).all())


def evidence_report(conn: sa.Connection, result_id: int | None) -> str | None:
    """The report id whose signed evidence holds a result."""
    if result_id is None:
        return None
    return conn.execute(sa.select(reports.c.report_id)
                        .join(check_results, check_results.c.report_pk == reports.c.id)
                        .where(check_results.c.id == result_id)).scalar()
