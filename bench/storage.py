"""Storage: bytes per report (evidence + parsed) and per host-year, three layouts; purge.

On a store made by ``init`` (SQLite, then PostgreSQL): full-size reports (mutated from a
real inspection of this host) go through the real ingest path, one kind at a time, and the
bytes each table and index gained are read (SQLite's ``dbstat``; PostgreSQL's relation
sizes, main forks of tables, TOAST and indexes). Each kind is measured three ways in one
run: the old layout (rows as migration 0012 wrote them: the JWS as text with its SHA-256,
every result's data as JSON, written here by the same statements the old ingest ran),
packed with plain zstd (no dictionary yet) and packed with a dictionary trained from the
reports stored so far. A host-year is the mix of one host (35,040 heartbeats, 365 daily,
52 weekly reports). The CPU cost of packing and unpacking one report is timed apart.
Then, on a fresh SQLite store, one host's year is written with the store functions
(timestamps spread over 365 days; the ingest path refuses reports older than its replay
horizon; a dictionary trained after the first 2,000, as the background job would): the
bytes it occupies, every table counted; and the retention purge is run with a 30-day
policy: it must finish and leave at most a fifth of the bytes in use.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgtemp  # noqa: E402
from collector_proc import BenchCollector, free_port  # noqa: E402
from fleet_sim import ReportFactory, SimHost, enroll_body, new_host, real_results  # noqa: E402

YEAR = {"heartbeat": 35_040, "daily": 365, "weekly": 52}
# enough rows that PostgreSQL's 8 KiB pages round off little
SAMPLES = {"heartbeat": 1000, "daily": 100, "weekly": 20}
LAYOUTS = ("old", "zstd", "zstd+dict")
EVIDENCE = ("reports",)
PARSED = ("check_results", "result_data")
KEPT_SHARE_TARGET = 0.2
PURGE_SECONDS_TARGET = 120.0
HOST_YEAR_TARGET = 32e6  # bytes (issue 22: 10x below the old layout's 316 MB)


def table_bytes(engine) -> dict[str, int]:  # noqa: ANN001 - an Engine
    """Bytes per table, its indexes (and on PostgreSQL its TOAST) counted with it."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # main forks only: the free-space and visibility maps appear when (auto)vacuum
            # happens to run, which would make two equal runs differ by whole pages
            # a partition (migration 0017: reports and check_results by week) counts with
            # its partitioned table, which holds no rows of its own
            sizes: dict[str, int] = {}
            for name, size in conn.execute(sa.text("""
                SELECT COALESCE(pg_partition_root(t.oid)::text, t.relname),
                  pg_relation_size(t.oid)
                  + COALESCE((SELECT SUM(pg_relation_size(i.indexrelid)) FROM pg_index i
                              WHERE i.indrelid = t.oid), 0)
                  + COALESCE(pg_relation_size(NULLIF(t.reltoastrelid, 0)), 0)
                  + COALESCE((SELECT SUM(pg_relation_size(i.indexrelid)) FROM pg_index i
                              WHERE i.indrelid = NULLIF(t.reltoastrelid, 0)), 0)
                FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
                WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p')""")).all():
                sizes[name] = sizes.get(name, 0) + int(size)
            return sizes
        index_of = dict(conn.execute(sa.text(
            "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")).all())
        out: dict[str, int] = {}
        for name, size in conn.execute(sa.text(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all():
            table = index_of.get(name, name)
            out[table] = out.get(table, 0) + size
    return out


def in_use(engine) -> int:  # noqa: ANN001 - an Engine
    """Bytes of the database file holding data (pages minus the free list)."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
        free = conn.execute(sa.text("PRAGMA freelist_count")).scalar_one()
        size = conn.execute(sa.text("PRAGMA page_size")).scalar_one()
    return (pages - free) * size


def _host(engine, index: int) -> SimHost:  # noqa: ANN001 - an Engine
    from hostpatrol.collector.intake.enroll import enroll
    from hostpatrol.collector.store import agents as agent_store
    from hostpatrol.shared.clock import utcnow

    host, key = new_host(index, seed=31)
    token = f"bench-storage-{index}"
    now = utcnow()
    with engine.begin() as conn:
        agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=1, group="bench", auto_approve=True)
        host.agent_id = enroll(conn, enroll_body(key, token, host.hostname, host.machine_id),
                               now).agent_id
    return host


def _old_layout(engine, tokens: list[str], now) -> None:  # noqa: ANN001
    """Store ``tokens`` as migration 0012's ingest did: the JWS text and its SHA-256, each
    result's data as JSON (the host_latest upsert and agent update change no sizes)."""
    from hostpatrol.collector.store.schema import check_results, reports
    from hostpatrol.shared.jws import parse
    from hostpatrol.shared.keys import b64url_decode
    from hostpatrol.shared.report import validate_report

    with engine.begin() as conn:
        for token in tokens:
            r = validate_report(json.loads(b64url_decode(parse(token).payload_b64)))
            pk = conn.execute(reports.insert().values(
                agent_id=r.agent_id, report_id=r.report_id, seq=r.seq, created_at=r.created_at,
                received_at=now, schedule=r.schedule, source="http",
                sha256=hashlib.sha256(token.encode()).hexdigest(), jws=token,
            ).returning(reports.c.id)).scalar_one()
            conn.execute(check_results.insert(), [
                {"report_pk": pk, "agent_id": r.agent_id, "check_name": x.check,
                 "status": x.status, "started_at": x.started_at, "duration_ms": x.duration_ms,
                 "data": x.data, "error": x.error, "received_at": now} for x in r.results])


def _grew(engine, store) -> dict[str, float]:  # noqa: ANN001
    before = table_bytes(engine)
    store()
    after = table_bytes(engine)
    grew = {t: after.get(t, 0) - before.get(t, 0) for t in after}
    evidence = sum(v for t, v in grew.items() if t in EVIDENCE)
    parsed = sum(v for t, v in grew.items() if t in PARSED)
    return {"evidence": evidence, "parsed": parsed,
            "other": sum(grew.values()) - evidence - parsed}


def per_report(engine, factory: ReportFactory) -> dict[str, dict[str, dict[str, float]]]:  # noqa: ANN001
    """Bytes per report of each kind and layout: evidence, parsed, total."""
    from hostpatrol.collector.intake.ingest import ingest
    from hostpatrol.collector.intake.trust import Limits
    from hostpatrol.collector.store import dictionaries
    from hostpatrol.shared.clock import utcnow

    limits = Limits(max_report_bytes=1 << 20, clock_skew=timedelta(minutes=5),
                    replay_horizon=timedelta(days=30))

    def accepted(tokens: list[str]) -> None:
        done = ingest(engine, tokens, limits=limits)
        if any(o.outcome != "accepted" for o in done):
            msg = f"storage: report refused: {done[0]}"
            raise RuntimeError(msg)

    out: dict[str, dict[str, dict[str, float]]] = {layout: {} for layout in LAYOUTS}
    hosts = {kind: _host(engine, n) for n, kind in enumerate(SAMPLES)}
    for layout in LAYOUTS:
        if layout == "zstd+dict":
            with engine.begin() as conn:
                if dictionaries.train(conn, utcnow()) is None:
                    msg = "storage: no dictionary could be trained"
                    raise RuntimeError(msg)
        for kind, count in SAMPLES.items():
            host = hosts[kind]
            accepted([factory.signed(host, kind) for _ in range(3)])  # baselines: not counted
            tokens = [factory.signed(host, kind) for _ in range(count)]
            grew = _grew(engine, (lambda t=tokens: _old_layout(engine, t, utcnow()))
                         if layout == "old" else (lambda t=tokens: accepted(t)))
            out[layout][kind] = {"evidence": grew["evidence"] / count,
                                 "parsed": grew["parsed"] / count,
                                 "total": (grew["evidence"] + grew["parsed"]) / count,
                                 "other": grew["other"] / count,
                                 "jws": sum(len(t) for t in tokens) / count}
    return out


def cpu_cost(engine, factory: ReportFactory) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """Per kind: (ms to pack, ms to unpack) one report's evidence with the newest dictionary."""
    from hostpatrol.collector.store import packing
    from hostpatrol.collector.store.dictionaries import Codecs
    from hostpatrol.shared.keys import b64url_decode

    host = _host(engine, 50)
    out = {}
    with engine.connect() as conn:
        codecs = Codecs(conn)
        dict_id, compressor = codecs.newest()
        decompressor = codecs.decompressor(dict_id)
        for kind, count in SAMPLES.items():
            tokens = [factory.signed(host, kind) for _ in range(count)]
            ids = [(host.agent_id, json.loads(b64url_decode(t.split(".")[1]))["report_id"])
                   for t in tokens]
            t0 = time.process_time()
            bodies = [packing.compress(*packing.jws_raw(t, i), compressor)
                      for t, i in zip(tokens, ids, strict=True)]
            packed = time.process_time() - t0
            t0 = time.process_time()
            back = [packing.jws_of(b, decompressor, i) for b, i in zip(bodies, ids, strict=True)]
            unpacked = time.process_time() - t0
            if back != tokens:
                msg = "storage: a packed report did not come back byte for byte"
                raise RuntimeError(msg)
            out[kind] = (packed * 1e3 / count, unpacked * 1e3 / count)
    return out


def purge_year(engine, factory: ReportFactory) -> dict[str, float]:  # noqa: ANN001
    """Write one host-year with the store functions, then purge to 30 days."""
    from hostpatrol.collector.policy import loader
    from hostpatrol.collector.retention import purge
    from hostpatrol.collector.store import dictionaries, intake
    from hostpatrol.shared.clock import utcnow
    from hostpatrol.shared.jws import parse
    from hostpatrol.shared.keys import b64url_decode
    from hostpatrol.shared.report import validate_report

    host = _host(engine, 99)
    empty = in_use(engine)
    now = utcnow()
    start = now - timedelta(days=365)
    step = timedelta(days=365) / YEAR["heartbeat"]
    t0 = time.perf_counter()
    i = 0
    with engine.connect() as conn:
        while i < YEAR["heartbeat"]:
            with conn.begin():
                for _ in range(500):
                    at = start + step * i
                    kind = ("weekly" if i % 672 == 0 else "daily" if i % 96 == 48
                            else "heartbeat")
                    token = factory.signed(host, kind, at)
                    report = validate_report(json.loads(b64url_decode(
                        parse(token).payload_b64)))
                    intake.store_batch(conn, [intake.Incoming(report, token, "0" * 64)],
                                       now=at, source="import")
                    i += 1
                    if i >= YEAR["heartbeat"]:
                        break
            if i == 2000:  # what the background job does once the first reports are in
                with conn.begin():
                    dictionaries.train(conn, utcnow())
    written = time.perf_counter() - t0
    before = in_use(engine)
    with engine.connect() as conn:
        text = loader.text_of(conn)[1]
    text = text.replace("evidence_days: 400", "evidence_days: 30").replace(
        "results_days: 400", "results_days: 30")
    policy = loader.parse_text(text, source="bench", version=0)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        purged = purge(conn, policy, utcnow())
    took = time.perf_counter() - t0
    after = in_use(engine)
    return {"reports": i, "written_s": written, "purge_s": took, "before": before,
            "year": before - empty,
            "after": after, "reports_purged": purged["reports"],
            "results_purged": purged["results"]}


def _print_sizes(backend: str, sizes: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """Print the per-report table of each layout; return bytes per host-year per layout."""
    print(f"bytes per report ({backend}; evidence: reports, parsed: check_results and "
          f"result_data, each with its indexes and TOAST)")
    print(f"  {'layout':10s} {'kind':10s} {'JWS received':>13s} {'evidence':>10s} "
          f"{'parsed':>10s} {'total':>10s} {'(other)':>9s}")
    years = {}
    for layout, kinds in sizes.items():
        for kind, s in kinds.items():
            print(f"  {layout:10s} {kind:10s} {s['jws']:13,.0f} {s['evidence']:10,.0f} "
                  f"{s['parsed']:10,.0f} {s['total']:10,.0f} {s['other']:9,.0f}")
        years[layout] = sum(YEAR[k] * kinds[k]["total"] for k in YEAR)
    print("  (other: findings, their events and notifications the rules wrote, and on "
          "PostgreSQL the old versions of rows updated in place until vacuum; not per "
          "layout, not counted)")
    old = years["old"]
    for layout, year in years.items():
        print(f"  per host-year, {layout:9s}: {year / 1e6:7,.1f} MB  ratio to old "
              f"{old / year:5.1f}x  10,000 hosts: {year * 1e4 / 1e9:,.0f} GB")
    return years


def run() -> list[str]:
    """Measure; return missed targets."""
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.store.db import make_engine

    missed = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-storage-") as tmp:
        work = Path(tmp)
        cache = Path(os.environ.get("HOSTPATROL_BENCH_CHECKS", work / "check.json"))
        factory = ReportFactory(real_results(cache))
        c = BenchCollector(work / "data", free_port())
        c.init()
        engine = make_engine(load_config(c.data_dir).database_url)
        try:
            sizes = per_report(engine, factory)
            cpu = cpu_cost(engine, factory)
        finally:
            engine.dispose()
        fresh = BenchCollector(work / "year", free_port())  # the year alone in its store
        fresh.init()
        engine = make_engine(load_config(fresh.data_dir).database_url)
        try:
            year = purge_year(engine, factory)
        finally:
            engine.dispose()
        pg_sizes = None
        why = pgtemp.available()
        if why is None:
            with pgtemp.database() as url:
                pg = BenchCollector(work / "pgdata", free_port(), database_url=url)
                pg.init()
                engine = make_engine(url)
                try:
                    pg_sizes = per_report(engine, factory)
                finally:
                    engine.dispose()
    for backend, measured in (("SQLite", sizes), ("PostgreSQL", pg_sizes)):
        if measured is None:
            print(f"PostgreSQL skipped: {why}")
            missed.append("PostgreSQL not measured")
            continue
        years = _print_sizes(backend, measured)
        if years["zstd+dict"] > HOST_YEAR_TARGET:
            missed.append(f"{backend}: {years['zstd+dict'] / 1e6:.1f} MB per host-year "
                          f"(target <= {HOST_YEAR_TARGET / 1e6:.0f} MB)")
    print("CPU per report, evidence with the dictionary (ms; one core)")
    for kind, (pack, unpack) in cpu.items():
        print(f"  {kind:10s} pack {pack:6.3f}  unpack {unpack:6.3f}")
    share = year["after"] / year["before"]
    print(f"one host-year written through the store on a fresh SQLite store (dictionary "
          f"trained after 2,000 reports; every table, findings included): "
          f"{year['year'] / 1e6:,.1f} MB")
    print(f"retention (SQLite): one host-year ({year['reports']} reports) written in "
          f"{year['written_s']:.0f} s; purge to 30 days took {year['purge_s']:.1f} s, deleted "
          f"{year['reports_purged']} reports / {year['results_purged']} results; bytes in use "
          f"{year['before'] / 1e6:,.1f} MB -> {year['after'] / 1e6:,.1f} MB ({share:.0%}; "
          f"target <= {KEPT_SHARE_TARGET:.0%}, <= {PURGE_SECONDS_TARGET:g} s)")
    if share > KEPT_SHARE_TARGET:
        missed.append(f"retention left {share:.0%} of the bytes in use")
    if year["purge_s"] > PURGE_SECONDS_TARGET:
        missed.append(f"retention purge took {year['purge_s']:.0f} s")
    return missed


if __name__ == "__main__":
    from run import report

    sys.exit(report(run()))
