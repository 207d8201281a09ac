"""Background work in one place: a lease row in the database, then the due jobs.

Any number of collector processes may run a worker (``hostpatrol-collector worker``,
started by ``serve``); only the holder of the ``background`` lease does the work. Jobs
are idempotent and the daily ones are recorded in ``job_runs``, so work is done once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.clock import utcnow
from sqlalchemy.dialects import postgresql, sqlite

from .findings import waivers
from .findings.deadlines import OPEN_WORK
from .findings.evaluate import sweep_checkins
from .findings.events import add_event
from .findings.fleet import sweep_fleet
from .notify.dispatch import Sent, deliver_due
from .notify.outbox import build_digests
from .policy import loader
from .policy.model import Policy
from .reports import rollup as report_rollup
from .retention import drop_weeks, purge
from .store import dictionaries, findingcounts, partitions, rollups
from .store.compaction import pack_legacy
from .store.schema import findings, job_runs, leases

log = logging.getLogger("hostpatrol.collector.background")
LEASE = "background"
BATCH = 500


def holder_id() -> str:
    """A name for this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql.insert(table) if conn.dialect.name == "postgresql"
            else sqlite.insert(table))


def acquire(engine: sa.Engine, holder: str, now: datetime, seconds: int,
            name: str = LEASE) -> bool:
    """Take or renew the lease atomically; False while another live holder has it."""
    with engine.begin() as conn:
        res = conn.execute(leases.update().where(
            leases.c.name == name,
            sa.or_(leases.c.holder == holder, leases.c.expires_at < now),
        ).values(holder=holder, expires_at=now + timedelta(seconds=seconds)))
        if res.rowcount == 1:
            return True
        taken = conn.execute(_insert(conn, leases).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=seconds),
        ).on_conflict_do_nothing(index_elements=["name"]).returning(leases.c.name)).scalar()
        return taken is not None


def release(engine: sa.Engine, holder: str, name: str = LEASE) -> None:
    """Give the lease up (on a clean stop) so another worker takes over at once."""
    with engine.begin() as conn:
        conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))


def _last_run(conn: sa.Connection, name: str) -> datetime | None:
    return conn.execute(sa.select(job_runs.c.last_run_at).where(job_runs.c.name == name)
                        ).scalar()


def _record_run(conn: sa.Connection, name: str, holder: str, now: datetime) -> None:
    stmt = _insert(conn, job_runs).values(name=name, last_run_at=now, runs=1, holder=holder)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={
        "last_run_at": now, "runs": job_runs.c.runs + 1, "holder": holder}))


def deadlines(conn: sa.Connection, policy: Policy, now: datetime) -> dict[str, int]:
    """Reminders before a deadline; overdue escalation after it (once each per opening)."""
    soon = now + timedelta(hours=policy.remind_before_hours)
    due = conn.execute(sa.select(findings.c.id, findings.c.deadline).where(
        findings.c.state.in_(OPEN_WORK), findings.c.reminded_at.is_(None),
        findings.c.deadline.is_not(None), findings.c.deadline <= soon,
        findings.c.deadline > now).limit(BATCH)).all()
    for row in due:
        conn.execute(findings.update().where(findings.c.id == row.id).values(reminded_at=now))
        add_event(conn, policy, row.id, action="reminder", actor="system", now=now,
                  note=f"deadline {row.deadline.isoformat()}")
    late = conn.execute(sa.select(findings.c.id, findings.c.deadline).where(
        findings.c.state.in_(OPEN_WORK), findings.c.escalated_at.is_(None),
        findings.c.deadline.is_not(None), findings.c.deadline < now).limit(BATCH)).all()
    for row in late:
        conn.execute(findings.update().where(findings.c.id == row.id).values(escalated_at=now))
        add_event(conn, policy, row.id, action="overdue", actor="system", now=now,
                  note=f"deadline {row.deadline.isoformat()} passed; escalated")
    return {"reminders": len(due), "overdue": len(late)}


def send_notifications(engine: sa.Engine, policy: Policy, now: datetime,
                       budget_seconds: float, batch: int = 50) -> Sent:
    """Send due messages batch after batch until none is left due or ``budget_seconds``
    (the round's period) is spent: one batch a round fell behind as soon as more than
    ``batch`` messages a round became due (a fleet opening findings on its first reports)."""
    deadline = time.monotonic() + budget_seconds
    total = Sent(0, 0, 0)
    while True:
        done = deliver_due(engine, policy, now, limit=batch)
        total = Sent(total.sent + done.sent, total.retried + done.retried,
                     total.failed + done.failed)
        if done.sent + done.retried + done.failed < batch or time.monotonic() >= deadline:
            return total


def sweep_data(engine: sa.Engine, batch: int, budget_seconds: float) -> int:
    """PostgreSQL: settle the result_data rows dropped weeks named (store.partitions), a
    batch a transaction, until none is left or ``budget_seconds`` is spent; how many."""
    deadline = time.monotonic() + budget_seconds
    total = 0
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            done = partitions.sweep_data(conn, batch)
        total += done
        if done < batch:
            break
    return total


def _daily_due(last: datetime | None, now: datetime, hour: int) -> bool:
    if now.hour < hour:
        return False
    return last is None or last.date() < now.date()


def run_once(engine: sa.Engine, holder: str, now: datetime, *, report_zone: str = "UTC",
             trend_weeks: int = 12) -> dict[str, Any]:
    """One round: if this process holds the lease, run every due job; return what ran
    (``report_zone`` and ``trend_weeks``: the overview's report weeks to keep counted)."""
    with engine.connect() as conn:
        policy = loader.current(conn)
    if not acquire(engine, holder, now, policy.jobs["lease_seconds"]):
        return {}
    done: dict[str, Any] = {}
    with engine.begin() as conn:
        done["checkins"] = sweep_checkins(conn, now)
    with engine.begin() as conn:
        last = _last_run(conn, "fleet-rules")
        if last is None or now - last >= timedelta(seconds=policy.jobs["fleet_seconds"]):
            done["fleet"] = sweep_fleet(conn, now)  # e.g. one USB stick on isolated + internet
            _record_run(conn, "fleet-rules", holder, now)
    with engine.begin() as conn:
        done["waivers_expired"] = waivers.expire(conn, policy, now)
    with engine.begin() as conn:
        done["deadlines"] = deadlines(conn, policy, now)
    with engine.connect() as conn:
        digest_due = _daily_due(_last_run(conn, "digest"), now, policy.digest_hour)
    if digest_due:  # a transaction a few thousand rows (notify.flood)
        done["digests"] = build_digests(engine, now)
        with engine.begin() as conn:
            _record_run(conn, "digest", holder, now)
    with engine.begin() as conn:  # PostgreSQL: next weeks' partitions, before they are due
        partitioned = partitions.partitioned(conn)
        if partitioned and (made := partitions.ensure(conn, now)):
            done["partitions_made"] = made
    with engine.begin() as conn:
        last = _last_run(conn, "retention")
    if last is None or now - last >= timedelta(days=1):
        dropped = {}
        if partitioned:  # its own transaction: the tables' lock ends at this commit
            with engine.begin() as conn:
                dropped = drop_weeks(conn, policy, now)
        with engine.begin() as conn:
            done["purged"] = {**dropped, **purge(conn, policy, now, weeks=False)}
            _record_run(conn, "retention", holder, now)
    if partitioned and (swept := sweep_data(engine, policy.retention["batch"],
                                            budget_seconds=policy.jobs["tick_seconds"] / 2)):
        done["data_swept"] = swept
    with engine.begin() as conn:
        if dictionaries.due(conn, now):  # zstd learns what this fleet's reports look like
            done["zstd_dictionary"] = dictionaries.train(conn, now)
    with engine.begin() as conn:  # evidence stored before 0015, once a dictionary exists
        if dictionaries.newest_id(conn) is not None and (packed := pack_legacy(conn, now)):
            done["evidence_packed"] = packed
    done["notifications"] = send_notifications(engine, policy, now,
                                               budget_seconds=policy.jobs["tick_seconds"])
    rollups.refresh(engine, now)  # the overview's counts, so pages only read them
    with engine.begin() as conn:  # the triggers' deltas, one row per group, state, level
        if folded := findingcounts.compact(conn):
            done["finding_counts_folded"] = folded
    late = report_rollup.refresh(engine, now, report_zone, trend_weeks)
    if late:  # closed weeks that late reports (an import, a backlog) reached: counted again
        done["weeks_recounted"] = sorted(late)
    with engine.begin() as conn:
        _record_run(conn, "tick", holder, now)
    return done


def run_worker(engine: sa.Engine, stop: threading.Event, *, holder: str | None = None,
               clock: Callable[[], datetime] = utcnow, report_zone: str = "UTC",
               trend_weeks: int = 12) -> None:
    """Loop until ``stop`` is set (or the parent process is gone)."""
    holder = holder or holder_id()
    parent = os.getppid()
    log.info("background worker started holder=%s", holder)
    try:
        while not stop.is_set():
            tick = 30
            try:
                with engine.connect() as conn:
                    tick = loader.current(conn).jobs["tick_seconds"]
                done = run_once(engine, holder, clock(), report_zone=report_zone,
                                trend_weeks=trend_weeks)
                if done:
                    log.debug("background round holder=%s %s", holder,
                              " ".join(f"{k}={v}" for k, v in done.items()))
            except sa.exc.SQLAlchemyError as e:  # the database is away: try again next tick
                log.error("background round failed holder=%s error=%r", holder, str(e)[:300])
            if os.getppid() != parent:
                log.info("background worker: parent process gone; stopping")
                break
            stop.wait(tick)
    finally:
        release(engine, holder)
        log.info("background worker stopped holder=%s", holder)
