"""Ingest throughput and latency (issue 8), on SQLite and on PostgreSQL.

Per backend: a collector made with ``init`` and run with ``serve`` (granian, TLS, the
default workers); simulated agents enrolled through the real API, each delivering first
the full inspection an agent runs when it starts; then
(a) the in-process floor — verify + parse + rules + store, no HTTP — one report per
call and in batches of 50, overall and per report kind; (b) over HTTPS from separate
processes, keep-alive, pre-signed: one report per request (hosts in turn), and batches of
50 that are each one agent's spool, as ``deliver_spool`` sends it, with p50/p99 latency;
(c) overload: far more concurrent senders than the collector admits, which must answer
429 with Retry-After (or succeed), never time out. The report mix is
:data:`fleet_sim.MIX` (672 heartbeats : 7 daily : 1 weekly, as one host's week).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceiling  # noqa: E402
import pgtemp  # noqa: E402
from collector_proc import BenchCollector, free_port  # noqa: E402
from fleet_sim import (  # noqa: E402
    ReportFactory,
    SimHost,
    enroll_body,
    kind_at,
    new_host,
    real_results,
)
from loadgen import Run, deliver, percentile_table  # noqa: E402

HOSTS = 400
BATCH = 50
SINGLE_TARGET = 1000.0
FLOOR_RATIO_TARGET = 0.5
BATCH_TARGET = 3000.0
P99_TARGET_MS = 250.0
DURATION = 10.0
# This VM's speed wanders by 15-30 % even within one run, and which worker each agent's
# connection lands on is the kernel's draw: each target phase runs REPEATS times and is
# judged on the median rate; p99 and CPU are taken over all the runs' requests.
REPEATS = 3
# The benchmark compresses a fleet's week into seconds: each simulated agent delivers
# far more often than 4 reports an hour, so its per-agent rate limit is opened up.
# Everything else is the configuration `init` writes.
BENCH_CONFIG = """
ingest:
  agent_rate_per_minute: 100000
  agent_burst: 100000
"""


def checks_cache(work: Path) -> Path:
    """Where the real inspection is kept (HOSTPATROL_BENCH_CHECKS reuses one between runs)."""
    return Path(os.environ.get("HOSTPATROL_BENCH_CHECKS", work / "check.json"))


def enroll_fleet(c: BenchCollector, count: int, seed: int) -> list[SimHost]:
    """``count`` simulated agents enrolled through POST /api/v1/enroll."""
    token = c.enroll_token(count)
    conn = c.connection()
    hosts = []
    try:
        for i in range(count):
            host, key = new_host(i, seed)
            status, answer = conn.post_json("/api/v1/enroll",
                                            enroll_body(key, token, host.hostname,
                                                        host.machine_id))
            if status != 201 or answer.get("status") != "active":
                msg = f"enrollment failed: {status} {answer}"
                raise RuntimeError(msg)
            host.agent_id = answer["agent_id"]
            hosts.append(host)
    finally:
        conn.close()
    return hosts


def first_inspections(c: BenchCollector, hosts: list[SimHost], factory: ReportFactory) -> None:
    """Each host's first report: the full inspection an agent runs when it starts (every
    check is due once), so the measured phases see a fleet whose findings are open, not
    one that opens them report after report."""
    conn = c.connection()
    try:
        for host in hosts:
            status, _, data = conn.request("POST", "/api/v1/reports",
                                           factory.signed(host, "weekly").encode(),
                                           {"Content-Type": "application/jose"})
            if status != 201:
                msg = f"first inspection refused: {status} {data[:300]!r}"
                raise RuntimeError(msg)
    finally:
        conn.close()


def floor(c: BenchCollector, hosts: list[SimHost], factory: ReportFactory) -> dict[str, float]:
    """In-process reports/s: verify + parse + rules + store, no HTTP."""
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.intake.ingest import ingest
    from hostpatrol.collector.intake.trust import Limits
    from hostpatrol.collector.store.db import make_engine

    cfg = load_config(c.data_dir)
    engine = make_engine(c.database_url or cfg.database_url)
    limits = Limits.from_config(cfg.ingest)
    out: dict[str, float] = {}

    def rate(tokens: list[str], batch: int) -> float:
        t0 = time.perf_counter()
        for i in range(0, len(tokens), batch):
            done = ingest(engine, tokens[i:i + batch], limits=limits)
            bad = [o for o in done if o.outcome != "accepted"]
            if bad:
                msg = f"floor: report not accepted: {bad[0]}"
                raise RuntimeError(msg)
        return len(tokens) / (time.perf_counter() - t0)

    try:
        ingest(engine, [factory.signed(hosts[0], "heartbeat")], limits=limits)  # warm up
        for kind, n in (("heartbeat", 600), ("daily", 100), ("weekly", 30)):
            out[kind] = rate([factory.signed(hosts[i % len(hosts)], kind)
                              for i in range(n)], 1)
        out["mix"] = rate([factory.signed(hosts[i % len(hosts)], kind_at(i))
                           for i in range(1500)], 1)
        out["mix_batch"] = rate([factory.signed(hosts[i % len(hosts)], kind_at(i))
                                 for i in range(3000)], BATCH)
    finally:
        engine.dispose()
    return out


def _overload_figures(run: Run) -> dict[str, Any]:
    codes: dict[int, int] = {}
    for s in run.samples:
        codes[s.status] = codes.get(s.status, 0) + 1
    refused = [s for s in run.samples if s.status in (429, 503)]
    return {"codes": codes, "refused": len(refused),
            "refused_without_retry_after": sum(1 for s in refused if not s.retry_after),
            "errors": len(run.errors),
            "p99_all_ms": 1000 * sorted(s.seconds for s in run.samples)[
                int(0.99 * (len(run.samples) - 1))] if run.samples else math.nan}


class Trials:
    """One target phase run REPEATS times: the median rate, the pooled requests."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs

    def rate(self) -> float:
        """The median run's reports/s."""
        return sorted(r.rate() for r in self.runs)[len(self.runs) // 2]

    def rates(self) -> str:
        """Each run's reports/s, in the order they ran."""
        return ", ".join(f"{r.rate():.0f}" for r in self.runs)

    @property
    def pooled(self) -> Run:
        """All runs as one: latency quantiles, answers and CPU over every request."""
        out = Run(samples=[s for r in self.runs for s in r.samples],
                  wall=sum(r.wall for r in self.runs),
                  errors=[e for r in self.runs for e in r.errors],
                  client_cpu=sum(r.client_cpu for r in self.runs))
        for r in self.runs:
            for k, v in r.server_cpu.items():
                out.server_cpu[k] = out.server_cpu.get(k, 0.0) + v
        return out


def trials(c: BenchCollector, factory: ReportFactory, hosts: list[SimHost],
           **kwargs: Any) -> Trials:
    """:func:`loadgen.deliver` REPEATS times against ``c``."""
    assert c.proc is not None  # noqa: S101 - started
    return Trials([deliver(c.port, c.fingerprint, factory, hosts, server_pid=c.proc.pid,
                           **kwargs) for _ in range(REPEATS)])


def cost_line(run: Run, backend: str) -> str:
    """CPU per accepted report: the collector's processes, PostgreSQL's, the generator's."""
    parts = [f"collector {run.cpu_ms_per_report(run.server_cpu.get('server', 0.0)):.3f} ms"]
    if backend == "postgresql":
        parts.append(f"postgres {run.cpu_ms_per_report(run.server_cpu.get('postgres', 0.0)):.3f}"
                     " ms")
    parts.append(f"load generator {run.cpu_ms_per_report(run.client_cpu):.3f} ms")
    return "    CPU per report: " + ", ".join(parts)


def measure(backend: str, url: str | None, work: Path, factory: ReportFactory) -> list[str]:
    """All ingest figures for one backend; returns missed targets."""
    c = BenchCollector(work / backend / "data", free_port(), database_url=url)
    c.data_dir.parent.mkdir(parents=True)
    c.init()
    c.write_config(BENCH_CONFIG)
    c.start()
    missed: list[str] = []
    try:
        hosts = enroll_fleet(c, HOSTS, seed=hash(backend) & 0xFFFF)
        first_inspections(c, hosts, factory)
        fl = floor(c, hosts, factory)
        assert c.proc is not None  # noqa: S101 - started above
        # a fleet delivers concurrently: 64 connections for single reports. A batch is one
        # agent's spool (50 of its reports); 4 agents catching up at once keep the
        # collector busy, and 12 only queue behind one another (printed for comparison)
        single_trials = trials(c, factory, hosts, processes=4, per_process=6000, batch=1,
                               duration=DURATION, senders=16)
        batched_trials = trials(c, factory, hosts, processes=4, per_process=12000,
                                batch=BATCH, duration=DURATION, senders=1)
        wide = deliver(c.port, c.fingerprint, factory, hosts, processes=4,
                       per_process=12000, batch=BATCH, duration=DURATION, senders=3,
                       server_pid=c.proc.pid)
        # overload: 256 concurrent senders of full batches, far more work in flight than
        # the workers admit at once (workers x ingest.max_concurrent = 96)
        over = deliver(c.port, c.fingerprint, factory, hosts, processes=4,
                       per_process=12800, batch=BATCH, duration=8.0, senders=64)
    finally:
        c.stop()
    stack = ceiling.measure(c, free_port(), factory, hosts, duration=DURATION)
    ov = _overload_figures(over)
    single, batched = single_trials.pooled, batched_trials.pooled
    single_rate, batched_rate = single_trials.rate(), batched_trials.rate()
    ratio = single_rate / fl["mix"]
    print(f"[{backend}] {HOSTS} agents enrolled through the API; mix "
          "heartbeat:daily:weekly = 672:7:1")
    print(f"  in-process floor (one report a call)  mix {fl['mix']:8.1f} reports/s   "
          f"heartbeat {fl['heartbeat']:.1f}  daily {fl['daily']:.1f}  "
          f"weekly {fl['weekly']:.1f}")
    print(f"  in-process floor (batches of {BATCH})     mix {fl['mix_batch']:8.1f} reports/s")
    print(f"  HTTPS single   {single_rate:8.1f} reports/s  p50 {single.latency(0.5):6.1f} ms"
          f"  p99 {single.latency(0.99):6.1f} ms   ratio to floor {ratio:.2f} "
          f"(targets >= {SINGLE_TARGET:g}/s, >= {FLOOR_RATIO_TARGET}x floor, "
          f"p99 <= {P99_TARGET_MS:g} ms)")
    print(f"    median of {REPEATS} runs of {DURATION:g} s: {single_trials.rates()} reports/s; "
          "latency and CPU over all their requests")
    print(f"    answers {single.codes()}")
    print(cost_line(single, backend))
    for line in percentile_table(single, ("heartbeat", "daily", "weekly")):
        print(line)
    # CPU left per report at the target once the stack (empty endpoint) has taken its share
    budget_ms = 1000 * (os.cpu_count() or 1) * (1 / SINGLE_TARGET - 1 / stack.rate())
    print(f"  stack ceiling  {stack.rate():8.1f} requests/s  p50 {stack.latency(0.5):6.1f} ms"
          f"  p99 {stack.latency(0.99):6.1f} ms   (same serve settings, TLS and load; the "
          "endpoint does nothing)")
    print(cost_line(stack, "sqlite").replace("per report", "per request"))
    print(f"    single / ceiling {single_rate / stack.rate():.2f}; at {SINGLE_TARGET:g}/s "
          f"ingest may spend {budget_ms:.2f} ms CPU a report on {os.cpu_count()} cores "
          f"(it spends {1000 / fl['mix']:.2f} ms in-process, one core)")
    print("  HTTPS batched, 4 agents sending their spools at once")
    print(f"                 {batched_rate:8.1f} reports/s  p50 {batched.latency(0.5):6.1f} ms"
          f"  p99 {batched.latency(0.99):6.1f} ms per {BATCH}-report request "
          f"(targets >= {BATCH_TARGET:g}/s, p99 <= {P99_TARGET_MS:g} ms)")
    print(f"    median of {REPEATS} runs of {DURATION:g} s: {batched_trials.rates()} reports/s")
    print(f"    answers {batched.codes()}")
    print(cost_line(batched, backend))
    print(f"    12 agents at once: {wide.rate():8.1f} reports/s  p50 {wide.latency(0.5):6.1f} ms"
          f"  p99 {wide.latency(0.99):6.1f} ms  answers {wide.codes()} (the same work, "
          "queued: for comparison, not a target)")
    print(f"  overload (256 concurrent senders of {BATCH}-report batches, 8 s): "
          f"answers {ov['codes']}, "
          f"refused without Retry-After {ov['refused_without_retry_after']}, "
          f"timeouts/errors {ov['errors']}, p99 of all answers {ov['p99_all_ms']:.0f} ms")
    for name, run in (("single", single), ("batched", batched), ("batched 12", wide)):
        if run.errors:
            missed.append(f"{backend} {name}: {len(run.errors)} errors, e.g. {run.errors[0]}")
    if single_rate < SINGLE_TARGET:
        missed.append(f"{backend} HTTPS single {single_rate:.0f}/s < {SINGLE_TARGET:g}/s")
    if ratio < FLOOR_RATIO_TARGET:
        missed.append(f"{backend} HTTPS single / floor {ratio:.2f} < {FLOOR_RATIO_TARGET}")
    if batched_rate < BATCH_TARGET:
        missed.append(f"{backend} HTTPS batched {batched_rate:.0f}/s < {BATCH_TARGET:g}/s")
    for name, run in (("single", single), ("batched", batched)):
        if not run.latency(0.99) <= P99_TARGET_MS:
            missed.append(f"{backend} {name} p99 {run.latency(0.99):.0f} ms > "
                          f"{P99_TARGET_MS:g} ms")
    if ov["errors"] or ov["refused_without_retry_after"] or not ov["refused"]:
        missed.append(f"{backend} overload: {ov['refused']} refused (429/503), "
                      f"{ov['refused_without_retry_after']} without Retry-After, "
                      f"{ov['errors']} timeouts/errors")
    return missed


def run() -> list[str]:
    """Both backends; returns missed targets."""
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-ingest-") as tmp:
        work = Path(tmp)
        factory = ReportFactory(real_results(checks_cache(work)))
        if os.environ.get("HOSTPATROL_BENCH_BACKENDS", "sqlite,postgresql").find("sqlite") >= 0:
            missed += measure("sqlite", None, work, factory)
        if "postgresql" not in os.environ.get("HOSTPATROL_BENCH_BACKENDS", "postgresql"):
            return missed
        why = pgtemp.available()
        if why is not None:
            print(f"[postgresql] {why}")
            return [*missed, why]
        with pgtemp.database() as url:
            missed += measure("postgresql", url, work, factory)
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
