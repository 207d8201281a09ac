"""Fleet soak (issue 22): a 100,000-host fleet's real report rate against `serve` on PostgreSQL.

Every simulated host runs the agent's default schedules (``agent.schedule``:
heartbeat ``*/15 * * * *``, daily ``0 2 * * *``, weekly ``0 3 * * 5``, UTC) shifted by its
own splays (``splay_for``: 0–900 s for the heartbeat, 0–3,600 s for the daily run,
0–14,400 s for the weekly full inspection, the agent's defaults), in real time: 100,000
hosts send 100,000 / 900 s ≈ 111 heartbeats/s, and besides them daily runs from 02:00
(≈ 28/s for an hour) and the weekly full inspection from Friday 03:00 (≈ 7/s for four
hours). ``--start``
sets the simulated instant the window begins (default: the next Friday 02:55 UTC, so the
weekly burst falls inside a 30-minute window); the collector and this process read it
through the test clock shift (``HOSTPATROL_TEST_CLOCK_SHIFT``), the kernel's clock stays
real.

Agents are enrolled for real through POST /api/v1/enroll (their own Ed25519 keys; each
report signed). ``--agents`` below ``--hosts`` enrolls a pool and lets several simulated
hosts share one agent's key and seq (each agent's reports stay in order on one sender):
only for fleets too large to enroll in the time at hand. An agent whose delivery fails
(connection refused, reset, 429/503) keeps the report and tries again after a backoff, on
the other collector when there are two (as a load balancer routes away from a dead
backend).

Printed: reports sent and stored (each report id looked up at the end: stored once), the
answers, request latency p50/p99 per minute and overall (target p99 <= 1 s), how late the
generator kept the schedule, RSS and open files of every collector process (flat: the
last quarter's median within 15 % of the second's; a process that took the background
lease over mid-run, or lost it, is judged in each stretch of one role, since taking the
jobs on is a step, not growth), each background job's lag (``collector.joblag``) and the
background lease's holder over time.
``--collectors 2 --kill-at MIN`` runs two collectors on one database and SIGKILLs the
one holding the lease at that minute, restarting it ``--down`` seconds later.

Not part of `make bench` by default (``bench/run.py fleet_soak`` runs a 3-minute look):

    .venv/bin/python bench/fleet_soak.py                                  # 100,000 hosts, 30 min
    .venv/bin/python bench/fleet_soak.py --collectors 2 --kill-at 12      # the same, two collectors
    .venv/bin/python bench/fleet_soak.py --hosts 5000 --minutes 4         # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from collector_proc import BenchCollector, PinnedConnection, free_port  # noqa: E402
from fleet_sim import ReportFactory, SimHost, real_results  # noqa: E402
from ingest import checks_cache, enroll_fleet  # noqa: E402
from scaleout import _twin  # noqa: E402
from soak import _processes, _report_id, _stored_ids  # noqa: E402

P99_TARGET_S = 1.0
MEMORY_GROWTH_MAX = 0.15
FD_GROWTH_MAX = 10
LAG_MAX_S = 60  # a job may be one round (30 s) late, and a little; not two
SPLAY_SECONDS = 900  # the agent's default schedule.splay_seconds (agent/config.py)
SPLAYS = {"daily": 3600, "weekly": 14400}  # its daily_ and weekly_splay_seconds
QUARTER = timedelta(minutes=15)


# -- the fleet's schedule ---------------------------------------------------------------
def _crons() -> dict[str, Any]:
    from hostpatrol.agent import cron
    from hostpatrol.agent.schedule import DEFAULT_SCHEDULES

    return {name: cron.parse(text) for name, text in DEFAULT_SCHEDULES.items()}


def _firings(c: Any, start: datetime, end: datetime) -> list[datetime]:
    out, at = [], c.next_after(start - timedelta(seconds=1))
    while at < end:
        out.append(at)
        at = c.next_after(at)
    return out


def fleet_events(hosts: int, start: datetime, end: datetime):  # noqa: ANN201 - a generator
    """(simulated time, host index, kind) of every report the fleet sends in [start, end),
    in time order: each host's heartbeat at every quarter hour plus its splay, and its
    daily and weekly runs at their firings plus their own, wider splays (``SPLAYS``: what
    ``agent.schedule.resolve`` gives a host on the default settings)."""
    import heapq

    from hostpatrol.agent.schedule import splay_for

    crons = _crons()
    beats = sorted((splay_for(f"sim-host-{h}", SPLAY_SECONDS), h) for h in range(hosts))

    def heartbeats():  # noqa: ANN202 - a generator
        base = start.replace(minute=start.minute - start.minute % 15, second=0,
                             microsecond=0) - QUARTER
        while base < end:
            for splay, h in beats:
                if start <= (at := base + splay) < end:
                    yield at, h, "heartbeat"
            base += QUARTER

    runs = []
    for kind, most in SPLAYS.items():
        for fire in _firings(crons[kind], start - timedelta(seconds=most), end):
            for h in range(hosts):
                if start <= (at := fire + splay_for(f"sim-host-{h}", most)) < end:
                    runs.append((at, h, kind))
    yield from heapq.merge(heartbeats(), sorted(runs))


def parse_start(text: str, now: datetime) -> datetime:
    """``fri 02:55`` (the next such weekday and UTC time after ``now``) or an ISO instant."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    parts = text.lower().split()
    if len(parts) == 2 and parts[0][:3] in days:
        hh, mm = (int(x) for x in parts[1].split(":"))
        at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        at += timedelta(days=(days.index(parts[0][:3]) - at.weekday()) % 7)
        return at if at > now else at + timedelta(days=7)
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def set_clock(sim: datetime) -> None:
    """Shift this process's clock (and every collector started after) so it reads ``sim``."""
    from hostpatrol.shared import clock

    os.environ[clock.SHIFT_ENV] = str(int((sim - clock.system_now()).total_seconds()))
    clock.shift.cache_clear()


# -- notifications -----------------------------------------------------------------------
class Sink:
    """A local webhook endpoint that answers 200 and counts what it is sent."""

    def __init__(self) -> None:
        import http.server

        sink = self
        self.received = 0
        self.paths: Counter[str] = Counter()  # bodies per path
        self.largest = 0  # bytes of the largest body
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                with sink.lock:
                    sink.received += 1
                    sink.paths[self.path] += 1
                    sink.largest = max(sink.largest, n)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def notify_policy(c: BenchCollector, url: str) -> None:
    """Load the default policy with one webhook channel that hears every level at once."""
    from hostpatrol.collector.policy import loader

    text = loader.default_text()
    channel = f"  channels: {{sink: {{type: webhook, url: '{url}'}}}}\n"
    route = "  routes: [{levels: [I, II, III, IV], channels: [sink]}]\n"
    for old, new in (("  channels: {}\n", channel), ("  routes: []\n", route),
                     ("    IV: digest\n", "    IV: immediate\n")):
        if old not in text:
            msg = f"the default policy has no {old.strip()!r} to replace"
            raise RuntimeError(msg)
        text = text.replace(old, new, 1)
    path = c.data_dir.parent / "policy-notify.yaml"
    path.write_text(text, encoding="utf-8")
    c.cli("policy", "load", str(path))


# -- delivering ---------------------------------------------------------------------------
@dataclass
class Tally:
    """What the senders saw (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: list[str] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    # (wall seconds since the window began, request seconds, seconds late to the schedule)
    latency: list[tuple[float, float, float]] = field(default_factory=list)


class Fleet:
    """Sender threads; each enrolled agent always on the same one, so its seq stays in order."""

    def __init__(self, collectors: list[BenchCollector], agents: list[SimHost],
                 factory: ReportFactory, senders: int, t0: float) -> None:
        self.collectors, self.agents, self.factory = collectors, agents, factory
        self.t0, self.tally = t0, Tally()
        self.queues: list[queue.Queue] = [queue.Queue() for _ in range(senders)]
        self.threads = [threading.Thread(target=self._run, args=(q,), daemon=True)
                        for q in self.queues]
        for t in self.threads:
            t.start()

    def submit(self, due_mono: float, host: int, kind: str) -> None:
        """Queue host ``host``'s ``kind`` report, due at ``due_mono`` (monotonic)."""
        a = host % len(self.agents)
        self.queues[a % len(self.queues)].put((due_mono, a, kind))

    def close(self, timeout: float) -> None:
        """Drop what is still queued; let the senders finish the report in hand."""
        for q in self.queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            q.put(None)
        for t in self.threads:
            t.join(timeout)

    def backlog(self) -> int:
        """Reports queued and not yet sent."""
        return sum(q.qsize() for q in self.queues)

    def _run(self, work: queue.Queue) -> None:
        conns = [PinnedConnection(c.port, c.fingerprint, timeout=30) for c in self.collectors]
        try:
            while (item := work.get()) is not None:
                self._deliver(conns, *item)
        finally:
            for c in conns:
                c.close()

    def _deliver(self, conns: list[PinnedConnection], due: float, a: int, kind: str) -> None:
        agent = self.agents[a]
        late = time.monotonic() - due
        token = self.factory.signed(agent, kind)
        body = ('{"reports": ["' + token + '"]}').encode()
        result, delay = "unsent", 1.0
        for attempt in range(40):
            conn = conns[(a + attempt) % len(conns)]  # a retry goes to the other collector
            began = time.monotonic()
            try:
                status, _, data = conn.request("POST", "/api/v1/reports", body,
                                               {"Content-Type": "application/json"})
            except OSError:
                conn.close()
                status, data = 0, b""
            took = time.monotonic() - began
            if status == 200:
                result = json.loads(data)["results"][0]["result"]
                if result in ("accepted", "duplicate"):
                    break
            else:
                result = f"http_{status}" if status else "connection_error"
            with self.tally.lock:
                self.tally.retries[result] += 1
            time.sleep(delay)  # the agent keeps it in its spool and tries again
            delay = min(delay * 2, 30.0)
        with self.tally.lock:
            self.tally.sent.append(_report_id(token))
            self.tally.outcomes[result] += 1
            self.tally.kinds[kind] += 1
            self.tally.latency.append((began - self.t0, took, late))


def enroll_all(c: BenchCollector, count: int, threads: int = 4) -> list[SimHost]:
    """``count`` agents enrolled through the API, ``threads`` at a time."""
    share = [count // threads + (i < count % threads) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda i: enroll_fleet(c, share[i], seed=1000 + i) if share[i] else [],
                         range(threads))
        return [h for part in parts for h in part]


# -- watching -----------------------------------------------------------------------------
class Watch:
    """Every ``every`` seconds: each collector process's RSS and open files, each background
    job's lag, and who holds the background lease."""

    def __init__(self, collectors: list[BenchCollector], url: str, t0: float,
                 every: float = 10.0) -> None:
        from hostpatrol.collector.store.db import make_engine

        self.collectors, self.t0, self.every = collectors, t0, every
        self.engine = make_engine(url)
        self.procs: dict[int, list[tuple[float, int, int]]] = defaultdict(list)
        self.names: dict[int, str] = {}
        self.lags: list[tuple[float, dict[str, float | None]]] = []
        self.holders: list[tuple[float, datetime, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()  # the kill samples from the main thread too
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def owner(self, pid: int) -> str:
        """Which collector (A, B) a process id belongs to, as last sampled."""
        return self.names.get(pid, "?").split(":")[0]

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        """One sample of everything watched."""
        with self.lock:
            self._sample()

    def _sample(self) -> None:
        import sqlalchemy as sa
        from hostpatrol.collector.joblag import job_lags
        from hostpatrol.shared.clock import utcnow

        t = time.monotonic() - self.t0
        for label, c in zip("AB", self.collectors, strict=False):
            if c.proc is None or c.proc.poll() is not None:
                continue
            try:
                tree = _processes(psutil.Process(c.proc.pid))
            except psutil.Error:
                continue
            for p in tree:
                try:
                    rss, fds = p.memory_info().rss, p.num_fds()
                    cmd = " ".join(p.cmdline()[1:4])[-40:]
                except psutil.Error:
                    continue
                self.names[p.pid] = f"{label}:{p.pid} {p.name()} {cmd}"
                self.procs[p.pid].append((t, rss, fds))
        try:
            with self.engine.connect() as conn:
                now = utcnow()
                self.lags.append((t, {j.job: j.lag_s for j in job_lags(conn, now)}))
                holder = conn.execute(sa.text(
                    "SELECT holder FROM leases WHERE name = 'background'")).scalar()
        except sa.exc.SQLAlchemyError as e:
            print(f"  watch: database read failed at {t:.0f} s: {str(e)[:120]}")
            return
        holder = holder or "(none)"
        if not self.holders or self.holders[-1][2] != holder:
            self.holders.append((t, now, holder))

    def close(self) -> None:
        """Stop watching (one last sample first)."""
        self.stop.set()
        self.thread.join(60)
        self.sample()
        self.engine.dispose()


def _holder_label(watch: Watch, holder: str) -> str:
    parts = holder.split(":")
    return f"collector {watch.owner(int(parts[1]))}" if len(parts) == 3 and \
        parts[1].isdigit() else holder


# -- the run --------------------------------------------------------------------------------
@dataclass
class Options:
    """The command line."""

    hosts: int
    agents: int
    minutes: float
    start: datetime
    collectors: int
    kill_at: float | None
    down: float
    senders: int
    drain: float
    database_url: str | None
    workers: int | None


class Autovacuum:
    """Autovacuum's work where the server runs without it (``autovacuum = off``, as on
    this project's test machine): ANALYZE of the database and VACUUM of the tables
    ingest updates in place, every ``every`` seconds (autovacuum's default naptime). A
    fleet's first reports grow the tables from nothing; unanalyzed, PostgreSQL planned
    the fleet spread's count over every finding of a rule (710 ms a finding at 40,000)."""

    TABLES = ("agents", "host_latest", "findings", "host_fact_digests", "host_profiles")

    def __init__(self, url: str, every: float = 60.0) -> None:
        from hostpatrol.collector.store.db import make_engine

        self.engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        with self.engine.connect() as conn:
            self.needed = conn.exec_driver_sql("SHOW autovacuum").scalar() != "on"
        self.every, self.runs, self.seconds = every, 0, 0.0
        self.stop = threading.Event()
        if self.needed:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            t = time.monotonic()
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
                    conn.exec_driver_sql(f"VACUUM {', '.join(self.TABLES)}")
            except Exception as e:  # noqa: BLE001 - the soak goes on; said at the end
                print(f"  autovacuum stand-in failed: {e}")
            self.runs, self.seconds = self.runs + 1, self.seconds + time.monotonic() - t

    def close(self) -> None:
        """Stop; say what was done in autovacuum's place."""
        self.stop.set()
        if self.needed:
            print(f"  the server runs with autovacuum off: ANALYZE and VACUUM of "
                  f"{', '.join(self.TABLES)} ran {self.runs} times in its place "
                  f"(every {self.every:g} s, {self.seconds:.0f} s in all)")
        self.engine.dispose()


def run_soak(o: Options, url: str, work: Path) -> list[str]:
    """The soak against ``url``; print the figures; return missed targets."""
    factory = ReportFactory(real_results(checks_cache(work)))
    a = BenchCollector(work / "data", free_port(), database_url=url)
    a.init()
    sink = Sink()
    notify_policy(a, sink.url)
    serve_args = ("--workers", str(o.workers)) if o.workers else ()
    # enroll under a clock a little before the window (so agents exist before their first
    # report), then restart with the clock at --start: the jump forward is under the
    # check-in rules' grace (an hour and more)
    lead = timedelta(seconds=120 + o.agents / 25)
    set_clock(o.start - lead)
    a.start(*serve_args)
    t_enroll = time.monotonic()
    agents = enroll_all(a, o.agents)
    enroll_s = time.monotonic() - t_enroll
    a.stop()
    collectors = [a] + ([_twin(a, free_port(), url)] if o.collectors == 2 else [])
    set_clock(o.start)
    from hostpatrol.shared.clock import utcnow

    for c in collectors:
        c.start(*serve_args)
    print(f"fleet soak: {o.hosts} hosts on the default schedules ({o.agents} agents enrolled "
          f"through the API in {enroll_s:.0f} s, {o.agents / enroll_s:.0f}/s), "
          f"{len(collectors)} collector(s) on PostgreSQL, {o.minutes:g} min from "
          f"{utcnow():%a %Y-%m-%d %H:%M:%S} UTC (simulated); machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sim0, t0 = utcnow(), time.monotonic()
    vacuum = Autovacuum(url)
    fleet = Fleet(collectors, agents, factory, o.senders, t0)
    watch = Watch(collectors, url, t0)
    killed: list[str] = []
    kill_at = t0 + o.kill_at * 60 if o.kill_at is not None else None
    restart_at = None
    victim: BenchCollector | None = None
    next_line = t0 + 60
    print("  minute   sent  queued  p99 ms (this minute)  simulated")
    try:
        for at, h, kind in fleet_events(o.hosts, sim0, sim0 + timedelta(minutes=o.minutes)):
            due = t0 + (at - sim0).total_seconds()
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            if time.monotonic() >= next_line:
                _progress(fleet, t0, next_line)
                next_line += 60
            if kill_at is not None and time.monotonic() >= kill_at:
                victim = _kill_holder(collectors, watch, killed, t0)
                restart_at, kill_at = time.monotonic() + o.down, None
            if restart_at is not None and time.monotonic() >= restart_at and victim:
                victim.start(*serve_args)
                killed.append(f"  restarted at {time.monotonic() - t0:6.1f} s")
                restart_at = None
            fleet.submit(due, h, kind)
        drained = time.monotonic() + o.drain
        while fleet.backlog() and time.monotonic() < drained:
            time.sleep(1)
            if time.monotonic() >= next_line:
                _progress(fleet, t0, next_line)
                next_line += 60
        unsent = fleet.backlog()
        fleet.close(timeout=120)
        watch.close()
        if unsent:
            print(f"  {unsent} reports still queued {o.drain:g} s after the window: not sent "
                  "(an agent keeps them in its spool), left out of the counts below")
    finally:
        vacuum.close()
        for c in collectors:
            c.stop()
        sink.close()
    stored = Counter(_stored_ids(a))
    print(f"  notifications received by the webhook sink: {sink.received}")
    return _print(o, fleet, watch, stored, killed)


def _progress(fleet: Fleet, t0: float, upto: float) -> None:
    t = fleet.tally
    with t.lock:
        sent = len(t.sent)
        recent = [took for began, took, _ in t.latency if began >= upto - t0 - 60]
    from hostpatrol.shared.clock import utcnow

    print(f"  {(upto - t0) / 60:6.0f} {sent:6d} {fleet.backlog():7d} "
          f"{_q(recent, .99) * 1000:8.0f}              {utcnow():%H:%M:%S}", flush=True)


def _kill_holder(collectors: list[BenchCollector], watch: Watch, log: list[str],
                 t0: float) -> BenchCollector:
    watch.sample()
    holder = watch.holders[-1][2] if watch.holders else ""
    label = _holder_label(watch, holder)
    victim = collectors[1] if label == "collector B" else collectors[0]
    assert victim.proc is not None  # noqa: S101 - running
    os.killpg(victim.proc.pid, signal.SIGKILL)  # the whole tree: server, workers, background
    victim.proc.wait(30)
    victim.proc = None
    log.append(f"  SIGKILL collector {'AB'[collectors.index(victim)]} (lease holder: {label})"
               f" at {time.monotonic() - t0:6.1f} s")
    return victim


def _q(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def _print(o: Options, fleet: Fleet, watch: Watch, stored: Counter,
           killed: list[str]) -> list[str]:
    t = fleet.tally
    missed: list[str] = []
    sent = len(t.sent)
    missing = sum(1 for rid in t.sent if stored[rid] == 0)
    doubled = sum(1 for n in stored.values() if n > 1)
    seconds = o.minutes * 60
    print(f"  reports sent {sent} ({sent / seconds:.1f}/s; {dict(t.kinds)}), stored "
          f"{sum(stored.values())}, missing {missing}, stored twice {doubled}")
    print(f"  answers {dict(t.outcomes)}; failed attempts retried {dict(t.retries)}")
    lat = [x[1] for x in t.latency]
    late = [x[2] for x in t.latency]
    print(f"  latency p50 {_q(lat, .5) * 1000:.0f} ms  p99 {_q(lat, .99) * 1000:.0f} ms  "
          f"max {max(lat, default=0) * 1000:.0f} ms (target p99 <= {P99_TARGET_S * 1000:.0f} ms)"
          f"; generator behind schedule p99 {_q(late, .99):.2f} s, "
          f"max {max(late, default=0):.2f} s")
    per_minute: dict[int, list[float]] = defaultdict(list)
    for began, took, _ in t.latency:
        per_minute[int(began // 60)].append(took)
    lags_by_minute: dict[int, dict[str, float]] = defaultdict(dict)
    for at, lags in watch.lags:
        row = lags_by_minute[int(at // 60)]
        for job, lag in lags.items():
            if lag is not None:
                row[job] = max(row.get(job, 0.0), lag)
    jobs = ("round", "rules", "rollup-coverage", "rollup-compliance", "retention",
            "notifications")
    print("  minute  reports   p50 ms   p99 ms   job lag s (max): " + " ".join(jobs))
    for m in sorted(per_minute):
        row = lags_by_minute.get(m, {})
        cells = " ".join(f"{row[j]:.0f}" if j in row else "-" for j in jobs)
        print(f"  {m:6d} {len(per_minute[m]):8d} {_q(per_minute[m], .5) * 1000:8.0f} "
              f"{_q(per_minute[m], .99) * 1000:8.0f}   {cells}")
    last_lags = watch.lags[-1][1] if watch.lags else {}
    print("  job lag at the end (s beyond its period; - never ran): " + ", ".join(
        f"{j} {last_lags.get(j):.0f}" if last_lags.get(j) is not None else f"{j} -"
        for j in jobs))
    print("  collector processes (RSS MB 2nd quarter median -> last quarter median, open "
          "files 2nd quarter max -> last; a process that took or gave up the background "
          "lease, judged in each stretch of one role):")
    for pid, series in sorted(watch.procs.items()):
        stretches = _roles(watch, pid, series)
        if len(stretches) > 1:
            print(f"    {watch.names[pid]}")
        for role, part in stretches:
            name = watch.names[pid] if len(stretches) == 1 else f"  as {role}"
            r2, r4, f2, flast = _quarters(part)
            print(f"    {name:55} {r2:7.1f} -> {r4:7.1f}  fds {f2} -> {flast}"
                  f"  ({len(part)} samples over {part[0][0]:.0f}-{part[-1][0]:.0f} s)")
            what = watch.names[pid] + ("" if len(stretches) == 1 else f" ({role})")
            if len(part) >= 8 and r4 > r2 * (1 + MEMORY_GROWTH_MAX):
                missed.append(f"RSS of {what} grew {r4 / r2 - 1:.0%}")
            if len(part) >= 8 and flast > f2 + FD_GROWTH_MAX:
                missed.append(f"open files of {what} grew {f2} -> {flast}")
    print("  background lease:")
    for at, sim, holder in watch.holders:
        print(f"    from {at:6.1f} s ({sim:%H:%M:%S} simulated): {_holder_label(watch, holder)}"
              f" ({holder})")
    for line in killed:
        print(line)
    if missing or doubled or sum(stored.values()) != sent:
        missed.append(f"sent {sent}, stored {sum(stored.values())}, missing {missing}, "
                      f"twice {doubled}")
    if set(t.outcomes) - {"accepted", "duplicate"}:
        missed.append(f"answers other than accepted/duplicate: {dict(t.outcomes)}")
    if not _q(lat, .99) <= P99_TARGET_S:
        missed.append(f"p99 {_q(lat, .99) * 1000:.0f} ms > {P99_TARGET_S * 1000:.0f} ms")
    if last_lags.get("round") is None:
        missed.append("the background round never ran")
    behind = {j: lag for j, lag in last_lags.items() if lag is not None and lag > LAG_MAX_S}
    if behind:
        missed.append(f"background jobs behind at the end (s): {behind}")
    return missed


def _quarters(series: list[tuple[float, int, int]]) -> tuple[float, float, int, int]:
    """RSS MB: 2nd-quarter median, last-quarter median; open files: 2nd-quarter max, last."""
    n = len(series)
    q2, q4 = series[n // 4: n // 2] or series, series[3 * n // 4:] or series
    return (statistics.median(s[1] for s in q2) / 2**20,
            statistics.median(s[1] for s in q4) / 2**20, max(s[2] for s in q2), series[-1][2])


def _roles(watch: Watch, pid: int, series: list[tuple[float, int, int]]
           ) -> list[tuple[str, list[tuple[float, int, int]]]]:
    """A process's samples split where it took or gave up the background lease, each
    stretch named by its role: the process that takes the jobs over mid-run steps up once
    by their working set, which is a change of role, not growth over time."""
    def holds(holder: str) -> bool:
        parts = holder.split(":")
        return len(parts) == 3 and parts[1] == str(pid)

    out: list[tuple[str, list[tuple[float, int, int]]]] = []
    held, since = False, 0.0
    for at, _, holder in [*watch.holders, (float("inf"), None, "")]:
        if holds(holder) == held and at != float("inf"):
            continue
        part = [s for s in series if since <= s[0] < at]
        if part:
            out.append(("lease holder" if held else "not the lease holder", part))
        held, since = holds(holder), at
    return out


def options(argv: list[str] | None = None) -> Options:
    """Parse the command line."""
    from hostpatrol.shared.clock import system_now

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hosts", type=int, default=100_000, help="simulated hosts (rate hosts/900 s)")
    p.add_argument("--agents", type=int, default=None,
                   help="agents enrolled (default: one per host; fewer share keys)")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--start", default="fri 02:55",
                   help="simulated start, 'fri 02:55' (UTC) or an ISO instant")
    p.add_argument("--collectors", type=int, choices=(1, 2), default=1)
    p.add_argument("--kill-at", type=float, default=None,
                   help="minute at which the lease-holding collector is SIGKILLed")
    p.add_argument("--down", type=float, default=30, help="seconds before it is restarted")
    p.add_argument("--senders", type=int, default=48, help="delivering threads")
    p.add_argument("--drain", type=float, default=300,
                   help="seconds to wait after the window for queued reports")
    p.add_argument("--workers", type=int, default=None, help="serve --workers (default: its own)")
    p.add_argument("--database-url", default=None,
                   help="an empty PostgreSQL database (default: a throw-away one)")
    a = p.parse_args(argv)
    return Options(a.hosts, a.agents or a.hosts, a.minutes, parse_start(a.start, system_now()),
                   a.collectors, a.kill_at, a.down, a.senders, a.drain,
                   a.database_url, a.workers)


def soak(o: Options) -> list[str]:
    """Run with a throw-away database unless one is given; return missed targets."""
    random.seed(22)
    with tempfile.TemporaryDirectory(prefix="hp-fleet-soak-") as tmp:
        if o.database_url:
            return run_soak(o, o.database_url, Path(tmp))
        why = pgtemp.available()
        if why is not None:
            print(why)
            return [why]
        with pgtemp.database() as url:
            return run_soak(o, url, Path(tmp))


def run() -> list[str]:
    """`bench/run.py fleet_soak`: a 3-minute look at a 5,000-host fleet's rate."""
    return soak(options(["--hosts", "5000", "--minutes", "3"]))


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so the collectors are stopped and the database dropped


if __name__ == "__main__":
    from run import report

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(report(soak(options())))
