"""Precomputed rollup for the overview: the statuses of each host's newest results.

Counting every host's newest results on each page view does not scale, so the counts are
kept in a small table, per group: ``rollup_coverage`` holds, per group, check and status,
how many active hosts' newest result has that status; recomputed when older than
``COVERAGE_TTL``. ``rollups`` holds when it was computed. The background worker refreshes
it (:func:`refresh`), so pages normally only read; a page that finds it missing or stale
computes it itself. Groups are those of the hosts when the rollup was computed.

(The overview's compliance and weekly trend are the report's, kept by
``reports.rollup``; the table ``rollup_week_counts`` of migration 0006 is no longer
written.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from .schema import agents, host_latest, rollup_coverage, rollups
from .sql import in_scope

COVERAGE_TTL = timedelta(seconds=60)
NO_GROUP = ""


def _stamp(conn: sa.Connection, name: str, now: datetime) -> None:
    conn.execute(rollups.delete().where(rollups.c.name == name))
    conn.execute(rollups.insert().values(name=name, computed_at=now))


def _computed(conn: sa.Connection, names: list[str]) -> dict[str, datetime]:
    return dict(conn.execute(sa.select(rollups.c.name, rollups.c.computed_at)
                             .where(rollups.c.name.in_(names))).all())


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
            .where(in_scope(rollup_coverage.c.group_name, scope))
            .group_by(rollup_coverage.c.check_name, rollup_coverage.c.status)):
        out.setdefault(check, {})[status] = int(n)
    return out


def refresh(engine: sa.Engine, now: datetime) -> None:
    """Background job: bring the coverage rollup up to date."""
    with engine.connect() as conn:
        at = _computed(conn, ["coverage"]).get("coverage")
    if at is None or now - at > COVERAGE_TTL / 2:  # before a page finds it stale
        with engine.begin() as conn:
            compute_coverage(conn, now)
