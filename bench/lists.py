"""The dashboard's lists at 150 and 1,500 hosts: host list (sorted, searched), register,
software view, and their CSV/XLSX exports; and the per-host ingest cost of the facts tables.

Each size gets its own collector data dir (SQLite), seeded directly (``seed.py``, two weekly
reports per host, findings); each host's facts (packages, pending updates, addresses,
users) are then built from this machine's real inventory, patches and accounts results,
varied per host, by the same function ingest calls (``hostfacts.store``), timed: first
build, and a report whose facts did not change. Pages and exports go through the real app
(Flask test client, an admin's session): one warm-up, then the median of :data:`REPEAT`.
Printed: time per page at each size and their ratio; for exports and the facts, the cost
per row or host and its ratio. Targets: a page of 50 rows takes at most 3x at 10x the
hosts (as ``growth``); an export's and the facts' per-unit cost at most 2x. The software
export's unit is what it reads (every host's every package), not the rows it writes.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collector_proc import PASSWORD, BenchCollector, free_port  # noqa: E402
from fleet_sim import real_results  # noqa: E402
from seed import seed  # noqa: E402

SIZES = tuple(int(x) for x in os.environ.get("HOSTPATROL_BENCH_LISTS", "150,1500").split(","))
REPEAT = 5
PAGE_TARGET = 3.0
UNIT_TARGET = 2.0
BASE = "https://localhost"
PAGES = (
    ("hosts, by hostname", "/hosts"),
    ("hosts, by last seen desc", "/hosts?sort=last_seen&dir=desc"),
    ("hosts, search an address", "/hosts?q=10.0.42.42"),
    ("hosts, search a package", "/hosts?q=PACKAGE"),
    ("hosts, security update pending", "/hosts?state=active&security=1"),
    ("register, by deadline", "/findings?sort=deadline"),
    ("software, package prefix", "/software?q=PREFIX"),
    ("software, everything", "/software"),
)
EXPORTS = (
    ("hosts.csv", "/hosts.csv", "hosts"),
    ("hosts.xlsx", "/hosts.xlsx", "hosts"),
    ("findings.csv", "/findings.csv?state=", "findings"),
    ("findings.xlsx", "/findings.xlsx?state=", "findings"),
    ("software.csv", "/software.csv", "host-packages"),
)


def _facts_data(results: list[dict[str, Any]], i: int) -> list[tuple[str, dict[str, Any]]]:
    """(check, data) of host ``i``: the real results with its own address, a tenth of its
    packages at another version, and pending updates on every third host."""
    base = {r["check"]: r["data"] for r in results}
    inv = copy.deepcopy(base["inventory"])
    inv["interfaces"] = [{"name": "eth0", "mac": None, "addresses": [
        {"address": f"10.{i // 250}.{i % 250}.42", "netmask": None, "family": "ipv4"}]}]
    for n, p in enumerate(inv["software"]["packages"]):
        if n % 10 == i % 10:
            p["version"] = f"{p['version']}+h{i % 3}"
    patches = copy.deepcopy(base["patches"])
    if i % 3:
        patches["updates"] = []
    return [("inventory", inv), ("patches", patches), ("accounts", base["accounts"])]


def prepare(size: int, work: Path, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed ``size`` hosts and their facts; return the app, a signed-in client and timings."""
    from hostpatrol.collector.app import create_app
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.store import accounts, hostfacts
    from hostpatrol.collector.store import users as user_store
    from hostpatrol.shared.clock import utcnow

    c = BenchCollector(work / f"l{size}" / "data", free_port())
    c.init()
    app = create_app(load_config(c.data_dir))
    engine = app.extensions["hostpatrol.engine"]
    ids = seed(engine, results, size, weeks=2)
    data = [_facts_data(results, i) for i in range(size)]
    upgraded = copy.deepcopy(data)  # the next week: a tenth of each host's packages upgraded
    for checks in upgraded:
        for n, p in enumerate(checks[0][1]["software"]["packages"]):
            if n % 10 == 5:
                p["version"] += "+1"
    timed = {}
    for label, rounds in (("facts, first build", data), ("facts, unchanged", data),
                          ("facts, a tenth upgraded", upgraded)):
        t = time.perf_counter()
        for aid, checks in zip(ids, rounds, strict=True):
            with engine.begin() as conn:
                hostfacts.store(conn, [(aid, check, d) for check, d in checks])
        timed[label] = (time.perf_counter() - t) / size
    with engine.begin() as conn:
        uid = user_store.add_user(conn, f"bench{time.time_ns()}", "admin", PASSWORD, utcnow())
        token = accounts.open_session(conn, uid, now=utcnow(), lifetime=timedelta(hours=2),
                                      ip="127.0.0.1")
    client = app.test_client()
    with client.session_transaction(base_url=BASE) as sess:
        sess["sid"] = token
    packages = data[0][0][1]["software"]["packages"]
    return {"client": client, "timed": timed, "package": packages[len(packages) // 2]["name"],
            "packages": len(packages)}


def _get(client: Any, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    resp = client.get(path, base_url=BASE)
    dt = time.perf_counter() - t
    if resp.status_code != 200:
        msg = f"{path}: HTTP {resp.status_code}"
        raise RuntimeError(msg)
    body = resp.get_data()
    rows = body.count(b"\n") - 1 if path.split("?")[0].endswith(".csv") else 0
    return dt, rows


def _median(sized: dict[int, dict[str, Any]], path: str) -> dict[int, tuple[float, int]]:
    times: dict[int, list[float]] = {s: [] for s in sized}
    rows: dict[int, int] = {}
    for i in range(REPEAT + 1):
        for size, p in sized.items():  # interleaved: load from elsewhere hits both alike
            own = path.replace("PACKAGE", p["package"]).replace("PREFIX", p["package"][:3])
            dt, n = _get(p["client"], own)
            rows[size] = n
            if i:
                times[size].append(dt)
    return {s: (statistics.median(ts), rows[s]) for s, ts in times.items()}


def run() -> list[str]:
    """Measure both sizes; compare."""
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-lists-") as tmp:
        work = Path(tmp)
        results = real_results(Path(os.environ.get("HOSTPATROL_BENCH_CHECKS",
                                                   work / "check.json")))
        sized = {size: prepare(size, work, results) for size in SIZES}
        small, big = SIZES[0], SIZES[-1]
        print(f"  {sized[small]['packages']} packages per host")
        print(f"{'page (50 rows)':34s} {small:>7d} h {big:>8d} h  ratio "
              f"(target <= {PAGE_TARGET:g})")
        for name, path in PAGES:
            m = _median(sized, path)
            ratio = m[big][0] / m[small][0]
            flag = "" if ratio <= PAGE_TARGET else "   <-- missed"
            print(f"{name:34s} {1000 * m[small][0]:7.1f} ms {1000 * m[big][0]:7.1f} ms "
                  f"{ratio:6.2f}{flag}")
            if ratio > PAGE_TARGET:
                missed.append(f"{name}: {ratio:.1f}x at {big} hosts")
        print(f"{'export / facts, per unit':34s} {small:>7d} h {big:>8d} h  ratio "
              f"(target <= {UNIT_TARGET:g})")
        units: list[tuple[str, float, float, str]] = []
        counts: dict[str, dict[int, int]] = {}
        for name, path, unit in EXPORTS:
            m = _median(sized, path)
            if unit == "host-packages":  # what it reads: every host's every package
                counts[unit] = {s: s * sized[s]["packages"] for s in m}
            elif name.endswith(".csv"):
                counts[unit] = {s: m[s][1] for s in m}
            n = counts[unit]
            units.append((f"{name} ({n[small]:,} / {n[big]:,} {unit})",
                          m[small][0] / max(1, n[small]), m[big][0] / max(1, n[big]), "row"))
        for label in sized[small]["timed"]:
            units.append((label, sized[small]["timed"][label], sized[big]["timed"][label],
                          "host"))
        for name, a, b, unit in units:
            ratio = b / a if a else 0.0
            flag = "" if ratio <= UNIT_TARGET else "   <-- missed"
            print(f"{name:44s} {1000 * a:8.4f} ms {1000 * b:8.4f} ms/{unit} {ratio:6.2f}{flag}")
            if ratio > UNIT_TARGET:
                missed.append(f"{name}: {ratio:.1f}x per {unit} at {big} hosts")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
