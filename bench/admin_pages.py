"""The agents page at 150 and at 1,500 agents, and the cost of counting a closed week again
when late reports for it arrive (issue 21).

Each size gets its own collector data dir (``init``, SQLite) with its agents inserted
directly and one report a host in the last closed week. The agents page (first and last
page) is requested through the real app (Flask test client, an admin's session): one
warm-up, then the median of :data:`REPEAT`. Then every host's report for that week arrives
late (a backlog after an outage) and the background refresh that counts the week again is
timed, as is a refresh with nothing late (the scan alone). Judged by ratios measured in the
same run: the agents page at 1,500 agents against 150 (target <= 3x), and the recount's
cost per host at both sizes.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collector_proc import PASSWORD, BenchCollector, free_port  # noqa: E402

SIZES = (150, 1500)
REPEAT = 9
RATIO_TARGET = 3.0
BASE = "https://localhost"


def _report_rows(ids: list[str], at: Any, received: Any) -> list[dict]:
    return [{"agent_id": a, "report_id": str(uuid.uuid4()), "seq": 1, "created_at": at,
             "received_at": received, "schedule": "weekly", "source": "import",
             "sha256": "0" * 64, "jws": "x"} for a in ids]


def prepare(size: int, work: Path) -> tuple[Any, Any, list[str]]:
    """A data dir with ``size`` agents (10 pending), one report each in the last week."""
    from hostpatrol.collector.app import create_app
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.reports import rollup
    from hostpatrol.collector.store import accounts
    from hostpatrol.collector.store import users as user_store
    from hostpatrol.collector.store.schema import agents
    from hostpatrol.shared.clock import utcnow

    c = BenchCollector(work / f"a{size}" / "data", free_port())
    c.data_dir.parent.mkdir(parents=True)
    c.init()
    app = create_app(load_config(c.data_dir))
    engine = app.extensions["hostpatrol.engine"]
    now = utcnow()
    last, _ = rollup.week_keys(now, "UTC", 2)
    ids = [str(uuid.uuid4()) for _ in range(size)]
    with engine.begin() as conn:
        conn.execute(agents.insert(), [{
            "id": a, "kid": uuid.uuid4().hex, "public_key": "x",
            "status": "pending" if i < 10 else "active", "hostname": f"host-{i:05d}",
            "group_name": f"branch-{i % 20:02d}", "os_name": "Debian GNU/Linux 12",
            "enrolled_at": last.start - timedelta(days=7), "enroll_ip": "10.0.0.1",
            "last_seen_at": now} for i, a in enumerate(ids)])
        _insert_week(conn, ids, last.start + timedelta(days=2), last.start + timedelta(days=2))
        uid = user_store.add_user(conn, "bench", "admin", PASSWORD, now)
        token = accounts.open_session(conn, uid, now=now, lifetime=timedelta(hours=2),
                                      ip="127.0.0.1")
    client = app.test_client()
    with client.session_transaction(base_url=BASE) as sess:
        sess["sid"] = token
    return app, client, ids


def _insert_week(conn: Any, ids: list[str], at: Any, received: Any) -> None:
    import sqlalchemy as sa
    from hostpatrol.collector.store import partitions
    from hostpatrol.collector.store.schema import check_results, reports

    rows = _report_rows(ids, at, received)
    if partitions.partitioned(conn):  # the week's partitions, as the job makes them
        partitions.ensure(conn, received)
    conn.execute(reports.insert(), rows)
    pks = dict(conn.execute(sa.select(reports.c.report_id, reports.c.id).where(
        reports.c.report_id.in_([r["report_id"] for r in rows]))).all())
    conn.execute(check_results.insert(), [{
        "report_pk": pks[r["report_id"]], "agent_id": r["agent_id"], "check_name": "disk",
        "status": "ok", "started_at": at, "duration_ms": 5, "data": {},
        "received_at": received} for r in rows])


def _median_get(client: Any, path: str) -> float:
    times = []
    for i in range(REPEAT + 1):
        t = time.perf_counter()
        resp = client.get(path, base_url=BASE)
        dt = time.perf_counter() - t
        if resp.status_code != 200:
            msg = f"{path}: HTTP {resp.status_code}"
            raise RuntimeError(msg)
        if i:
            times.append(dt)
    return statistics.median(times)


def recount(app: Any, ids: list[str]) -> tuple[float, float]:
    """Seconds of a refresh with nothing late, then of one that counts the week again
    after every host's late report for it arrived."""
    from hostpatrol.collector.reports import rollup
    from hostpatrol.shared.clock import utcnow

    engine = app.extensions["hostpatrol.engine"]
    now = utcnow()
    last, _ = rollup.week_keys(now, "UTC", 2)
    rollup.refresh(engine, now, "UTC", 12)  # every week counted once
    # within the live window's refresh time (30 s): what is timed is the scan alone (the
    # median of five: the first write after the seed also pays SQLite's WAL checkpoint)
    idles = []
    for i in range(5):
        t = time.perf_counter()
        assert rollup.refresh(engine, now + timedelta(seconds=5 + i), "UTC", 12) == set()
        idles.append(time.perf_counter() - t)
    idle = statistics.median(idles)
    with engine.begin() as conn:
        _insert_week(conn, ids, last.start + timedelta(days=3), now + timedelta(seconds=12))
    t = time.perf_counter()
    late = rollup.refresh(engine, now + timedelta(seconds=20), "UTC", 12)
    busy = time.perf_counter() - t
    assert len(late) == 1, late
    return idle, busy


def run() -> list[str]:
    """Both sizes: agents page timings and the late-week recount; the ratios."""
    missed: list[str] = []
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hp-bench-admin-") as tmp:
        for size in SIZES:
            app, client, ids = prepare(size, Path(tmp))
            try:
                last_page = -(-size // 50)
                idle, busy = recount(app, ids)
                figures[size] = {"first": _median_get(client, "/agents"),
                                 "last": _median_get(client, f"/agents?page={last_page}"),
                                 "idle": idle, "busy": busy}
            finally:
                app.extensions["hostpatrol.engine"].dispose()
    small, big = SIZES
    print(f"{'':44s} {small:>6d} agents {big:>6d} agents   ratio")
    for name, label in (("first", "agents page 1 (pending first)"),
                        ("last", "agents page, last page")):
        ratio = figures[big][name] / figures[small][name]
        flag = "" if ratio <= RATIO_TARGET else "   <-- missed"
        print(f"{label:44s} {1000 * figures[small][name]:9.1f} ms "
              f"{1000 * figures[big][name]:9.1f} ms {ratio:7.2f}{flag}")
        if ratio > RATIO_TARGET:
            missed.append(f"{label}: {ratio:.1f}x at {big} agents (target {RATIO_TARGET:g}x)")
    print(f"{'trend refresh, nothing late (scan only)':44s} "
          f"{1000 * figures[small]['idle']:9.1f} ms {1000 * figures[big]['idle']:9.1f} ms "
          f"{figures[big]['idle'] / figures[small]['idle']:7.2f}")
    print(f"{'closed week recounted after late reports':44s} "
          f"{1000 * figures[small]['busy']:9.1f} ms {1000 * figures[big]['busy']:9.1f} ms "
          f"{figures[big]['busy'] / figures[small]['busy']:7.2f}")
    per_small = 1e6 * figures[small]["busy"] / small
    per_big = 1e6 * figures[big]["busy"] / big
    print(f"{'  per host':44s} {per_small:9.0f} us {per_big:9.0f} us "
          f"{per_big / per_small:7.2f}")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
