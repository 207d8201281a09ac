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

``ensure`` makes the partitions of last week, this week and the next ``AHEAD`` weeks; a
week's rows that went to the default partition meanwhile move into its new partition.
Names come only from ``TABLES`` and dates, never from input.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

TABLES = ("reports", "check_results")
WEEK = timedelta(days=7)
AHEAD = 2  # weeks made ahead of now: ingest never waits for the background job


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

    Rows of that week in the default partition move into it: the table is locked
    against inserts (EXCLUSIVE: reads go on) while they move and it is attached.
    """
    if start in weeks(conn, table):
        return False
    part, default = name(table, start), default_name(table)
    lo, hi = bound(start), bound(start + WEEK)
    where = f"received_at >= {lo} AND received_at < {hi}"
    conn.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    if conn.exec_driver_sql(f"SELECT 1 FROM {default} WHERE {where} LIMIT 1").first():  # noqa: S608
        conn.exec_driver_sql(f"CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS)")
        conn.exec_driver_sql(f"INSERT INTO {part} SELECT * FROM {default} WHERE {where}")  # noqa: S608
        conn.exec_driver_sql(f"DELETE FROM {default} WHERE {where}")  # noqa: S608
        conn.exec_driver_sql(f"ALTER TABLE {table} ATTACH PARTITION {part} "
                             f"FOR VALUES FROM ({lo}) TO ({hi})")
    else:
        conn.exec_driver_sql(f"CREATE TABLE {part} PARTITION OF {table} "
                             f"FOR VALUES FROM ({lo}) TO ({hi})")
    return True


def ensure(conn: sa.Connection, now: datetime) -> list[str]:
    """Make the partitions of last week, this week and ``AHEAD`` weeks on; their names."""
    made = []
    first = week_start(now) - WEEK
    for k in range(AHEAD + 2):
        start = first + k * WEEK
        for table in TABLES:  # reports first: ingest inserts in that order too
            if create_week(conn, table, start):
                made.append(name(table, start))
    return made


# the newest result of every check of every host, and the report holding it, are kept
_KEEP = {
    "check_results": "SELECT result_id FROM host_latest",
    "reports": "SELECT c.report_pk FROM host_latest h JOIN check_results c "
               "ON c.id = h.result_id",
}


def drop_week(conn: sa.Connection, table: str, start: datetime) -> int:
    """Drop ``table``'s partition of the week from ``start`` after moving the rows it
    keeps to the default partition; how many it kept.

    A results week also deletes the result_data rows only its results named.
    """
    part = name(table, start)
    conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {part}")
    kept = conn.exec_driver_sql(  # the week has no partition now: they go to the default
        f"INSERT INTO {table} SELECT * FROM {part} "  # noqa: S608
        f"WHERE id IN ({_KEEP[table]})").rowcount
    if table == "check_results":  # index ix_check_results_data on every partition
        conn.exec_driver_sql(
            f"DELETE FROM result_data d WHERE d.id IN (SELECT data_id FROM {part}) "  # noqa: S608
            "AND NOT EXISTS (SELECT 1 FROM check_results c WHERE c.data_id = d.id)")
    conn.exec_driver_sql(f"DROP TABLE {part}")
    return kept


def drop_expired(conn: sa.Connection, evidence_cutoff: datetime | None,
                 results_cutoff: datetime | None) -> dict[str, int]:
    """Drop the weeks wholly older than the cutoffs (None: never); what went and stayed.

    A week's results go when either cutoff passed it (results go with their evidence),
    its reports when the evidence cutoff did: results first, so the reports kept are
    those of the newest results still there.
    """
    cuts = {"check_results": max((c for c in (evidence_cutoff, results_cutoff) if c),
                                 default=None),
            "reports": evidence_cutoff}
    out = {"weeks_dropped": 0, "rows_kept": 0}
    for table in ("check_results", "reports"):
        cut = cuts[table]
        if cut is None:
            continue
        for start in sorted(weeks(conn, table)):
            if start + WEEK <= cut:
                out["rows_kept"] += drop_week(conn, table, start)
                out["weeks_dropped"] += 1
    return out
