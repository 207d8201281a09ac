"""Scale-out (issue 8): two collector processes on one PostgreSQL.

Both serve the same data dir contents (TLS certificate, collector signing key, secret —
as a deployment behind a load balancer must) on two ports; each starts its background
worker. Agent processes deliver every report to *both* collectors at the same moment (the
worst case a load balancer retrying on another backend produces), one report per request,
and half of the reports again in batches. Checks: every report is acknowledged, stored
exactly once (rows in ``reports`` and ``check_results``), exactly one answer per report
says "accepted"; the background lease has one holder and the daily retention job ran once.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from collector_proc import BenchCollector, PinnedConnection, free_port  # noqa: E402
from fleet_sim import ReportFactory, SimHost, kind_at, real_results  # noqa: E402
from ingest import checks_cache, enroll_fleet  # noqa: E402

HOSTS = 60
PROCESSES = 4
PER_PROCESS = 300
JOSE = {"Content-Type": "application/jose"}


def _child(ports: list[int], fingerprint: str, factory: ReportFactory, hosts: list[SimHost],
           out: Any) -> None:
    items = [factory.signed(hosts[i % len(hosts)], kind_at(i)) for i in range(PER_PROCESS)]
    conns = [PinnedConnection(p, fingerprint, timeout=120) for p in ports]
    answers: list[str] = []
    errors: list[str] = []

    busy = [0]

    def post(k: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        # a 429/503 is retried as an agent would (sooner than Retry-After: a benchmark)
        for _ in range(120):
            status, _, data = conns[k].request("POST", "/api/v1/reports", body, headers)
            if status not in (429, 503):
                break
            busy[0] += 1
            time.sleep(0.5)
        return status, data

    with ThreadPoolExecutor(2) as pool:
        half = len(items) // 2
        for token in items[:half]:  # one report per request, to both at once
            for status, data in pool.map(lambda k, t=token: post(k, t.encode(), JOSE),
                                         range(2)):
                if status in (200, 201):
                    answers.append(json.loads(data)["result"])
                else:
                    errors.append(f"HTTP {status} {data[:200]!r}")
        rest = items[half:]
        for i in range(0, len(rest), 25):  # batches, to both at once
            body = json.dumps({"reports": rest[i:i + 25]}).encode()
            for status, data in pool.map(
                    lambda k, b=body: post(k, b, {"Content-Type": "application/json"}),
                    range(2)):
                if status != 200:
                    errors.append(f"HTTP {status} {data[:200]!r}")
                    continue
                for r in json.loads(data)["results"]:
                    answers.append(r["result"] if r["ok"] else f"rejected:{r['error']}")
    for c in conns:
        c.close()
    out.put((len(items), answers, errors, busy[0]))


def _lease_holders(url: str, seconds: float) -> set[str]:
    """Who held the background lease, sampled every second while both collectors run."""
    import sqlalchemy as sa
    from hostpatrol.collector.store.db import make_engine

    engine = make_engine(url)
    seen: set[str] = set()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with engine.connect() as conn:
                seen.update(conn.execute(sa.text(
                    "SELECT holder FROM leases WHERE name = 'background'")).scalars())
            time.sleep(1)
    finally:
        engine.dispose()
    return seen


def _twin(a: BenchCollector, port: int, url: str) -> BenchCollector:
    """A second collector sharing ``a``'s certificate, signing key, secret and database."""
    b = BenchCollector(a.data_dir.parent / f"data-{port}", port, database_url=url)
    shutil.copytree(a.data_dir, b.data_dir, ignore=shutil.ignore_patterns("run", "*.db*"))
    cfg = b.data_dir / "collector.yaml"
    cfg.write_text(cfg.read_text().replace(f"127.0.0.1:{a.port}", f"127.0.0.1:{port}"))
    b.fingerprint = a.fingerprint
    return b


def run() -> list[str]:
    """Measure; return missed targets."""
    import sqlalchemy as sa

    why = pgtemp.available()
    if why is not None:
        print(why)
        return [why]
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-scaleout-") as tmp, \
            pgtemp.database() as url:
        work = Path(tmp)
        factory = ReportFactory(real_results(checks_cache(work)))
        a = BenchCollector(work / "data", free_port(), database_url=url)
        a.init()
        b = _twin(a, free_port(), url)
        a.start()
        b.start()
        try:
            hosts = enroll_fleet(a, HOSTS, seed=77)
            ctx = mp.get_context("fork")
            out = ctx.Queue()
            procs = [ctx.Process(target=_child, args=(
                [a.port, b.port], a.fingerprint, factory, hosts[p::PROCESSES], out))
                for p in range(PROCESSES)]
            t0 = time.monotonic()
            for p in procs:
                p.start()
            sent, answers, errors, busy = 0, [], [], 0
            for _ in procs:
                n, ans, err, retried = out.get(timeout=900)
                sent, answers, errors, busy = sent + n, answers + ans, errors + err, busy + retried
            for p in procs:
                p.join(30)
            wall = time.monotonic() - t0
            holders = _lease_holders(url, seconds=40)  # both workers tick at least once
        finally:
            a.stop()
            b.stop()
        from hostpatrol.collector.store.db import make_engine

        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one()
                dupes = conn.execute(sa.text(
                    "SELECT count(*) FROM (SELECT agent_id, report_id FROM reports GROUP BY "
                    "agent_id, report_id HAVING count(*) > 1) d")).scalar_one()
                results = conn.execute(sa.text("SELECT count(*) FROM check_results")
                                       ).scalar_one()
                expected_results = conn.execute(sa.text(
                    "SELECT count(*) FROM reports r CROSS JOIN LATERAL "
                    "json_array_elements((convert_from(decode(translate(split_part(r.jws, '.', "
                    "2), '-_', '+/') || repeat('=', (4 - length(split_part(r.jws, '.', 2)) % 4)"
                    " % 4), 'base64'), 'UTF8'))::json -> 'results') e")).scalar_one()
                jobs = dict(conn.execute(sa.text("SELECT name, runs FROM job_runs")).all())
        finally:
            engine.dispose()
    accepted = answers.count("accepted")
    duplicates = answers.count("duplicate")
    print(f"two collectors on one PostgreSQL, {PROCESSES} agent processes, {HOSTS} agents; "
          f"every report sent to both at once ({wall:.1f} s)")
    print(f"  reports sent {sent} (x2 = {2 * sent} deliveries): accepted {accepted}, "
          f"duplicate {duplicates}, other {len(answers) - accepted - duplicates}, "
          f"HTTP errors {len(errors)}; 429 answers retried {busy}")
    print(f"  stored: reports {stored}, duplicated rows {dupes}, check results {results} "
          f"(expected from the stored evidence {expected_results})")
    print(f"  background lease holder(s) seen over 40 s: {sorted(holders)}; job runs: retention "
          f"{jobs.get('retention')}, ticks {jobs.get('tick')}")
    if errors:
        missed.append(f"scale-out: {len(errors)} HTTP errors, e.g. {errors[0]}")
    if stored != sent or accepted != sent or duplicates != sent:
        missed.append(f"scale-out: sent {sent}, stored {stored}, accepted {accepted}, "
                      f"duplicates {duplicates}")
    if dupes or results != expected_results:
        missed.append(f"scale-out: {dupes} reports stored twice; {results} results for "
                      f"{expected_results} expected")
    if len(holders) != 1 or jobs.get("retention") != 1 or (jobs.get("tick") or 0) < 2:
        missed.append(f"scale-out: lease holders {holders}, retention ran "
                      f"{jobs.get('retention')} times")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
