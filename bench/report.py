"""The self-inspection report at 100 and 1,000 hosts: figures, PDF, Word, CSV, and the
overview's compliance rollup (live window and one report week).

Each size gets its own collector data dir (SQLite), seeded directly with a year of weekly
reports per host and their findings (``seed.py``); the report of the newest week is then
computed and rendered in Chinese through the real app, and so are the files approval
freezes (HTML, Word, CSV in both languages). Printed: seconds per step and the cost per
host or per problem listed, and the ratio of the big size's per-unit cost to the
small one's. Target: per-unit costs grow at most 2x from the small size to the big one
(the report stays linear in what it lists; the rollup linear in hosts).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collector_proc import BenchCollector, free_port  # noqa: E402
from fleet_sim import real_results  # noqa: E402
from seed import seed  # noqa: E402

SIZES = tuple(int(x) for x in os.environ.get("HOSTPATROL_BENCH_REPORT", "100,1000").split(","))
WEEKS = 52
RATIO_TARGET = 2.0


def measure(size: int, work: Path, results: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds for each step at ``size`` hosts, plus the counts they are divided by."""
    from hostpatrol.collector.app import create_app
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.reports import rollup, windows
    from hostpatrol.collector.reports.content import build
    from hostpatrol.collector.reports.period import current_week, parse
    from hostpatrol.collector.web.report_render import preview_meta, render, render_all
    from hostpatrol.shared.clock import utcnow

    c = BenchCollector(work / f"r{size}" / "data", free_port())
    c.init()
    app = create_app(load_config(c.data_dir))
    engine = app.extensions["hostpatrol.engine"]
    now = utcnow()
    seed(engine, results, size, weeks=WEEKS, now=now)
    period = parse(current_week(now, "UTC"), "UTC")
    out: dict[str, float] = {"hosts": size}
    with app.test_request_context(), engine.connect() as conn:
        t = time.perf_counter()
        content = build(conn, period, preview_meta(period), now)
        out["figures"] = time.perf_counter() - t
        out["problems"] = len(content["figures"]["problems"])
        for fmt in ("pdf", "docx", "csv"):
            t = time.perf_counter()
            body = render(content, fmt, "zh-CN")
            out[fmt] = time.perf_counter() - t
            out[f"{fmt}_bytes"] = len(body)
        t = time.perf_counter()
        render_all(content, "0" * 64)  # what approval renders and freezes
        out["approve"] = time.perf_counter() - t
        t = time.perf_counter()
        windows.live(conn, now)
        out["live"] = time.perf_counter() - t
    t = time.perf_counter()
    rollup.refresh(engine, now + timedelta(minutes=1), "UTC", weeks=1)
    out["rollup"] = time.perf_counter() - t
    engine.dispose()
    return out


def run() -> list[str]:
    """Measure every size; compare per-unit costs."""
    with tempfile.TemporaryDirectory(prefix="hp-bench-report-") as tmp:
        work = Path(tmp)
        results = real_results(Path(os.environ.get("HOSTPATROL_BENCH_CHECKS",
                                                   work / "check.json")))
        figures = {}
        for size in SIZES:
            figures[size] = measure(size, work, results)
            f = figures[size]
            print(f"  {size:>6} hosts, {int(f['problems']):>6} problems listed: figures "
                  f"{f['figures']:.2f} s, PDF {f['pdf']:.1f} s ({f['pdf_bytes'] / 1e6:.1f} MB), "
                  f"Word {f['docx']:.1f} s, CSV {f['csv']:.2f} s, approval's files "
                  f"{f['approve']:.1f} s, live compliance "
                  f"{f['live']:.2f} s, rollup refresh {f['rollup']:.2f} s")
    small, big = figures[SIZES[0]], figures[SIZES[-1]]
    units = {"figures": "hosts", "pdf": "problems", "docx": "problems", "csv": "problems",
             "approve": "problems", "live": "hosts", "rollup": "hosts"}
    missed = []
    print(f"{'step':10s} {'per unit, small':>18s} {'per unit, big':>16s}  ratio "
          f"(target <= {RATIO_TARGET:g})")
    for step, unit in units.items():
        a = small[step] / max(1, small[unit])
        b = big[step] / max(1, big[unit])
        ratio = b / a if a else 0.0
        flag = "" if ratio <= RATIO_TARGET else "   <-- missed"
        print(f"{step:10s} {1000 * a:14.3f} ms/{unit[:4]} {1000 * b:12.3f} ms/{unit[:4]} "
              f"{ratio:6.2f}{flag}")
        if ratio > RATIO_TARGET:
            missed.append(f"{step}: {1000 * b:.3f} ms per {unit[:-1]} at {SIZES[-1]} hosts = "
                          f"{ratio:.1f}x the {1000 * a:.3f} ms at {SIZES[0]}")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
