"""Retention: purge raw evidence and parsed results older than the policy allows.

The newest result of every check of every host (and the report holding it) is kept;
findings, finding events, waivers and the audit log are never purged. A result's data row
(``result_data``, shared by a host's unchanged results) goes with the last result naming it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from .policy.model import Policy
from .store.schema import check_results, host_latest, reports, result_data


def _not_latest() -> sa.ColumnElement[bool]:
    return ~check_results.c.id.in_(sa.select(host_latest.c.result_id))


def purge(conn: sa.Connection, policy: Policy, now: datetime) -> dict[str, int]:
    """Delete old results and reports in batches; return how many rows went."""
    batch = policy.retention["batch"]
    out = {"results": 0, "reports": 0}
    if policy.retention["results_days"] > 0:
        cutoff = now - timedelta(days=policy.retention["results_days"])
        out["results"] += _delete_results(conn, sa.and_(
            check_results.c.started_at < cutoff, _not_latest()), batch)
    if policy.retention["evidence_days"] > 0:
        cutoff = now - timedelta(days=policy.retention["evidence_days"])
        keep = sa.select(check_results.c.report_pk).join(
            host_latest, host_latest.c.result_id == check_results.c.id)
        old = sa.and_(reports.c.received_at < cutoff, ~reports.c.id.in_(keep))
        while True:
            ids = conn.execute(sa.select(reports.c.id).where(old).limit(batch)).scalars().all()
            if not ids:
                break
            out["results"] += _delete_results(conn, check_results.c.report_pk.in_(ids), batch)
            out["reports"] += conn.execute(reports.delete().where(reports.c.id.in_(ids))).rowcount
    return out


def _delete_results(conn: sa.Connection, where: sa.ColumnElement[bool], batch: int) -> int:
    total = 0
    while True:
        rows = conn.execute(sa.select(check_results.c.id, check_results.c.data_id)
                            .where(where).limit(batch)).all()
        if not rows:
            return total
        total += conn.execute(check_results.delete().where(
            check_results.c.id.in_([r.id for r in rows]))).rowcount
        shared = sorted({r.data_id for r in rows if r.data_id is not None})
        if shared:  # index ix_check_results_data: is any other result still naming it
            used = sa.select(check_results.c.id).where(
                check_results.c.data_id == result_data.c.id).exists()
            conn.execute(result_data.delete().where(result_data.c.id.in_(shared), ~used))
