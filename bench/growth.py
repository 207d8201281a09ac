"""Growth: dashboard pages and API queries at 100 and at 10,000 hosts (issue 8).

Each size gets its own collector data dir (``init``, SQLite), seeded directly with a year
of weekly reports per host and their findings (see ``seed.py``); then each page is
requested through the real app (Flask test client, an admin's database session) — one
warm-up, then the median of :data:`REPEAT` requests. Target: every page at 10,000 hosts
takes at most 3x its time at 100 hosts.

``HOSTPATROL_BENCH_GROWTH`` sets the sizes (default ``100,10000``),
``HOSTPATROL_BENCH_GROWTH_WEEKS`` the weekly reports per host (default 52; fewer where
the disk is short for 100,000 hosts);
``HOSTPATROL_BENCH_GROWTH_DB`` the backends: ``sqlite`` (default), ``postgresql`` (a
throw-away database per size, ``bench/pgtemp``; its weekly partitions made as the seed
goes, as the background job would), or ``sqlite,postgresql``.
``HOSTPATROL_BENCH_GROWTH_DIR`` keeps the seeds there (SQLite files; PostgreSQL databases
``hp_growth_SIZE_WEEKSw``, not dropped) and re-uses them in the next run, migrated to the
newest schema.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from collector_proc import PASSWORD, BenchCollector, free_port  # noqa: E402
from fleet_sim import real_results  # noqa: E402
from seed import seed  # noqa: E402

SIZES = tuple(int(x) for x in os.environ.get("HOSTPATROL_BENCH_GROWTH", "100,10000").split(","))
# sqlite (a data dir's file), postgresql (a throw-away database each, bench/pgtemp), or both
BACKENDS = tuple(os.environ.get("HOSTPATROL_BENCH_GROWTH_DB", "sqlite").split(","))
WEEKS = int(os.environ.get("HOSTPATROL_BENCH_GROWTH_WEEKS", "52"))  # fewer: 100,000 hosts
REPEAT = 7
RATIO_TARGET = 3.0
BASE = "https://localhost"


def pages(ids: list[str]) -> list[tuple[str, str]]:
    """(name, path) of what is timed; the dossier is of a host with a full year."""
    host = ids[len(ids) // 2]
    return [
        ("overview /", "/"),
        ("hosts list /hosts", "/hosts"),
        ("hosts list, last page", "/hosts?page=PAGE_LAST"),
        ("hosts search ?q=", "/hosts?q=sim-00042"),
        ("hosts filter state=silent", "/hosts?state=silent"),
        ("hosts filter tag=internet", "/hosts?tag=internet"),  # a full page at each size
        ("host dossier /hosts/ID", f"/hosts/{host}"),
        ("findings register /findings", "/findings"),
        ("findings overdue level IV", "/findings?overdue=1&level=IV"),
        ("API GET /api/v1/hosts", "/api/v1/hosts"),
        ("API GET /api/v1/hosts?q=", "/api/v1/hosts?q=sim-00042"),
        ("API GET /api/v1/hosts/ID", f"/api/v1/hosts/{host}"),
        ("API GET /api/v1/findings", "/api/v1/findings"),
        ("API GET /api/v1/findings?state=open", "/api/v1/findings?state=open&limit=100"),
    ]


def prepare(size: int, work: Path, results: list[dict],
            database_url: str | None = None) -> tuple[Any, Any, list[str]]:
    """Seed ``size`` hosts (or re-use a seed; SQLite only); return (app, signed-in client,
    agent ids)."""
    from hostpatrol.collector.app import create_app
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.store import accounts
    from hostpatrol.collector.store import users as user_store
    from hostpatrol.collector.store.db import upgrade
    from hostpatrol.shared.clock import utcnow

    backend = "pg" if database_url else "g"
    c = BenchCollector(work / f"{backend}{size}" / "data", free_port(), database_url)
    marker = c.data_dir.parent / "seeded.txt"  # HOSTPATROL_BENCH_GROWTH_DIR re-uses a seed
    if not marker.exists():
        shutil.rmtree(c.data_dir.parent, ignore_errors=True)
        c.data_dir.parent.mkdir(parents=True)
        c.init()
        marker.unlink(missing_ok=True)
    saved = os.environ.get("HOSTPATROL_DATABASE_URL")
    os.environ.update({"HOSTPATROL_DATABASE_URL": database_url} if database_url else {})
    try:
        app = create_app(load_config(c.data_dir))
    finally:
        os.environ.pop("HOSTPATROL_DATABASE_URL", None)
        if saved is not None:
            os.environ["HOSTPATROL_DATABASE_URL"] = saved
    engine = app.extensions["hostpatrol.engine"]
    upgrade(engine)  # a re-used seed made before the newest migration
    t0 = time.perf_counter()
    if marker.exists():
        ids = marker.read_text().split()
    else:
        ids = seed(engine, results, size, weeks=WEEKS)
        marker.write_text("\n".join(ids))
    seeded = time.perf_counter() - t0
    if database_url:  # what autovacuum does over the year the seed stands for, in a minute
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # statistics, and the visibility map
    with engine.begin() as conn:
        uid = user_store.add_user(conn, f"bench{time.time_ns()}", "admin", PASSWORD, utcnow())
        token = accounts.open_session(conn, uid, now=utcnow(), lifetime=timedelta(hours=2),
                                      ip="127.0.0.1")
    client = app.test_client()
    with client.session_transaction(base_url=BASE) as sess:
        sess["sid"] = token
    if database_url:
        with engine.connect() as conn:
            size_mb = conn.exec_driver_sql("SELECT pg_database_size(current_database())"
                                           ).scalar() / 1e6
    else:
        size_mb = sum(p.stat().st_size for p in c.data_dir.glob("hostpatrol.db*")) / 1e6
    print(f"  seeded {size} hosts x {WEEKS} weekly reports in {seeded:.0f} s "
          f"(database {size_mb:.0f} MB)")
    return app, client, ids


def _get(client: Any, path: str) -> float | None:
    t = time.perf_counter()
    resp = client.get(path, base_url=BASE)
    dt = time.perf_counter() - t
    if resp.status_code == 404 and path.startswith("/findings"):
        return None  # the page does not exist in this version
    if resp.status_code != 200:
        msg = f"{path}: HTTP {resp.status_code} {resp.get_data(as_text=True)[:300]}"
        raise RuntimeError(msg)
    return dt


def measure(sized: dict[int, tuple[Any, Any, list[str]]]) -> dict[int, dict[str, float]]:
    """Median seconds per page and size; requests to the sizes interleaved, so that load
    from elsewhere on the machine hits both alike."""
    out: dict[int, dict[str, float]] = {size: {} for size in sized}
    big = max(sized)
    for name, path in pages(sized[big][2]):
        times: dict[int, list[float]] = {size: [] for size in sized}
        for i in range(REPEAT + 1):
            for size, (_app, client, ids) in sized.items():
                own = path.replace(sized[big][2][len(sized[big][2]) // 2],
                                   ids[len(ids) // 2])
                own = own.replace("PAGE_LAST", str(max(1, (size + 49) // 50)))
                dt = _get(client, own)
                if dt is not None and i:
                    times[size].append(dt)
        for size, ts in times.items():
            if ts:
                out[size][name] = statistics.median(ts)
    return out


def run() -> list[str]:
    """Seed both sizes on each backend, time every page, compare."""
    missed = []
    for backend in BACKENDS:
        if backend == "postgresql" and (why := pgtemp.available()):
            missed.append(f"growth on PostgreSQL: {why}")
            continue
        print(f"growth on {backend}:")
        missed += _run(backend)
    return missed


def _run(backend: str) -> list[str]:
    keep = os.environ.get("HOSTPATROL_BENCH_GROWTH_DIR")
    with tempfile.TemporaryDirectory(prefix="hp-bench-growth-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(keep or tmp)
        cache = Path(os.environ.get("HOSTPATROL_BENCH_CHECKS", work / "check.json"))
        results = real_results(cache)
        sized = {}
        for size in SIZES:
            print(f"[{size} hosts]")
            url = None
            if backend == "postgresql" and keep:  # a database kept beside the seed's marker
                seeded = (work / f"pg{size}" / "seeded.txt").exists()
                url = pgtemp.kept(f"hp_growth_{size}_{WEEKS}w", fresh=not seeded)
            elif backend == "postgresql":
                url = stack.enter_context(pgtemp.database())
            sized[size] = prepare(size, work, results, url)
        try:
            figures = measure(sized)
        finally:
            for app, _client, _ids in sized.values():
                app.extensions["hostpatrol.engine"].dispose()
    small, big = SIZES[0], SIZES[-1]
    print(f"{'page':40s} {small:>7d} hosts {big:>7d} hosts   ratio (target <= {RATIO_TARGET:g})")
    missed = []
    for name, t_small in figures[small].items():
        t_big = figures[big].get(name)
        if t_big is None:
            continue
        ratio = t_big / t_small
        flag = "" if ratio <= RATIO_TARGET else "   <-- missed"
        print(f"{name:40s} {1000 * t_small:9.1f} ms {1000 * t_big:9.1f} ms {ratio:8.2f}{flag}")
        if ratio > RATIO_TARGET:
            missed.append(f"{name}: {1000 * t_big:.0f} ms at {big} hosts = {ratio:.1f}x "
                          f"{1000 * t_small:.0f} ms at {small}")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
