"""Reading signed reports (evidence, append-only) and their parsed check results.

They are written by :mod:`store.intake` (every report, one or a batch)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa

from .dictionaries import EVIDENCE_COLUMNS, Codecs, evidence_text
from .packing import PackError
from .resultstore import with_data
from .schema import agents, check_results, host_latest, reports


def touch_agent(conn: sa.Connection, agent_id: str, now: datetime) -> None:
    """Record that the agent was heard from."""
    conn.execute(agents.update().where(agents.c.id == agent_id).values(last_seen_at=now))


def latest_results(conn: sa.Connection, agent_id: str) -> list[SimpleNamespace]:
    """The newest result of every check for one host (``data`` read through
    :func:`resultstore.with_data`; ``data_error`` says why it could not be)."""
    return with_data(conn, conn.execute(
        sa.select(check_results)
        .join(host_latest, host_latest.c.result_id == check_results.c.id)
        .where(host_latest.c.agent_id == agent_id)
        .order_by(check_results.c.check_name)
    ).all())


def sha256_of(jws: str) -> str:
    """The SHA-256 (hex) of a JWS as received."""
    return hashlib.sha256(jws.encode("utf-8", "surrogatepass")).hexdigest()


def recent_reports(conn: sa.Connection, agent_id: str, limit: int = 20) -> list[SimpleNamespace]:
    """The host's newest reports (metadata; ``sha256`` of the evidence, None when it
    cannot be read)."""
    rows = conn.execute(
        sa.select(reports.c.id, reports.c.report_id, reports.c.seq, reports.c.created_at,
                  reports.c.received_at, reports.c.schedule, reports.c.source, reports.c.sha256,
                  reports.c.jws, reports.c.body, reports.c.dict_id, reports.c.agent_id)
        .where(reports.c.agent_id == agent_id)
        .order_by(reports.c.created_at.desc()).limit(limit)
    ).all()
    codecs = Codecs(conn)
    out = []
    for row in rows:
        values = dict(row._mapping)
        for column in ("jws", "body", "dict_id", "agent_id"):
            del values[column]
        if row.sha256 is None:  # rows packed on receipt keep no hash: it is the JWS's
            try:
                values["sha256"] = sha256_of(evidence_text(codecs, row))
            except PackError:
                values["sha256"] = None
        out.append(SimpleNamespace(**values))
    return out


def evidence(conn: sa.Connection, agent_id: str, report_id: str) -> str | None:
    """The JWS exactly as received (None: no such report); PackError when it is stored
    but cannot be read back (missing or corrupt dictionary or body)."""
    row = conn.execute(sa.select(*EVIDENCE_COLUMNS).where(
        reports.c.agent_id == agent_id, reports.c.report_id == report_id)).first()
    if row is None:
        return None
    return evidence_text(Codecs(conn), row)


def count_reports(conn: sa.Connection, agent_id: str | None = None) -> int:
    """How many reports are stored (for one agent, or all)."""
    q = sa.select(sa.func.count()).select_from(reports)
    if agent_id:
        q = q.where(reports.c.agent_id == agent_id)
    return conn.execute(q).scalar_one()
