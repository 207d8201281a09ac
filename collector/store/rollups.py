"""Precomputed rollups for the overview: weekly trend and per-check coverage.

Counting every check result of a week (millions of rows for a large fleet: heartbeats
every 15 minutes) or every host's newest results on each page view does not scale. So
the counts are kept in small tables, per group:

- ``rollup_week_counts``: per ISO week, group and status, the results and distinct hosts
  that reported. A closed week is computed once; the current week is recomputed when
  its copy is older than ``CURRENT_WEEK_TTL``.
- ``rollup_coverage``: per group, check and status, how many active hosts' newest result
  has that status; recomputed when older than ``COVERAGE_TTL``.

``rollups`` holds when each was computed. The background worker refreshes them
(:func:`refresh`), so pages normally only read; a page that finds one missing or stale
computes it itself (e.g. right after an upgrade, or with no worker running). Groups are
those of the hosts when the rollup was computed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from .schema import (
    agents,
    check_results,
    host_latest,
    rollup_coverage,
    rollup_week_counts,
    rollups,
)

CURRENT_WEEK_TTL = timedelta(minutes=10)
COVERAGE_TTL = timedelta(seconds=60)
NO_GROUP = ""


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of ``now``'s week."""
    return (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)


def _stamp(conn: sa.Connection, name: str, now: datetime) -> None:
    conn.execute(rollups.delete().where(rollups.c.name == name))
    conn.execute(rollups.insert().values(name=name, computed_at=now))


def _computed(conn: sa.Connection, names: list[str]) -> dict[str, datetime]:
    return dict(conn.execute(sa.select(rollups.c.name, rollups.c.computed_at)
                             .where(rollups.c.name.in_(names))).all())


def _scope(column: sa.ColumnElement[str], scope: frozenset[str] | None) -> sa.ColumnElement[bool]:
    if scope is None:
        return sa.true()
    return column.in_(sorted(scope)) if scope else sa.false()


def compute_week(conn: sa.Connection, start: datetime, now: datetime) -> None:
    """(Re)count one week's results per group and status."""
    end = start + timedelta(weeks=1)
    group = sa.func.coalesce(agents.c.group_name, NO_GROUP)
    when = sa.and_(check_results.c.started_at >= start, check_results.c.started_at < end)
    counts = conn.execute(
        sa.select(group, check_results.c.status, sa.func.count())
        .join(agents, agents.c.id == check_results.c.agent_id)
        .where(when).group_by(group, check_results.c.status)).all()
    hosts = dict(conn.execute(
        sa.select(group, sa.func.count(sa.distinct(check_results.c.agent_id)))
        .join(agents, agents.c.id == check_results.c.agent_id)
        .where(when).group_by(group)).all()) if counts else {}
    conn.execute(rollup_week_counts.delete().where(rollup_week_counts.c.week_start == start))
    if counts:
        conn.execute(rollup_week_counts.insert(), [
            {"week_start": start, "group_name": g, "status": s, "results": n,
             "hosts": hosts.get(g, 0)} for g, s, n in counts])
    _stamp(conn, f"week:{start.date().isoformat()}", now)


def compute_coverage(conn: sa.Connection, now: datetime) -> None:
    """(Re)count active hosts' newest results per group, check and status."""
    group = sa.func.coalesce(agents.c.group_name, NO_GROUP)
    rows = conn.execute(
        sa.select(group, host_latest.c.check_name, host_latest.c.status, sa.func.count())
        .join(agents, agents.c.id == host_latest.c.agent_id)
        .where(agents.c.status == "active")
        .group_by(group, host_latest.c.check_name, host_latest.c.status)).all()
    conn.execute(rollup_coverage.delete())
    if rows:
        conn.execute(rollup_coverage.insert(), [
            {"group_name": g, "check_name": c, "status": s, "hosts": n} for g, c, s, n in rows])
    _stamp(conn, "coverage", now)


def _ensure_weeks(engine: sa.Engine, starts: list[datetime], now: datetime) -> None:
    names = {f"week:{s.date().isoformat()}": s for s in starts}
    with engine.connect() as conn:
        done = _computed(conn, list(names))
    for name, start in names.items():
        at = done.get(name)
        # a week counted before it ended is counted again, at most every CURRENT_WEEK_TTL
        if at is None or (at < start + timedelta(weeks=1) and now - at > CURRENT_WEEK_TTL):
            with engine.begin() as conn:  # its own transaction: the page's only reads
                compute_week(conn, start, now)


def weekly(conn: sa.Connection, scope: frozenset[str] | None, *, now: datetime,
           weeks: int) -> list[dict[str, object]]:
    """Per week (oldest first): hosts that reported and the statuses of their results."""
    monday = week_start(now)
    starts = [monday - timedelta(weeks=i) for i in range(weeks - 1, -1, -1)]
    _ensure_weeks(conn.engine, starts, now)
    rows = conn.execute(
        sa.select(rollup_week_counts)
        .where(rollup_week_counts.c.week_start >= starts[0],
               _scope(rollup_week_counts.c.group_name, scope))).all()
    by_week: dict[datetime, dict[str, object]] = {
        s: {"week_start": s, "statuses": {}, "groups": {}} for s in starts}
    for r in rows:
        slot = by_week.get(r.week_start)
        if slot is None:
            continue
        slot["statuses"][r.status] = slot["statuses"].get(r.status, 0) + r.results
        slot["groups"][r.group_name] = r.hosts
    return [{"week_start": s["week_start"], "statuses": s["statuses"],
             "hosts": sum(s["groups"].values())} for s in by_week.values()]


def coverage(conn: sa.Connection, scope: frozenset[str] | None,
             now: datetime) -> dict[str, dict[str, int]]:
    """Per check: how many active hosts' newest result has each status."""
    at = _computed(conn, ["coverage"]).get("coverage")
    if at is None or now - at > COVERAGE_TTL:
        with conn.engine.begin() as wconn:  # its own transaction: the page's only reads
            compute_coverage(wconn, now)
    out: dict[str, dict[str, int]] = {}
    for check, status, n in conn.execute(
            sa.select(rollup_coverage.c.check_name, rollup_coverage.c.status,
                      sa.func.sum(rollup_coverage.c.hosts))
            .where(_scope(rollup_coverage.c.group_name, scope))
            .group_by(rollup_coverage.c.check_name, rollup_coverage.c.status)):
        out.setdefault(check, {})[status] = int(n)
    return out


def refresh(engine: sa.Engine, now: datetime, weeks: int = 12) -> None:
    """Background job: bring every rollup the overview reads up to date."""
    monday = week_start(now)
    _ensure_weeks(engine, [monday - timedelta(weeks=i) for i in range(weeks)], now)
    with engine.connect() as conn:
        at = _computed(conn, ["coverage"]).get("coverage")
    if at is None or now - at > COVERAGE_TTL / 2:  # before a page finds it stale
        with engine.begin() as conn:
            compute_coverage(conn, now)
