"""Soak: a simulated fleet on an accelerated schedule against one collector for a long time.

Every simulated agent delivers a report each ``--interval`` seconds (its 15-minute
heartbeat, compressed; the daily and weekly runs mixed in as in ``fleet_sim.MIX``) for
``--minutes``. Meanwhile the collector's processes (server master, web workers, background
worker) are sampled: resident memory and open file descriptors. At the end every report
sent is looked up in the database by id.

Targets: memory flat (the last quarter's median within 15 % of the second quarter's),
open files flat (last sample within 10 of the second quarter's largest), every report
accounted for (stored exactly once, nothing refused). Not part of the tests or CI:

    .venv/bin/python bench/soak.py --agents 1000 --minutes 30      # the full soak
    .venv/bin/python bench/soak.py --agents 1000 --minutes 2       # a quick look
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collector_proc import BenchCollector, free_port  # noqa: E402
from fleet_sim import ReportFactory, SimHost, kind_at, real_results  # noqa: E402
from ingest import checks_cache, enroll_fleet  # noqa: E402

MEMORY_GROWTH_MAX = 0.15
FD_GROWTH_MAX = 10


def _processes(root: psutil.Process) -> list[psutil.Process]:
    return [root, *root.children(recursive=True)]


def sample(pid: int) -> tuple[int, int]:
    """(RSS bytes, open fds) summed over the collector's process tree."""
    rss = fds = 0
    for p in _processes(psutil.Process(pid)):
        try:
            rss += p.memory_info().rss
            fds += p.num_fds()
        except psutil.Error:
            continue
    return rss, fds


def _sender(c: BenchCollector, work: queue.Queue, sent: list[str], outcomes: Counter,
            lock: threading.Lock) -> None:
    conn = c.connection()
    try:
        while True:
            item = work.get()
            if item is None:
                return
            report_id, token = item
            for attempt in range(20):
                try:
                    status, answer = conn.post_json("/api/v1/reports", {"reports": [token]})
                except OSError:
                    conn.close()
                    time.sleep(0.5)
                    continue
                result = answer.get("results", [{}])[0].get("result") if status == 200 \
                    else f"http_{status}"
                if result in ("accepted", "duplicate") or attempt == 19:
                    break
                time.sleep(0.5)  # 429/503: come back, as the agent's spool would
            with lock:
                sent.append(report_id)
                outcomes[result] += 1
    finally:
        conn.close()


def _report_id(token: str) -> str:
    import json

    from hostpatrol.shared.keys import b64url_decode

    return json.loads(b64url_decode(token.split(".")[1]))["report_id"]


def soak(agents: int, minutes: float, interval: float, senders: int,
         database_url: str | None) -> dict[str, Any]:
    """Run the soak; return the figures."""
    work_dir = Path(tempfile.mkdtemp(prefix="hp-soak-"))
    c = BenchCollector(work_dir / "data", free_port(), database_url=database_url)
    c.init()
    c.start("--workers", "2")
    try:
        factory = ReportFactory(real_results(checks_cache(work_dir)))
        hosts: list[SimHost] = enroll_fleet(c, agents, seed=9)
        work: queue.Queue = queue.Queue(maxsize=agents * 2)
        sent: list[str] = []
        outcomes: Counter = Counter()
        lock = threading.Lock()
        threads = [threading.Thread(target=_sender, args=(c, work, sent, outcomes, lock),
                                    daemon=True) for _ in range(senders)]
        for t in threads:
            t.start()
        samples: list[tuple[float, int, int]] = []
        start = time.monotonic()
        end = start + minutes * 60
        next_sample = start
        tick = 0
        lag = 0.0
        while time.monotonic() < end:
            round_start = time.monotonic()
            for i, host in enumerate(hosts):  # one round = one interval of the fleet
                token = factory.signed(host, kind_at(tick * len(hosts) + i))
                work.put((_report_id(token), token))
                if time.monotonic() >= next_sample:
                    rss, fds = sample(c.proc.pid)
                    samples.append((time.monotonic() - start, rss, fds))
                    next_sample += 10
            tick += 1
            spent = time.monotonic() - round_start
            lag = max(lag, spent - interval)
            time.sleep(max(0.0, interval - spent))
        for _ in threads:
            work.put(None)
        for t in threads:
            t.join(600)
        rss, fds = sample(c.proc.pid)
        samples.append((time.monotonic() - start, rss, fds))
        stored = Counter(_stored_ids(c))
        return _figures(agents, minutes, interval, samples, sent, outcomes, stored, lag)
    finally:
        c.stop()


def _stored_ids(c: BenchCollector) -> list[str]:
    from hostpatrol.collector.store.db import make_engine

    url = c.database_url or f"sqlite:///{c.data_dir / 'hostpatrol.db'}"
    engine = make_engine(url)
    try:
        import sqlalchemy as sa

        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT report_id FROM reports")).scalars())
    finally:
        engine.dispose()


def _figures(agents: int, minutes: float, interval: float,
             samples: list[tuple[float, int, int]], sent: list[str], outcomes: Counter,
             stored: Counter, lag: float) -> dict[str, Any]:
    n = len(samples)
    q2 = samples[n // 4: n // 2] or samples
    q4 = samples[3 * n // 4:] or samples
    rss_q2 = statistics.median(s[1] for s in q2)
    rss_q4 = statistics.median(s[1] for s in q4)
    fds_q2 = max(s[2] for s in q2)
    missing = [rid for rid in sent if stored[rid] == 0]
    doubled = [rid for rid, k in stored.items() if k > 1]
    return {
        "agents": agents, "minutes": minutes, "interval_s": interval,
        "reports_sent": len(sent), "rate_per_s": round(len(sent) / (minutes * 60), 1),
        "outcomes": dict(outcomes), "stored": sum(stored.values()),
        "missing": len(missing), "stored_twice": len(doubled),
        "rss_mb_q2": round(rss_q2 / 2**20, 1), "rss_mb_q4": round(rss_q4 / 2**20, 1),
        "rss_growth": round(rss_q4 / rss_q2 - 1, 3),
        "fds_q2_max": fds_q2, "fds_last": samples[-1][2], "samples": n,
        "schedule_lag_s": round(lag, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, soak, print the figures; exit 1 when a target is missed."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--interval", type=float, default=30.0,
                   help="seconds between two reports of one agent (its 15 minutes)")
    p.add_argument("--senders", type=int, default=16)
    p.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite")
    args = p.parse_args(argv)
    f = soak(args.agents, args.minutes, args.interval, args.senders, args.database_url)
    for key, value in f.items():
        print(f"{key:18} {value}")
    problems = []
    if f["missing"] or f["stored_twice"] or f["stored"] != f["reports_sent"]:
        problems.append("reports not accounted for")
    if set(f["outcomes"]) - {"accepted"}:
        problems.append(f"outcomes other than accepted: {f['outcomes']}")
    if f["rss_growth"] > MEMORY_GROWTH_MAX:
        problems.append(f"memory grew {f['rss_growth']:.1%}")
    if f["fds_last"] > f["fds_q2_max"] + FD_GROWTH_MAX:
        problems.append("open files grew")
    for line in problems:
        print(f"TARGET MISSED: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
