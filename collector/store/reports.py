"""Signed reports (evidence, append-only) and their parsed check results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report

from .schema import agents, check_results, host_latest, reports
from .sql import insert_ignore, upsert

STATUS_RANK = {"ok": 0, "skipped": 0, "warn": 1, "error": 2, "fail": 3}


def store_report(conn: sa.Connection, report: Report, *, jws: str, sha256: str,
                 received_at: datetime, source: str) -> bool:
    """Store evidence and parsed rows in the caller's transaction; False if a duplicate."""
    pk = insert_ignore(conn, reports, {
        "agent_id": report.agent_id, "report_id": report.report_id, "seq": report.seq,
        "created_at": report.created_at, "received_at": received_at,
        "schedule": report.schedule, "source": source, "sha256": sha256, "jws": jws,
    }, conflict=("agent_id", "report_id"))
    if pk is None:
        return False
    latest: list[dict[str, Any]] = []
    for r in report.results:
        rid = conn.execute(check_results.insert().values(
            report_pk=pk, agent_id=report.agent_id, check_name=r.check, status=r.status,
            started_at=r.started_at, duration_ms=r.duration_ms, data=r.data, error=r.error,
        ).returning(check_results.c.id)).scalar_one()
        latest.append({"agent_id": report.agent_id, "check_name": r.check, "result_id": rid,
                       "status": r.status, "started_at": r.started_at})
    _update_latest(conn, report, latest)
    return True


def _update_latest(conn: sa.Connection, report: Report, latest: list[dict[str, Any]]) -> None:
    current = {
        row.check_name: row.started_at
        for row in conn.execute(sa.select(host_latest.c.check_name, host_latest.c.started_at)
                                .where(host_latest.c.agent_id == report.agent_id))
    }
    newer = [row for row in latest
             if row["check_name"] not in current or row["started_at"] >= current[row["check_name"]]]
    upsert(conn, host_latest, newer, key=("agent_id", "check_name"))
    statuses = conn.execute(sa.select(host_latest.c.status)
                            .where(host_latest.c.agent_id == report.agent_id)).scalars().all()
    worst = max(statuses, key=lambda s: STATUS_RANK.get(s, 0), default=None)
    values: dict[str, Any] = {"worst_status": worst}
    host = report.host
    if host.get("hostname"):
        values["hostname"] = host["hostname"]
    if host.get("agent_version"):
        values["agent_version"] = host["agent_version"]
    if host.get("os"):
        values["os_name"] = host["os"]
    conn.execute(agents.update().where(agents.c.id == report.agent_id).values(**values))
    conn.execute(
        agents.update()
        .where(agents.c.id == report.agent_id,
               sa.or_(agents.c.last_seq.is_(None), agents.c.last_seq < report.seq))
        .values(last_report_at=report.created_at, last_seq=report.seq)
    )


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
