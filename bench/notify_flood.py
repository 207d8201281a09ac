"""Notifications when a fleet opens findings by the hundred thousand (issue 22).

The fleet soak's first quarter hour at 100,000 hosts queued a message for each of 400,000
new findings; sent one by one (~65 webhooks a second on this machine) they fell 12 minutes
behind, and a chat robot that takes 20 a minute would have needed two weeks. With flood
control (``notify.flood``) a channel is sent at most ``max_per_minute`` messages; more due
than that go as one message counting them.

Each store (a SQLite file, a fresh PostgreSQL database) gets :data:`QUEUED` messages queued
for findings (levels I–IV mixed) on two channels, a DingTalk robot (20 a minute) and a
generic webhook (60), both real HTTP endpoints on loopback. Then the background job's
sender (``background.send_notifications``) runs round after round, the clock 30 s
(``jobs.tick_seconds``) further each round, until nothing is due. Printed:

- rounds until every queued message went (in a bundle or alone) and the wall time of
  each round against the round's period (the sender keeps up while it is shorter);
- messages the endpoints received, the largest body, and per channel the most sent in
  any minute;
- that the bundles' counts add up to the rows queued (each row names its bundle);
- the Python memory the rounds allocated at their peak (tracemalloc), and the longest
  write transaction (on SQLite the one writer: ingest waits behind it);
- the cost per queued message, against :data:`BASELINE` messages sent one each
  (``max_per_minute`` set out of reach), extrapolated to :data:`QUEUED`.

``HOSTPATROL_BENCH_NOTIFY_QUEUED`` sets the messages queued per channel (default 100,000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from fleet_soak import Sink  # noqa: E402

QUEUED = int(os.environ.get("HOSTPATROL_BENCH_NOTIFY_QUEUED", "100000"))
BASELINE = 2_000
TICK = 30
T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
ROUNDS_TARGET = 1  # every queued message carried by the first round
HELD_TARGET = 1.0  # seconds: no write transaction of the sender's longer than ingest's p99


def policy_text(url: str, limit: int | None) -> str:
    """The default policy with a DingTalk robot and a generic webhook hearing every level."""
    from hostpatrol.collector.policy import loader

    cap = "" if limit is None else f", max_per_minute: {limit}"
    channels = (f"  channels: {{ding: {{type: webhook, format: dingtalk, url: '{url}/ding'"
                f"{cap}}}, hook: {{type: webhook, url: '{url}/hook'{cap}}}}}\n")
    text = loader.default_text()
    for old, new in (("  channels: {}\n", channels),
                     ("  routes: []\n", "  routes: [{levels: [I, II, III, IV], "
                                        "channels: [ding, hook]}]\n"),
                     ("    IV: digest\n", "    IV: immediate\n")):
        if old not in text:
            msg = f"the default policy has no {old.strip()!r} to replace"
            raise RuntimeError(msg)
        text = text.replace(old, new, 1)
    return text


def queue(engine: Any, n: int, at: datetime) -> None:
    """``n`` findings' messages on every routed channel, as the rules queue them."""
    from hostpatrol.collector.notify.outbox import enqueue
    from hostpatrol.collector.policy import loader
    from hostpatrol.collector.policy.model import LEVEL_NAMES

    with engine.connect() as conn:
        policy = loader.current(conn)
    for start in range(0, n, 5_000):
        with engine.begin() as conn:
            for i in range(start + 1, min(n, start + 5_000) + 1):
                level = 1 + i % 4
                finding = {"id": i, "agent_id": f"host-{i:06d}", "rule": "disk-usage",
                           "subject": "/", "title": "Disk nearly full", "group": None,
                           "level": LEVEL_NAMES[level], "state": "open", "owner": None,
                           "message": f"/ is {80 + i % 20}% full", "deadline": None}
                enqueue(conn, policy, finding=finding, group=None, level=level, event_id=i,
                        action="opened", note=None, digest=False, escalate=False, now=at)


def per_minute_peak(times: list[datetime]) -> int:
    """The most sends inside any minute (t - 60 s, t]."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - timedelta(minutes=1):
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run_store(url: str, sink: Sink, n: int, limit: int | None) -> dict[str, Any]:
    """Queue ``n`` per channel and send round after round; what it took."""
    import sqlalchemy as sa
    from hostpatrol.collector.background import send_notifications
    from hostpatrol.collector.policy import loader
    from hostpatrol.collector.store.db import make_engine, upgrade
    from hostpatrol.collector.store.schema import outbox

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        loader.store(conn, policy_text(sink.base, limit), source="bench", loaded_by="bench",
                     now=T0)
    queue(engine, n, T0)
    with engine.connect() as conn:
        policy = loader.current(conn)
    sink.paths.clear()
    sink.largest = 0
    rounds: list[float] = []
    now = T0
    began: dict[int, float] = {}
    held: list[float] = []
    sa.event.listen(engine, "begin", lambda c: began.__setitem__(id(c), time.perf_counter()))
    sa.event.listen(engine, "commit", lambda c: held.append(
        time.perf_counter() - began.pop(id(c), time.perf_counter())))
    tracemalloc.start()
    while True:
        t = time.perf_counter()
        done = send_notifications(engine, policy, now, budget_seconds=TICK)
        rounds.append(time.perf_counter() - t)
        with engine.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.state == "pending")).scalar_one()
        if not left and not done.sent:
            break
        now += timedelta(seconds=TICK)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.id, outbox.c.channel, outbox.c.state,
                                      outbox.c.bundle_id, outbox.c.sent_at,
                                      outbox.c.finding_id)).all()
        counts = dict(conn.execute(sa.select(outbox.c.id, outbox.c.payload["count"].as_integer())
                                   .where(outbox.c.finding_id.is_(None))).all())
    engine.dispose()
    carried = Counter(r.bundle_id for r in rows if r.bundle_id is not None)
    sent = [r for r in rows if r.state == "sent"]
    return {
        "rounds": rounds[:-1] or rounds, "peak_mb": peak / 2**20, "held": max(held),
        "received": sum(sink.paths.values()), "sent": len(sent), "largest": sink.largest,
        "queued": sum(r.finding_id is not None for r in rows),
        "carried": sum(carried.values()), "counts_match": carried == {
            k: v for k, v in counts.items() if k in carried},
        "lost": sum(r.state not in ("sent", "bundled") for r in rows),
        "peak_minute": {ch: per_minute_peak([r.sent_at for r in sent if r.channel == ch])
                        for ch in ("ding", "hook")},
    }


def report(name: str, url_of: Any) -> list[str]:
    """Measure one store; print; the targets missed."""
    sink = Sink()
    try:
        with url_of() as url:
            flood = run_store(url, sink, QUEUED, None)
        with url_of() as url:
            one_each = run_store(url, sink, BASELINE // 2, 10**9)
    finally:
        sink.close()
    wall = sum(flood["rounds"])
    per_row = wall / flood["queued"]
    per_message = sum(one_each["rounds"]) / one_each["queued"]
    print(f"\n{name}: {flood['queued']:,} messages queued ({QUEUED:,} findings × 2 channels)")
    print(f"  rounds until all went: {len(flood['rounds'])} (target {ROUNDS_TARGET}); wall per "
          f"round: {', '.join(f'{s:.2f}' for s in flood['rounds'][:6])} s (period {TICK} s)")
    print(f"  endpoints received {flood['received']} messages (outbox sent {flood['sent']}); "
          f"largest body {flood['largest']:,} bytes; most in a minute: "
          + ", ".join(f"{ch} {n}" for ch, n in flood["peak_minute"].items()))
    print(f"  rows carried by bundles: {flood['carried']:,} of {flood['queued']:,}; "
          f"each bundle's count = rows naming it: {flood['counts_match']}; "
          f"neither sent nor bundled: {flood['lost']}")
    print(f"  Python memory at the rounds' peak: {flood['peak_mb']:.1f} MB; longest write "
          f"transaction {flood['held']:.2f} s (SQLite: ingest waits that long at most)")
    print(f"  cost per queued message: {per_row * 1e6:.0f} µs with flood control; "
          f"{per_message * 1e3:.1f} ms sent one each ({one_each['queued']:,} sent, "
          f"{one_each['queued'] / sum(one_each['rounds']):.0f}/s); ratio "
          f"{per_message / per_row:.0f}x; {flood['queued']:,} one each would take "
          f"{per_message * flood['queued'] / 60:.0f} min")
    checks = {
        f"rounds until all went {len(flood['rounds'])} (target {ROUNDS_TARGET})":
            len(flood["rounds"]) <= ROUNDS_TARGET,
        "a bundle's count differs from the rows naming it": flood["counts_match"],
        f"{flood['lost']} queued messages neither sent nor bundled": not flood["lost"],
        f"a round took {max(flood['rounds']):.1f} s (period {TICK} s)":
            max(flood["rounds"]) < TICK,
        f"a write transaction held {flood['held']:.2f} s (target < {HELD_TARGET} s)":
            flood["held"] < HELD_TARGET,
        f"more than a channel's limit in a minute: {flood['peak_minute']}":
            flood["peak_minute"]["ding"] <= 20 and flood["peak_minute"]["hook"] <= 60,
    }
    return [f"{name}: {what}" for what, ok in checks.items() if not ok]


def run() -> list[str]:
    """Both stores (PostgreSQL when it answers); the targets missed."""
    from contextlib import contextmanager

    @contextmanager
    def sqlite_url() -> Iterator[str]:
        with tempfile.TemporaryDirectory() as d:
            yield f"sqlite:///{Path(d) / 'store.db'}"

    missed = report("SQLite", sqlite_url)
    if (why := pgtemp.available()) is None:
        missed += report("PostgreSQL", pgtemp.database)
    else:
        print(f"\nPostgreSQL skipped: {why}")
    return missed


if __name__ == "__main__":
    missed = run()
    for m in missed:
        print(f"MISSED: {m}")
    print("\n" + ("targets met" if not missed else "TARGETS MISSED"))
    sys.exit(1 if missed else 0)
