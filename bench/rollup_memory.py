"""Rollup memory: what the overview's compliance rollup costs the background process as the
fleet grows (issue 22: the lease holder's memory followed the fleet's data).

Each size is seeded directly (``seed.py``: two weekly reports per host, all 13 checks, four
findings per host) on SQLite (a file) and PostgreSQL (a throw-away database), at a Friday
noon, so there is a closed week and a running week. Then each window the background
refreshes is judged twice, under ``tracemalloc`` (Python's allocations; the process's RSS
keeps its highest peak):

- **whole**: the fleet at once, as before this change (the running week from a window
  function over the week's results, ``windows.for_period``);
- **sliced**: :data:`rollup.SLICE` hosts at a time (``rollup._per_group``), the running
  week from each host's newest results (``windows.running``).

Both must give the same figures. Targets: the sliced peak at the largest size is at most
:data:`FLAT` x its peak at the smallest (memory flat in the fleet's size), and the sliced
wall time at most :data:`SLOWER` x the whole one.

``HOSTPATROL_BENCH_ROLLUP`` sets the sizes (default ``2000,20000``),
``HOSTPATROL_BENCH_ROLLUP_DB`` the backends (default ``sqlite,postgresql``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from fleet_sim import real_results  # noqa: E402
from seed import seed  # noqa: E402

SIZES = tuple(int(x) for x in os.environ.get("HOSTPATROL_BENCH_ROLLUP", "2000,20000").split(","))
BACKENDS = tuple(os.environ.get("HOSTPATROL_BENCH_ROLLUP_DB", "sqlite,postgresql").split(","))
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday: a closed and a running week
WEEKS = 2
FLAT = 1.5
SLOWER = 1.5


def _measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, peak MB of Python allocations, seconds)."""
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return out, peak, dt


def _judges(now: datetime) -> dict[str, tuple[Callable, Callable]]:
    """window → (whole, sliced) judges of (conn, part)."""
    from hostpatrol.collector.reports import rollup, windows
    from hostpatrol.collector.reports.period import current_week, parse

    running = parse(current_week(now, "UTC"), "UTC")
    closed = parse(current_week(running.start - timedelta(days=3), "UTC"), "UTC")

    def live(conn: Any, part: Any) -> Any:
        return windows.live(conn, now, part=part)

    def week(p: Any) -> Callable:
        return lambda conn, part: windows.for_period(conn, p.start, p.end, min(p.end, now),
                                                     part=part)

    return {"live window": (live, live),
            "running week": (week(running), rollup._judge(running, now)),
            "closed week": (week(closed), rollup._judge(closed, now))}


def _one(url: str, size: int, results: list[dict]) -> dict[str, dict[str, float]]:
    from hostpatrol.collector.reports import rollup
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
        t = time.perf_counter()
        seed(engine, results, size, weeks=WEEKS, now=NOW)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"  [{size} hosts] seeded in {time.perf_counter() - t:.0f} s")
        out = {}
        for name, (whole, sliced) in _judges(NOW).items():
            with engine.connect() as conn:
                a, a_mb, a_s = _measure(lambda w=whole, c=conn: rollup._per_group(c, w, 10**9))
            with engine.connect() as conn:
                b, b_mb, b_s = _measure(lambda s=sliced, c=conn: rollup._per_group(c, s))
            hosts = sum(g[""][0] for g in b.values())
            print(f"  {name:13s} whole {a_mb:7.1f} MB {a_s:6.2f} s   sliced {b_mb:6.1f} MB "
                  f"{b_s:6.2f} s   ({hosts} hosts; figures {'equal' if a == b else 'DIFFER'})")
            out[name] = {"whole_mb": a_mb, "whole_s": a_s, "mb": b_mb, "s": b_s,
                         "equal": float(a == b)}
        return out
    finally:
        engine.dispose()


def run() -> list[str]:
    """Seed each size on each backend, judge every window both ways, compare."""
    missed = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-rollup-") as tmp:
        results = real_results(Path(tmp) / "check.json")
        for backend in BACKENDS:
            if backend == "postgresql" and (why := pgtemp.available()):
                missed.append(f"PostgreSQL: {why}")
                continue
            print(f"rollup memory on {backend} (slice {_slice()} hosts):")
            figures = {}
            for size in SIZES:
                with contextlib.ExitStack() as stack:
                    url = stack.enter_context(pgtemp.database()) if backend == "postgresql" \
                        else f"sqlite:///{Path(tmp) / f'{size}.db'}"
                    figures[size] = _one(url, size, results)
            missed += _compare(backend, figures)
    return missed


def _slice() -> int:
    from hostpatrol.collector.reports import rollup

    return rollup.SLICE


def _compare(backend: str, figures: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    small, big = SIZES[0], SIZES[-1]
    missed = []
    print(f"  {'window':13s} whole MB per 1,000 hosts   peak at {big} / at {small} hosts: "
          f"sliced (target <= {FLAT:g}), whole   time sliced / whole at {big} "
          f"(target <= {SLOWER:g})")
    for name, f in figures[big].items():
        flat = f["mb"] / figures[small][name]["mb"]
        grew = f["whole_mb"] / figures[small][name]["whole_mb"]
        slower = f["s"] / f["whole_s"]
        print(f"  {name:13s} {1000 * f['whole_mb'] / big:24.2f}   {flat:15.2f}x {grew:22.2f}x"
              f"   {slower:11.2f}x")
        if flat > FLAT:
            missed.append(f"{backend} {name}: sliced peak grew {flat:.2f}x from {small} to "
                          f"{big} hosts (target <= {FLAT:g})")
        if slower > SLOWER:
            missed.append(f"{backend} {name}: sliced {slower:.2f}x the whole fleet's time")
        for size in SIZES:
            if not figures[size][name]["equal"]:
                missed.append(f"{backend} {name} at {size} hosts: sliced figures differ")
    return missed


if __name__ == "__main__":
    sys.exit(1 if run() else 0)
