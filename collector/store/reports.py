"""Reading signed reports (evidence, append-only) and their parsed check results.

They are written by :mod:`store.intake` (every report, one or a batch)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from .schema import agents, check_results, host_latest, reports


def touch_agent(conn: sa.Connection, agent_id: str, now: datetime) -> None:
    """Record that the agent was heard from."""
    conn.execute(agents.update().where(agents.c.id == agent_id).values(last_seen_at=now))


def latest_results(conn: sa.Connection, agent_id: str) -> list[sa.Row]:
    """The newest result of every check for one host."""
    return list(conn.execute(
        sa.select(check_results)
        .join(host_latest, host_latest.c.result_id == check_results.c.id)
        .where(host_latest.c.agent_id == agent_id)
        .order_by(check_results.c.check_name)
    ).all())


def recent_reports(conn: sa.Connection, agent_id: str, limit: int = 20) -> list[sa.Row]:
    """The host's newest reports (metadata only)."""
    return list(conn.execute(
        sa.select(reports.c.id, reports.c.report_id, reports.c.seq, reports.c.created_at,
                  reports.c.received_at, reports.c.schedule, reports.c.source, reports.c.sha256)
        .where(reports.c.agent_id == agent_id)
        .order_by(reports.c.created_at.desc()).limit(limit)
    ).all())


def evidence(conn: sa.Connection, agent_id: str, report_id: str) -> str | None:
    """The JWS exactly as received."""
    return conn.execute(sa.select(reports.c.jws).where(
        reports.c.agent_id == agent_id, reports.c.report_id == report_id)).scalar()


def count_reports(conn: sa.Connection, agent_id: str | None = None) -> int:
    """How many reports are stored (for one agent, or all)."""
    q = sa.select(sa.func.count()).select_from(reports)
    if agent_id:
        q = q.where(reports.c.agent_id == agent_id)
    return conn.execute(q).scalar_one()
