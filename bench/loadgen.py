"""Load generators: separate processes, each with one keep-alive HTTPS connection per
sender, delivering pre-signed reports (signing happens before the clock starts)."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from collector_proc import PinnedConnection, cpu_seconds
from fleet_sim import ReportFactory, SimHost, kind_at

JOSE = {"Content-Type": "application/jose"}
JSON = {"Content-Type": "application/json"}


@dataclass
class Sample:
    """One request: when it was sent (relative), how long it took, what came back."""

    kind: str
    reports: int
    seconds: float
    status: int
    retry_after: str | None = None


@dataclass
class Run:
    """Everything one load phase measured."""

    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds the generator processes spent sending
    server_cpu: dict[str, float] = field(default_factory=dict)  # by process group, if taken

    def cpu_ms_per_report(self, seconds: float) -> float:
        """``seconds`` of CPU per accepted report, in ms."""
        return 1000 * seconds / self.delivered if self.delivered else float("nan")

    @property
    def delivered(self) -> int:
        """Reports the collector accepted (201/200 answers)."""
        return sum(s.reports for s in self.samples if s.status in (200, 201))

    def rate(self) -> float:
        """Accepted reports per second of wall time."""
        return self.delivered / self.wall if self.wall else 0.0

    def latency(self, q: float, kind: str | None = None) -> float:
        """Latency quantile in ms of successful requests (optionally of one kind)."""
        xs = sorted(s.seconds for s in self.samples
                    if s.status in (200, 201) and (kind is None or s.kind == kind))
        if not xs:
            return float("nan")
        return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))]

    def codes(self) -> dict[int, int]:
        """Requests per HTTP status."""
        out: dict[int, int] = {}
        for s in self.samples:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def count(self, kind: str) -> int:
        """Successful requests of ``kind``."""
        return sum(1 for s in self.samples if s.kind == kind and s.status in (200, 201))


def _presign(factory: ReportFactory, hosts: list[SimHost], count: int,
             offset: int) -> list[tuple[str, str]]:
    out = []
    for i in range(count):
        kind = kind_at(offset + i)
        out.append((kind, factory.signed(hosts[i % len(hosts)], kind)))
    return out


def _backlogs(factory: ReportFactory, hosts: list[SimHost], count: int, offset: int,
              batch: int, senders: int) -> list[list[list[tuple[str, str]]]]:
    """Per sender, its requests: each one agent's next ``batch`` reports, oldest first.

    That is how an agent delivers (``deliver_spool``: its own spool, in batches): a batch
    is one host catching up, never reports of several hosts. Each host stays on one
    sender, whose requests take its hosts in turn, so a host's reports arrive in seq order.
    """
    per: list[list[list[tuple[str, str]]]] = [[] for _ in range(senders)]
    mine = [range(k, len(hosts), senders) for k in range(senders)]  # host indexes
    stream = [0] * len(hosts)  # each host's position in its own mixed stream
    made = turn = 0
    while made < count:
        for k in range(senders):
            if not mine[k]:
                continue
            j = mine[k][turn % len(mine[k])]
            chunk = []
            for _ in range(batch):
                kind = kind_at(offset + j * 7 + stream[j])
                stream[j] += 1
                chunk.append((kind, factory.signed(hosts[j], kind)))
            per[k].append(chunk)
            made += batch
        turn += 1
    return per


def _sender(conn: PinnedConnection, chunks: list[list[tuple[str, str]]], batch: int,
            stop_at: float, out: list[Sample], errors: list[str]) -> None:
    for chunk in chunks:
        if time.monotonic() >= stop_at:
            break
        if batch == 1:
            body, headers = chunk[0][1].encode(), JOSE
        else:
            body, headers = json.dumps({"reports": [t for _, t in chunk]}).encode(), JSON
        kind = chunk[0][0] if batch == 1 else "batch"
        t0 = time.monotonic()
        try:
            status, hdrs, data = conn.request("POST", "/api/v1/reports", body, headers)
        except OSError as e:
            errors.append(f"{type(e).__name__}: {e}")
            conn.close()
            continue
        dt = time.monotonic() - t0
        if status == 200 and batch > 1:
            answer = json.loads(data)
            if answer.get("rejected"):
                errors.append(f"batch had {answer['rejected']} rejected: "
                              f"{[r for r in answer['results'] if not r['ok']][:1]}")
        elif status not in (200, 201, 429, 503):
            errors.append(f"HTTP {status}: {data[:200]!r}")
        out.append(Sample(kind, len(chunk), dt, status, hdrs.get("retry-after")))


def _child(idx: int, port: int, fingerprint: str, factory: ReportFactory,
           hosts: list[SimHost], count: int, batch: int, senders: int, duration: float,
           ready: Any, go: Any, results: Any) -> None:
    if batch == 1:  # live reports: one a request, hosts in turn on every sender
        items = _presign(factory, hosts, count, offset=idx * 97)
        per = [[[item] for item in items[k::senders]] for k in range(senders)]
    else:
        per = _backlogs(factory, hosts, count, idx * 97, batch, senders)
    ready.release()
    start_at = go.get()  # the parent's monotonic start time (same clock on one machine)
    stop_at = start_at + duration
    samples: list[Sample] = []
    errors: list[str] = []
    threads = []
    conns = [PinnedConnection(port, fingerprint, timeout=60) for _ in range(senders)]
    cpu0 = time.process_time()
    for k in range(senders):
        # a host's reports stay on one sender and in seq order (single reports: hosts are
        # a multiple of senders, so item i, of host i % hosts, goes to sender i % senders)
        threads.append(threading.Thread(target=_sender, args=(
            conns[k], per[k], batch, stop_at, samples, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    results.put((idx, samples, errors, time.monotonic() - start_at,
                 time.process_time() - cpu0))


def deliver(port: int, fingerprint: str, factory: ReportFactory, hosts: list[SimHost], *,
            processes: int, per_process: int, batch: int, duration: float,
            senders: int = 1, server_pid: int | None = None) -> Run:
    """Send pre-signed mixed reports from ``processes`` processes for at most ``duration`` s.

    Hosts are split between processes (a host's reports come from one process, in seq
    order); each process signs ``per_process`` reports before the common start. With
    ``server_pid``, the CPU the server's process tree (and PostgreSQL) spent meanwhile is
    kept in ``Run.server_cpu``.
    """
    ctx = mp.get_context("fork")
    ready, results = ctx.Semaphore(0), ctx.Queue()
    gos = [ctx.Queue() for _ in range(processes)]
    procs = []
    for p in range(processes):
        mine = hosts[p::processes]
        if senders > 1:  # each host on one sender: a multiple of senders
            mine = mine[:len(mine) - len(mine) % senders] or mine
        procs.append(ctx.Process(target=_child, args=(
            p, port, fingerprint, factory, mine, per_process, batch, senders, duration,
            ready, gos[p], results), daemon=True))
    for pr in procs:
        pr.start()
    for _ in procs:
        ready.acquire()
    before = cpu_seconds(server_pid) if server_pid else {}
    start = time.monotonic()
    for g in gos:
        g.put(start)
    run = Run()
    walls = []
    for _ in procs:
        _idx, samples, errors, wall, cpu = results.get(timeout=duration + 300)
        run.samples += samples
        run.errors += errors
        run.client_cpu += cpu
        walls.append(wall)
    if server_pid:
        after = cpu_seconds(server_pid)
        run.server_cpu = {k: after[k] - before[k] for k in after}
    for pr in procs:
        pr.join(30)
    run.wall = max(walls)
    # each sent host report advanced its seq in the child only: catch the parent up
    for h in hosts:
        h.seq += per_process  # generous: later reports must only be above
    return run


def percentile_table(run: Run, kinds: tuple[str, ...]) -> list[str]:
    """Lines of per-kind latency figures."""
    lines = []
    for k in kinds:
        n = run.count(k)
        if n:
            lines.append(f"    {k:10s} {n:6d} requests  p50 {run.latency(0.5, k):7.1f} ms  "
                         f"p99 {run.latency(0.99, k):7.1f} ms")
    return lines
