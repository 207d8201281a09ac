"""Retention on PostgreSQL: dropping a week's partitions against deleting its rows (issue 22).

Two fresh databases at migration 0017 (reports and check_results partitioned by week,
store.partitions) get the same rows: one is purged by dropping the weeks, the other by
deleting the rows one by one in batches, as retention did before 0017 (``retention.purge``
with ``weeks=False``: the same statements, the same rows kept). Each holds
two weeks of heartbeats (one report and one result each, a tenth of the results naming a
shared result_data row) from :data:`HOSTS` hosts: an old week past a 30-day policy and a
recent one. A hundredth of the hosts stopped reporting after the old week: their newest
results, and the reports holding them, must survive. Then ``retention.purge`` runs once on
each, with the same policy and the same "now":

- seconds, per million rows purged (the drop's with the sweep of the data rows its week
  named), and how long the drop's transaction took (it ends holding both tables' lock:
  ingest waits that long at most);
- WAL written, per row purged (``pg_current_wal_insert_lsn``; the cluster's, so the machine
  should be quiet);
- bloat: of the bytes the purged rows took (the two tables' bytes, partitions, indexes
  and TOAST counted, times the share of rows purged), the share given back to the file
  system: a DELETE leaves dead rows in place (VACUUM makes them reusable, only VACUUM FULL
  gives them back, locking the tables while it rewrites them); a dropped partition's files
  are gone;
- that both stores keep the same rows: every host's newest result, its report and its data;
- how the drop's time grows: a third store, with a quarter of the rows, is dropped too.

The rows are written with ``INSERT ... SELECT generate_series`` (the ingest path's speed is
``bench/ingest``); ``HOSTPATROL_BENCH_RETENTION_ROWS`` sets the reports of the old week
(default 1,000,000). A 100,000-host month is 288 million heartbeats: the figures are per
row, and the DELETE's are extrapolated to that month.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402

ROWS = int(os.environ.get("HOSTPATROL_BENCH_RETENTION_ROWS", "1000000"))
HOSTS = 10_000
DAYS = 30
MONTH_REPORTS = 100_000 * 96 * 30  # a 100,000-host month of 15-minute heartbeats
SPEEDUP_TARGET = 10.0  # the drop at least 10x faster than the DELETE, and 10x less WAL
RETURNED_TARGET = 0.8  # of the purged rows' bytes, the share the purge gave back


def _seed(engine, old, new, rows: int) -> None:  # noqa: ANN001
    """HOSTS agents; ``rows`` heartbeats in the old week, a quarter as many in the new one
    (``old`` and ``new``: Mondays; the rows spread over the week's first six days)."""
    import sqlalchemy as sa
    from hostpatrol.collector.store import partitions

    received = ", received_at"
    with engine.begin() as conn:
        for when in (old, new):
            for table in partitions.TABLES:
                partitions.create_week(conn, table, when)
        conn.execute(sa.text(
            "INSERT INTO agents (id, kid, public_key, status, hostname, enrolled_at) "
            "SELECT 'agent-' || lpad(i::text, 8, '0'), 'kid-' || i, 'pk', 'active', "
            "'sim-' || i, :old FROM generate_series(0, :n - 1) AS i"), {"old": old, "n": HOSTS})
        conn.execute(sa.text(  # one shared data row per host
            "INSERT INTO result_data (id, digest, body) SELECT i + 1, "
            "decode(md5(i::text), 'hex'), decode(repeat(md5(i::text), 4), 'hex') "
            "FROM generate_series(0, :n - 1) AS i"), {"n": HOSTS})
        for start, count in ((old, rows), (new, rows // 4)):
            first = conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM reports")).scalar()
            # report i: host i % HOSTS, spread over the first six days of the week; its body
            # about a packed heartbeat's size (bench/storage), not compressible further
            conn.execute(sa.text(
                "INSERT INTO reports (id, agent_id, report_id, seq, created_at, received_at, "
                "schedule, source, body, dict_id) SELECT :first + i, "
                "'agent-' || lpad((i % :hosts)::text, 8, '0'), md5(i::text || :tag), i, "
                ":start + make_interval(secs => i * 518400.0 / :count), "
                ":start + make_interval(secs => i * 518400.0 / :count + 1), 'heartbeat', "
                "'http', decode(repeat(md5(i::text || :tag), 20), 'hex'), NULL "
                "FROM generate_series(1, :count) AS i"),
                {"first": first, "hosts": HOSTS, "tag": str(start), "start": start,
                 "count": count})
            # ``received`` is one of two constants, never input
            columns = "id, report_pk, agent_id, check_name, status, started_at, duration_ms, " \
                f"data_id{received}"
            chosen = f"(id / 10) % :hosts + 1 END{received} FROM reports WHERE id > :first"
            results = f"INSERT INTO check_results ({columns}) SELECT id, id, agent_id, " \
                f"'disk', 'ok', created_at, 3, CASE WHEN id % 10 = 0 THEN {chosen}"  # noqa: S608
            conn.execute(sa.text(results), {"first": first, "hosts": HOSTS})
        # every host's newest disk result: in the new week, but for one host in a hundred
        newest = ("INSERT INTO host_latest (agent_id, check_name, result_id, status, "  # noqa: S608
                  f"started_at{received}) SELECT DISTINCT ON (agent_id) agent_id, 'disk', id, "
                  f"'ok', started_at{received} FROM check_results WHERE agent_id NOT LIKE "
                  "'%00' OR started_at < :mid ORDER BY agent_id, id DESC")
        conn.execute(sa.text(newest), {"mid": new - timedelta(days=1)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
        conn.exec_driver_sql("VACUUM ANALYZE")


def _bytes(conn) -> int:  # noqa: ANN001
    import sqlalchemy as sa

    return int(conn.execute(sa.text(
        "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
        "WHERE c.relkind = 'r' AND COALESCE(pg_partition_root(c.oid)::text, c.relname) "
        "IN ('reports', 'check_results')")).scalar())


def _orphans(conn) -> int:  # noqa: ANN001
    """result_data rows that no result names."""
    import sqlalchemy as sa

    return conn.execute(sa.text(
        "SELECT COUNT(*) FROM result_data d WHERE NOT EXISTS "
        "(SELECT 1 FROM check_results c WHERE c.data_id = d.id)")).scalar()


def _kept(conn) -> tuple:  # noqa: ANN001
    """What must survive: each host's newest result, its report and its data row."""
    import sqlalchemy as sa

    return tuple(conn.execute(sa.text(
        "SELECT h.agent_id, c.id, r.id, c.data_id, d.id FROM host_latest h "
        "JOIN check_results c ON c.id = h.result_id JOIN reports r ON r.id = c.report_pk "
        "LEFT JOIN result_data d ON d.id = c.data_id ORDER BY h.agent_id")).all())


def _purge(url: str, drop: bool, now, rows: int) -> dict:  # noqa: ANN001
    import sqlalchemy as sa
    from hostpatrol.collector.background import sweep_data
    from hostpatrol.collector.policy import loader
    from hostpatrol.collector.retention import purge
    from hostpatrol.collector.store import partitions
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    this_week = partitions.week_start(now)  # the old week is six weeks back, the new one last
    _seed(engine, this_week - 6 * partitions.WEEK, this_week - partitions.WEEK,
          rows)
    with engine.connect() as conn:
        text = loader.text_of(conn)[1]
        before_rows = conn.execute(sa.text("SELECT COUNT(*) FROM reports")).scalar() + \
            conn.execute(sa.text("SELECT COUNT(*) FROM check_results")).scalar()
    policy = loader.parse_text(text.replace("evidence_days: 400", f"evidence_days: {DAYS}")
                               .replace("results_days: 400", f"results_days: {DAYS}"),
                               source="bench", version=0)
    with engine.connect() as conn:
        # every seeded row in its week's partition, none in the default
        assert not conn.execute(sa.text("SELECT 1 FROM reports_default")).first()
        held_before = _bytes(conn)
        orphans_before = _orphans(conn)
        wal0 = conn.execute(sa.text("SELECT pg_current_wal_insert_lsn()")).scalar()
    t0 = time.perf_counter()
    with engine.begin() as conn:
        done = purge(conn, policy, now, weeks=drop)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()  # the dropped weeks' data rows, a batch a transaction
    swept = sweep_data(engine, policy.retention["batch"], budget_seconds=3600) \
        if drop else 0
    sweep_seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        wal = conn.execute(sa.text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :a)"),
                           {"a": wal0}).scalar()
        held = _bytes(conn)
        left = conn.execute(sa.text("SELECT COUNT(*) FROM reports")).scalar() + \
            conn.execute(sa.text("SELECT COUNT(*) FROM check_results")).scalar()
        kept = _kept(conn)
        orphans = _orphans(conn) - orphans_before
    engine.dispose()
    purged = before_rows - left
    return {"seconds": seconds + sweep_seconds, "wal": float(wal), "purged": purged,
            "kept": kept, "sweep_seconds": sweep_seconds, "swept": swept, "locked": seconds,
            "returned": (held_before - held) / (held_before * purged / before_rows),
            "orphans": orphans, "done": done}


def run() -> list[str]:
    """Purge the same old week both ways; the missed targets."""
    from hostpatrol.shared.clock import utcnow

    why = pgtemp.available()
    if why:
        return [f"retention: {why}"]
    now = utcnow()
    out = {}
    for key, drop, rows in (("small", True, ROWS // 4), ("drop", True, ROWS),
                                   ("delete", False, ROWS)):
        with pgtemp.database() as url:
            out[key] = _purge(url, drop, now, rows)
    drop, delete, small = out["drop"], out["delete"], out["small"]
    print(f"retention on PostgreSQL, an old week of {ROWS:,} heartbeats "
          f"(+ {ROWS // 4:,} recent) from {HOSTS:,} hosts, 30-day policy:")
    print(f"  {'':28}{'drop partitions':>18}{'delete rows':>16}{'ratio':>9}")
    for label, key, scale, unit in (("time", "seconds", 1, "s"), ("WAL", "wal", 1e-6, "MB")):
        a, b = drop[key] * scale, delete[key] * scale
        print(f"  {label:28}{a:>16.2f}{unit:>2}{b:>14.2f}{unit:>2}{b / max(a, 1e-9):>8.1f}x")
    for label, fn in (("seconds per million rows", lambda r: r["seconds"] / r["purged"] * 1e6),
                      ("WAL bytes per row purged", lambda r: r["wal"] / r["purged"]),
                      ("share of their bytes given back", lambda r: r["returned"])):
        print(f"  {label:28}{fn(drop):>18.3f}{fn(delete):>16.3f}")
    print(f"  rows purged: {drop['purged']:,} / {delete['purged']:,}; kept rows "
          f"{'equal' if drop['kept'] == delete['kept'] else 'DIFFER'} "
          f"({len(drop['kept'])} hosts); data rows left that no result names: {drop['orphans']} / "
          f"{delete['orphans']}")
    print(f"  the drop's transaction (its end holds the tables' lock: ingest waits) "
          f"{drop['locked']:.2f} s; then {drop['swept']:,} data rows the week named settled "
          f"in {drop['sweep_seconds']:.2f} s, a batch a transaction (included above)")
    print(f"  the drop with a quarter of the rows: {small['seconds']:.2f} s "
          f"(4x the rows took {drop['seconds'] / small['seconds']:.1f}x the time)")
    month = MONTH_REPORTS * 2  # a report and a result each
    print(f"  a 100,000-host month ({MONTH_REPORTS / 1e6:.0f} M heartbeats) at these rates: "
          f"DELETE {delete['seconds'] / delete['purged'] * month / 3600:.1f} h and "
          f"{delete['wal'] / delete['purged'] * month / 1e9:.0f} GB of WAL")
    missed = []
    if drop["kept"] != delete["kept"]:
        missed.append("retention: the two stores kept different rows")
    if drop["orphans"] or delete["orphans"]:
        missed.append("retention: result_data rows left that no result names")
    if delete["seconds"] / drop["seconds"] < SPEEDUP_TARGET:
        missed.append(f"retention: drop only {delete['seconds'] / drop['seconds']:.1f}x faster")
    if delete["wal"] / drop["wal"] < SPEEDUP_TARGET:
        missed.append(f"retention: drop only {delete['wal'] / drop['wal']:.1f}x less WAL")
    if drop["returned"] < RETURNED_TARGET:
        missed.append(f"retention: the drop gave back {drop['returned']:.0%} of the bytes")
    return missed


if __name__ == "__main__":
    sys.exit(1 if run() else 0)
