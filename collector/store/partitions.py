"""PostgreSQL: ``reports`` and ``check_results`` partitioned by week of arrival (migration 0017).

Both tables are partitioned by ``received_at`` (when the collector received the report; a
result carries its report's), one partition per UTC week from Monday 00:00:
``reports_p20261130`` and ``check_results_p20261130``. A report and its results always
share a week. Rows of a week without a partition go to ``reports_default`` and
``check_results_default``: rows that arrive before the week's partition was made, and
the newest results of hosts kept when their week was dropped.

Retention (``drop_expired``) drops a week's partitions once the whole week is older than
the cutoff, instead of deleting its rows one by one: no dead rows, no vacuum, little WAL.
A week's rows stay up to a week longer than the policy's days. The newest result of every
check of every host, and its report, are first moved to the default partition. Rows there
are purged one by one as on SQLite (``retention``).

``ensure`` makes the partitions of this week and the next ``AHEAD`` weeks; a week's rows
that went to the default partition meanwhile move into its new partition. A past week is
never made again: a week retention dropped stays dropped, and rows of a week the job
missed stay in the default partition until they are purged one by one.
Names come only from ``TABLES`` and dates, never from input.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from . import resultstore
from .schema import result_data_candidates

TABLES = ("reports", "check_results")
WEEK = timedelta(days=7)
AHEAD = 2  # weeks made ahead of now: ingest never waits for the background job
# how long the job waits for the tables' lock, below deadlock_timeout (1 s by default): when
# a page reads results then reports while the job holds one and waits for the other, the
# job gives way, never the page
LOCK_WAIT_MS = 500
LOCK_TRIES = 3


class Busy(Exception):  # noqa: N818 - a state, not a failure
    """The tables could not be locked now (a long reader, a busy moment): next round."""


def lock_tables(conn: sa.Connection) -> None:
    """Lock both tables exclusively, in ingest's order (reports, then results), at once in
    the mode a partition's change needs (a weaker lock raised later could wait in a circle
    with an ingest that read before it writes); ``Busy`` after ``LOCK_TRIES`` short waits."""
    for attempt in range(LOCK_TRIES):
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
                conn.exec_driver_sql("LOCK TABLE reports, check_results IN ACCESS EXCLUSIVE MODE")
        except sa.exc.OperationalError as e:
            if getattr(e.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            time.sleep(0.1 * (attempt + 1))
            continue
        conn.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
        return
    msg = f"reports and check_results stayed locked through {LOCK_TRIES} tries"
    raise Busy(msg)


def week_start(t: datetime) -> datetime:
    """Monday 00:00 UTC of ``t``'s week."""
    t = t.astimezone(UTC)
    day = datetime(t.year, t.month, t.day, tzinfo=UTC)
    return day - timedelta(days=day.weekday())


def name(table: str, start: datetime) -> str:
    """The partition of ``table`` for the week from ``start``."""
    return f"{table}_p{start:%Y%m%d}"


def default_name(table: str) -> str:
    """The partition of ``table`` for rows of weeks without one."""
    return f"{table}_default"


def bound(t: datetime) -> str:
    """``t`` as a timestamptz literal of a partition bound."""
    return f"'{t:%Y-%m-%d %H:%M:%S}+00'"


def partition_of(table: str, start: datetime, parent: str | None = None) -> str:
    """``CREATE TABLE`` of ``table``'s partition for the week from ``start``, of ``parent``
    (default ``table``; the migration builds under another name)."""
    return (f"CREATE TABLE {name(table, start)} PARTITION OF {parent or table} "
            f"FOR VALUES FROM ({bound(start)}) TO ({bound(start + WEEK)})")


def partitioned(conn: sa.Connection) -> bool:
    """Whether ``reports`` is partitioned here (PostgreSQL at migration 0017 or later)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.exec_driver_sql(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'reports'::regclass").first())


def weeks(conn: sa.Connection, table: str) -> dict[datetime, str]:
    """``table``'s week partitions: week start -> partition name."""
    rows = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}).scalars()
    out = {}
    prefix = f"{table}_p"
    for relname in rows:
        if relname.startswith(prefix) and relname[len(prefix):].isdigit():
            out[datetime.strptime(relname[len(prefix):], "%Y%m%d").replace(tzinfo=UTC)] = relname
    return out


def create_week(conn: sa.Connection, table: str, start: datetime) -> bool:
    """Make ``table``'s partition for the week from ``start``; False if it was there.

    Rows of that week in the default partition move into it. Both tables are locked
    first (``lock_tables``; ``Busy`` when they cannot be now): reads and writes wait a few
    milliseconds, longer only while such rows move.
    """
    if start in weeks(conn, table):
        return False
    part, default = name(table, start), default_name(table)
    lo, hi = bound(start), bound(start + WEEK)
    where = f"received_at >= {lo} AND received_at < {hi}"
    lock_tables(conn)
    if conn.exec_driver_sql(f"SELECT 1 FROM {default} WHERE {where} LIMIT 1").first():  # noqa: S608
        conn.exec_driver_sql(f"CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS)")
        conn.exec_driver_sql(f"INSERT INTO {part} SELECT * FROM {default} WHERE {where}")  # noqa: S608
        conn.exec_driver_sql(f"DELETE FROM {default} WHERE {where}")  # noqa: S608
        conn.exec_driver_sql(f"ALTER TABLE {table} ATTACH PARTITION {part} "
                             f"FOR VALUES FROM ({lo}) TO ({hi})")
    else:
        conn.exec_driver_sql(partition_of(table, start))
    return True


def ensure(conn: sa.Connection, now: datetime) -> list[str]:
    """Make the partitions of this week and ``AHEAD`` weeks on; their names (those made
    before the tables were too busy to lock, if they were: the rest next round)."""
    made: list[str] = []
    for k in range(AHEAD + 1):
        start = week_start(now) + k * WEEK
        for table in TABLES:  # reports first: ingest inserts in that order too
            try:
                if create_week(conn, table, start):
                    made.append(name(table, start))
            except Busy:
                return made
    return made


def _kept(table: str, lo: str, hi: str) -> str:
    """The ids of ``table`` that the week from ``lo`` to ``hi`` keeps: the newest result of
    every check of every host, and the report holding it. host_latest says which week
    holds each (a row stored before 0017 has no received_at: it is looked for everywhere),
    so a week is searched by id for the few rows it keeps, not read through."""
    week = f"(h.received_at IS NULL OR (h.received_at >= {lo} AND h.received_at < {hi}))"
    if table == "check_results":
        return f"SELECT h.result_id FROM host_latest h WHERE {week}"  # noqa: S608
    return ("SELECT c.report_pk FROM host_latest h JOIN check_results c "  # noqa: S608
            f"ON c.id = h.result_id WHERE {week}")


def drop_week(conn: sa.Connection, table: str, start: datetime) -> int:
    """Drop ``table``'s partition of the week from ``start`` after moving the rows it
    keeps to the default partition; how many it kept. The caller holds both tables'
    lock (``drop_expired``)."""
    part = name(table, start)
    conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {part}")
    kept = conn.exec_driver_sql(  # the week has no partition now: they go to the default
        f"INSERT INTO {table} SELECT * FROM {part} "  # noqa: S608
        f"WHERE id IN ({_kept(table, bound(start), bound(start + WEEK))})").rowcount
    conn.exec_driver_sql(f"DROP TABLE {part}")
    return kept


def drop_expired(conn: sa.Connection, evidence_cutoff: datetime | None,
                 results_cutoff: datetime | None) -> dict[str, int]:
    """Drop the weeks wholly older than the cutoffs (None: never); what went and stayed.

    A week's results go when either cutoff passed it (results go with their evidence),
    its reports when the evidence cutoff did: results first, so the reports kept are
    those of the newest results still there. The result_data rows a dropped week's
    results named become candidates (``result_data_candidates``) that ``sweep_data``
    deletes later, once no result names them: looking for every one of them in every
    week would hold the lock for minutes at 100,000 hosts. Gathering them reads only the
    week's partial index of named rows, before the lock.
    """
    cuts = {"check_results": max((c for c in (evidence_cutoff, results_cutoff) if c),
                                 default=None),
            "reports": evidence_cutoff}
    due = [(table, start) for table in ("check_results", "reports") if cuts[table]
           for start in sorted(weeks(conn, table)) if start + WEEK <= cuts[table]]
    out = {"weeks_dropped": 0, "rows_kept": 0, "data_candidates": 0}
    if not due:
        return out
    try:
        with conn.begin_nested():  # all of it, or (tables busy) none of it: next round
            for table, start in due:
                if table == "check_results":  # index ix_check_results_data: named rows only
                    out["data_candidates"] += conn.exec_driver_sql(
                        "INSERT INTO result_data_candidates (data_id) SELECT DISTINCT "  # noqa: S608
                        f"data_id FROM {name(table, start)} WHERE data_id IS NOT NULL "
                        "ON CONFLICT DO NOTHING").rowcount
            # reads wait too (a partition is detached), for the few rows moved and the drops
            lock_tables(conn)
            for table, start in due:
                out["rows_kept"] += drop_week(conn, table, start)
    except Busy:
        return {"weeks_dropped": 0, "rows_kept": 0, "data_candidates": 0, "busy": 1}
    out["weeks_dropped"] = len(due)
    return out


def sweep_data(conn: sa.Connection, batch: int) -> int:
    """Delete up to ``batch`` candidate result_data rows that no result names (a dropped
    week's); how many candidates were settled (0: none left)."""
    ids = conn.execute(sa.select(result_data_candidates.c.data_id).order_by(
        result_data_candidates.c.data_id).limit(batch)).scalars().all()
    if not ids:
        return 0
    resultstore.drop_unnamed(conn, ids)
    conn.execute(result_data_candidates.delete().where(
        result_data_candidates.c.data_id.in_(ids)))
    return len(ids)
