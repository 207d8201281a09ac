"""Retention: purge raw evidence and parsed results older than the policy allows.

The newest result of every check of every host (and the report holding it) is kept;
findings, finding events, waivers and the audit log are never purged. A result's data row
(``result_data``, shared by a host's unchanged results) goes with the last result naming it.

On PostgreSQL (store.partitions) whole weeks of arrival are dropped, then rows are deleted
one by one only where they are older than the cutoff by more than a week: a late result
(run long before it arrived), or a row in the default partition. A row may so stay up to
a week longer than the policy's days, never less.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from .policy.model import Policy
from .store import partitions, resultstore
from .store.schema import check_results, host_latest, reports


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def drop_weeks(conn: sa.Connection, policy: Policy, now: datetime) -> dict[str, int]:
    """PostgreSQL: drop the weeks the policy lets go (store.partitions.drop_expired); {}
    elsewhere. The background job runs it in a transaction of its own: the tables' lock
    it takes ends at that commit, before any row is deleted one by one."""
    if not partitions.partitioned(conn):
        return {}
    return partitions.drop_expired(conn, _cutoff(now, policy.retention["evidence_days"]),
                                   _cutoff(now, policy.retention["results_days"]))


def purge(conn: sa.Connection, policy: Policy, now: datetime, *,
          weeks: bool = True) -> dict[str, int]:
    """Delete old results and reports in batches; return how many rows went (and, on
    PostgreSQL, how many weeks were dropped and rows of them kept, unless ``weeks`` is
    False: the caller ran ``drop_weeks`` itself)."""
    batch = policy.retention["batch"]
    evidence_cut = _cutoff(now, policy.retention["evidence_days"])
    results_cut = _cutoff(now, policy.retention["results_days"])
    out = {"results": 0, "reports": 0}
    if partitions.partitioned(conn):
        if weeks:
            out.update(drop_weeks(conn, policy, now))
        # what is left of a week older than the cutoff goes with its week, next week
        evidence_cut, results_cut = (c - partitions.WEEK if c else None
                                     for c in (evidence_cut, results_cut))
    if results_cut is not None:
        out["results"] += _delete_results(conn, sa.and_(
            check_results.c.started_at < results_cut,
            ~check_results.c.id.in_(sa.select(host_latest.c.result_id))), batch)
    if evidence_cut is not None:
        # a report and its results share received_at, and host_latest has its result's:
        # only the newest results that arrived before the cutoff can keep an old report
        keep = sa.select(check_results.c.report_pk).join(
            host_latest, host_latest.c.result_id == check_results.c.id).where(
            sa.or_(host_latest.c.received_at < evidence_cut,
                   host_latest.c.received_at.is_(None)))
        old = sa.and_(reports.c.received_at < evidence_cut, ~reports.c.id.in_(keep))
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
        if shared:
            resultstore.drop_unnamed(conn, shared)
