"""Store one verified report in a handful of round trips: evidence, results, latest, agent.

The hot path of ingest. Statements are built once per dialect (SQLAlchemy then reuses
their compiled form), results go in one multi-row INSERT, ``host_latest`` is an upsert
that only replaces an older result (``WHERE started_at <=``), and the agent row is
updated once (``last_seq`` / ``last_report_at`` only move forward, in SQL). The agent
and its profile are read inside the write transaction and handed to the rules, so they
do not read them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report
from sqlalchemy.dialects import postgresql, sqlite

from .schema import UTCDateTime, agents, check_results, host_latest, host_profiles, reports

STATUS_RANK = {"ok": 0, "skipped": 0, "warn": 1, "error": 2, "fail": 3}


@dataclass(frozen=True, slots=True)
class Stored:
    """A newly stored report: its row id, the sender as read before this report, and
    this report's results that are now the host's newest of their check."""

    pk: int
    host: sa.Row
    newest: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Statements:
    insert_report: Any
    host: Any
    insert_results: Any
    upsert_latest: Any
    update_agent: Any


@cache
def _statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    seq = sa.bindparam("seq", type_=sa.BigInteger)
    forward = sa.or_(agents.c.last_seq.is_(None), agents.c.last_seq < seq)
    latest = insert(host_latest)
    # the agent's worst status over its newest results; ties go to the first check by name
    rank = sa.case({s: r for s, r in STATUS_RANK.items() if r}, value=host_latest.c.status,
                   else_=0)
    return _Statements(
        insert_report=insert(reports).on_conflict_do_nothing(
            index_elements=["agent_id", "report_id"]).returning(reports.c.id),
        host=sa.select(
            agents.c.id, agents.c.hostname, agents.c.group_name, agents.c.last_seen_at,
            agents.c.status, agents.c.machine_id, agents.c.last_seq, host_profiles.c.critical,
            host_profiles.c.tags, host_profiles.c.owner, host_profiles.c.backup_owner,
        ).select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
        .where(agents.c.id == sa.bindparam("agent_id")),
        insert_results=check_results.insert().returning(check_results.c.id,
                                                        sort_by_parameter_order=True),
        upsert_latest=latest.on_conflict_do_update(
            index_elements=["agent_id", "check_name"],
            set_={"result_id": latest.excluded.result_id, "status": latest.excluded.status,
                  "started_at": latest.excluded.started_at},
            where=host_latest.c.started_at <= latest.excluded.started_at,
        ).returning(host_latest.c.check_name, host_latest.c.result_id),  # rows it wrote
        update_agent=agents.update().where(agents.c.id == sa.bindparam("agent_id")).values(
            worst_status=sa.select(host_latest.c.status)
            .where(host_latest.c.agent_id == agents.c.id)
            .order_by(rank.desc(), host_latest.c.check_name).limit(1).scalar_subquery(),
            hostname=sa.func.coalesce(sa.bindparam("hostname", type_=sa.String),
                                      agents.c.hostname),
            agent_version=sa.func.coalesce(sa.bindparam("agent_version", type_=sa.String),
                                           agents.c.agent_version),
            os_name=sa.func.coalesce(sa.bindparam("os_name", type_=sa.String),
                                     agents.c.os_name),
            last_seen_at=sa.bindparam("now", type_=UTCDateTime),
            last_report_at=sa.case(
                (forward, sa.bindparam("created_at", type_=UTCDateTime)),
                else_=agents.c.last_report_at),
            last_seq=sa.case((forward, seq), else_=agents.c.last_seq),
        ),
    )


def insert_evidence(conn: sa.Connection, report: Report, *, jws: str, sha256: str,
                    received_at: datetime, source: str) -> int | None:
    """Insert the signed report unless already stored; its row id, or None if a duplicate."""
    return conn.execute(_statements(conn.dialect.name).insert_report, {
        "agent_id": report.agent_id, "report_id": report.report_id, "seq": report.seq,
        "created_at": report.created_at, "received_at": received_at,
        "schedule": report.schedule, "source": source, "sha256": sha256, "jws": jws,
    }).scalar()


def sender(conn: sa.Connection, agent_id: str) -> sa.Row | None:
    """The agent joined with its profile (read inside the write transaction)."""
    return conn.execute(_statements(conn.dialect.name).host,
                        {"agent_id": agent_id}).first()


def store_parsed(conn: sa.Connection, report: Report, pk: int, host: sa.Row,
                 now: datetime) -> Stored:
    """Results, ``host_latest`` and the agent row for a report just inserted as ``pk``."""
    st = _statements(conn.dialect.name)
    aid = report.agent_id
    newest: dict[str, int] = {}
    if report.results:
        ids = list(conn.execute(st.insert_results, [
            {"report_pk": pk, "agent_id": aid, "check_name": r.check, "status": r.status,
             "started_at": r.started_at, "duration_ms": r.duration_ms, "data": r.data,
             "error": r.error} for r in report.results]).scalars())
        written = conn.execute(st.upsert_latest, [
            {"agent_id": aid, "check_name": r.check, "result_id": rid, "status": r.status,
             "started_at": r.started_at} for r, rid in zip(report.results, ids, strict=True)])
        newest = dict(written.all())  # a list of pairs: dict(result) would use its keys()
    h = report.host
    conn.execute(st.update_agent, {
        "agent_id": aid, "hostname": h.get("hostname") or None,
        "agent_version": h.get("agent_version") or None, "os_name": h.get("os") or None,
        "now": now, "seq": report.seq, "created_at": report.created_at})
    return Stored(pk, host, newest)
