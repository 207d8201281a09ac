"""Weekly partitions on PostgreSQL (migration 0017, store.partitions): rows land in their
week of arrival, a week without a partition keeps its rows in the default partition until
one is made, a report is stored once across weeks and across two writers, retention
drops whole weeks yet keeps every host's newest results readable, and the migration
moves every row into its week and back.

PostgreSQL only: SQLite has no partitions (its retention is tested in test_findings and
test_compact_storage on both backends)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from forge import LIMITS, disk, report_doc, result, sign
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.background import sweep_data
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.policy import loader
from hostpatrol.collector.retention import purge
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import partitions
from hostpatrol.collector.store import reports as report_store
from hostpatrol.collector.store.db import downgrade, upgrade
from hostpatrol.collector.store.schema import (
    check_results,
    host_latest,
    reports,
    result_data,
    result_data_candidates,
)
from hostpatrol.collector.web.evidence import verify_stored
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate

FIREWALL = {"backend": "nftables", "active": True, "default_input_policy": "drop",
            "rule_count": 12, "open_ports": [22, 443]}
WEEK = partitions.WEEK
# ten weeks ago, a Tuesday noon: every time of a test is counted from here, never a date
START = partitions.week_start(utcnow()) - 10 * WEEK + timedelta(days=1, hours=12)


@pytest.fixture
def pg(pg_engine):
    return pg_engine


def _enroll(engine: sa.Engine, n: int, now=START):
    token = f"tok-{n}"
    with engine.begin() as conn:
        agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=1, group="g1", auto_approve=True)
    key = generate()
    with engine.begin() as conn:
        done = enroll(conn, {"token": token, "proof": make_proof(key, token, now)}, now)
    return done.agent_id, key


def _daily(agent_id: str, seq: int, when, percent: float = 40.0) -> dict:
    """Two results: disk (its data changes with ``percent``) and a firewall that never does."""
    return report_doc(agent_id, seq=seq, created_at=when, results=[
        result("disk", disk(percent), when), result("custom_fw", FIREWALL, when)])


def _send(engine, docs_keys, now) -> list[str]:
    tokens = [sign(doc, key) for doc, key in docs_keys]
    return [o.outcome for o in ingest(engine, tokens, limits=LIMITS, now=now)]


def _where(conn, table: str) -> dict[int, str]:
    """Row id -> the partition holding it."""
    return dict(conn.exec_driver_sql(
        f"SELECT id, tableoid::regclass::text FROM {table}").all())  # noqa: S608


def _policy(engine, days: int):
    with engine.connect() as conn:
        text = loader.text_of(conn)[1]
    text = text.replace("evidence_days: 400", f"evidence_days: {days}").replace(
        "results_days: 400", f"results_days: {days}")
    return loader.parse_text(text, source="test", version=0)


def test_rows_land_in_their_week_of_arrival_with_their_report(pg) -> None:
    aid, key = _enroll(pg, 1)
    times = [START + k * WEEK for k in range(3)]  # last week's, this week's, the next
    with pg.begin() as conn:
        for when in times:
            partitions.ensure(conn, when)
    for seq, when in enumerate(times, 1):
        assert _send(pg, [(_daily(aid, seq, when - timedelta(hours=2)), key)], when) == [
            "accepted"]
    with pg.connect() as conn:
        where = _where(conn, "reports")
        for row in conn.execute(sa.select(reports.c.id, reports.c.received_at)):
            assert where[row.id] == partitions.name("reports",
                                                    partitions.week_start(row.received_at))
        results = conn.execute(sa.select(check_results.c.id, check_results.c.report_pk,
                                         check_results.c.received_at)).all()
        assert len(results) == 6
        received = dict(conn.execute(sa.select(reports.c.id, reports.c.received_at)).all())
        cr_where = _where(conn, "check_results")
        for row in results:  # a result shares its report's arrival, and so its week
            assert row.received_at == received[row.report_pk]
            assert cr_where[row.id] == partitions.name(
                "check_results", partitions.week_start(row.received_at))
        assert sorted(received.values()) == times
        newest = conn.execute(sa.select(host_latest.c.received_at)).scalars().all()
        assert newest == [times[-1]] * 2  # host_latest knows the week of the newest


def test_a_week_without_a_partition_keeps_its_rows_in_the_default_until_made(pg) -> None:
    aid, key = _enroll(pg, 1)
    later = START + 20 * WEEK  # far beyond the weeks the migration made
    assert _send(pg, [(_daily(aid, 1, later), key)], later) == ["accepted"]
    with pg.connect() as conn:
        before = conn.execute(sa.select(check_results).order_by(check_results.c.id)).all()
        assert set(_where(conn, "reports").values()) == {"reports_default"}
        assert set(_where(conn, "check_results").values()) == {"check_results_default"}
    with pg.begin() as conn:
        made = partitions.ensure(conn, later)
    assert partitions.name("reports", partitions.week_start(later)) in made
    with pg.connect() as conn:
        assert set(_where(conn, "reports").values()) == {
            partitions.name("reports", partitions.week_start(later))}
        assert set(_where(conn, "check_results").values()) == {
            partitions.name("check_results", partitions.week_start(later))}
        assert conn.execute(sa.select(check_results).order_by(check_results.c.id)).all() \
            == before
        assert not conn.exec_driver_sql("SELECT 1 FROM reports_default").first()
        # the week's data reads as before
        [latest] = [r for r in report_store.latest_results(conn, aid) if r.check_name == "disk"]
        assert latest.data == disk(40.0)
    with pg.begin() as conn:  # made already: nothing more
        assert partitions.ensure(conn, later) == []
    later2 = later + timedelta(days=1)  # and the next report goes straight to it
    assert _send(pg, [(_daily(aid, 2, later2), key)], later2) == ["accepted"]
    with pg.connect() as conn:
        assert not conn.exec_driver_sql("SELECT 1 FROM reports_default").first()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)
def test_a_report_is_stored_once_though_it_comes_again_weeks_later(engine) -> None:
    aid, key = _enroll(engine, 1)
    doc = _daily(aid, 1, START)
    token = sign(doc, key)
    assert [o.outcome for o in ingest(engine, [token], limits=LIMITS, now=START)] == [
        "accepted"]
    again = START + 2 * WEEK + timedelta(hours=1)  # another week, another partition
    first = [o.outcome for o in ingest(engine, [token, token], limits=LIMITS, now=again)]
    # the same report id signed again with another time: the id is what makes it the same
    other = dict(_daily(aid, 2, again), report_id=doc["report_id"])
    second = [o.outcome for o in ingest(engine, [sign(other, key)], limits=LIMITS, now=again)]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(check_results)).scalar() \
            == 2
    assert first == ["duplicate", "duplicate"]
    assert second == ["duplicate"]


def test_two_writers_storing_the_same_report_at_once_keep_one(pg) -> None:
    """A second collector gets the report while the first has it uncommitted: it waits
    for the sender's lock, then finds it stored."""
    aid, key = _enroll(pg, 1)
    outcomes: dict[str, list[str]] = {}
    for round_ in range(3):
        when = START + timedelta(hours=round_)
        token = sign(_daily(aid, round_ + 1, when), key)
        inside = threading.Event()

        def slow(_conn, _outcomes, inside=inside) -> None:
            inside.set()
            time.sleep(0.5)  # the other writer has long checked for the report by now

        def first(token=token, slow=slow, when=when) -> None:
            outcomes["first"] = [o.outcome for o in ingest(
                pg, [token], limits=LIMITS, now=when, before_commit=slow)]

        t = threading.Thread(target=first)
        t.start()
        assert inside.wait(10)
        outcomes["second"] = [o.outcome for o in ingest(pg, [token], limits=LIMITS, now=when)]
        t.join(10)
        assert sorted(outcomes["first"] + outcomes["second"]) == ["accepted", "duplicate"]
    with pg.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 3


def _named(conn) -> set[int]:
    return set(conn.execute(sa.select(check_results.c.data_id).where(
        check_results.c.data_id.is_not(None))).scalars())


def _stored(conn) -> set[int]:
    return set(conn.execute(sa.select(result_data.c.id)).scalars())


def _weeks_of(conn, table: str) -> set:
    return set(partitions.weeks(conn, table))


def test_retention_drops_whole_weeks_and_keeps_every_hosts_newest(pg) -> None:
    """Host a reports every day for ten weeks; host b only in the first. Purged to 21
    days: the weeks older than that are dropped, not deleted row by row; b's newest results
    and their report move to the default partition and still read and verify; no data row
    is left that no result names, and none that a result names is gone."""
    a, ka = _enroll(pg, 1)
    b, kb = _enroll(pg, 2)
    days = 70
    reports_of_b = []
    for day in range(days):
        now = START + timedelta(days=day)
        with pg.begin() as conn:
            partitions.ensure(conn, now)  # as the background job does
        batch = [(_daily(a, day + 1, now - timedelta(minutes=5), 40.0 + day % 3), ka)]
        if day < 3:
            doc = _daily(b, day + 1, now - timedelta(minutes=5), 70.0 + day)
            reports_of_b.append(doc["report_id"])
            batch.append((doc, kb))
        assert set(_send(pg, batch, now)) == {"accepted"}
    end = START + timedelta(days=days)
    with pg.connect() as conn:
        weeks_before = _weeks_of(conn, "reports")
        total_before = conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar()
    with pg.begin() as conn:  # one of b's rows as stored before 0017: its week unknown
        conn.execute(host_latest.update().where(host_latest.c.agent_id == b,
                                                host_latest.c.check_name == "disk")
                     .values(received_at=None))
        done = purge(conn, _policy(pg, 21), end)
    cut = end - timedelta(days=21)
    gone = {w for w in weeks_before if w + WEEK <= cut}
    assert len(gone) >= 6
    assert done["weeks_dropped"] == 2 * len(gone)  # reports' and results' weeks
    assert done["rows_kept"] == 3  # b's two newest results and their report
    with pg.connect() as conn:
        assert _weeks_of(conn, "reports") == weeks_before - gone
        assert _weeks_of(conn, "check_results") == weeks_before - gone
        received = conn.execute(sa.select(reports.c.agent_id, reports.c.received_at,
                                          reports.c.report_id)).all()
        # what is left: a's last days from the first week not wholly older than the cutoff,
        # and b's newest report; nothing else of b
        assert min(r.received_at for r in received if r.agent_id == a) == min(
            START + timedelta(days=d) for d in range(days)
            if START + timedelta(days=d) >= partitions.week_start(cut))
        assert [r.report_id for r in received if r.agent_id == b] == [reports_of_b[-1]]
        assert len(received) < total_before
        latest_b = {r.check_name: r for r in report_store.latest_results(conn, b)}
        assert latest_b["disk"].data == disk(72.0)
        assert latest_b["custom_fw"].data == FIREWALL
        assert verify_stored(conn, b, reports_of_b[-1]).ok
        assert set(_where(conn, "reports").values()) >= {"reports_default"}
        # the dropped weeks' data rows: candidates, deleted by the sweep, not under the lock
        assert done["data_candidates"] > 0
        assert _named(conn) < _stored(conn)
    swept = sweep_data(pg, batch=7, budget_seconds=60)  # several batches
    assert swept == done["data_candidates"]
    with pg.connect() as conn:
        assert _named(conn) == _stored(conn)  # none left that no result names, none missing
        assert not conn.execute(sa.select(result_data_candidates)).first()
        latest_a = {r.check_name: r for r in report_store.latest_results(conn, a)}
        assert latest_a["custom_fw"].data == FIREWALL
    # a week later the purge drops one more week of each and keeps the same rows
    with pg.begin() as conn:
        again = purge(conn, _policy(pg, 21), end + WEEK)
    assert again["weeks_dropped"] == 2
    assert again["rows_kept"] == 0  # b's rows are in the default already, a's newest recent
    with pg.connect() as conn:
        assert verify_stored(conn, b, reports_of_b[-1]).ok


def test_rows_of_the_default_partition_are_purged_one_by_one(pg) -> None:
    """A week that never had a partition (its rows in the default) is purged row by row,
    a week after the cutoff passed it; the host's newest result stays."""
    aid, key = _enroll(pg, 1, START - 40 * WEEK)
    old = START - 30 * WEEK  # before any partition the migration made
    assert _send(pg, [(_daily(aid, 1, old), key)], old) == ["accepted"]
    assert _send(pg, [(_daily(aid, 2, old + timedelta(days=1), 55.0), key)],
                 old + timedelta(days=1)) == ["accepted"]
    with pg.connect() as conn:
        assert set(_where(conn, "reports").values()) == {"reports_default"}
    with pg.begin() as conn:
        done = purge(conn, _policy(pg, 21), old + timedelta(days=21 + 7 + 2))
    assert (done["reports"], done["results"], done["weeks_dropped"]) == (1, 2, 0)
    with pg.connect() as conn:
        [left] = conn.execute(sa.select(reports.c.seq)).scalars().all()
        assert left == 2
        latest = {r.check_name: r for r in report_store.latest_results(conn, aid)}
        assert latest["disk"].data == disk(55.0)


def test_migration_0017_moves_every_row_into_its_week_and_back(pg) -> None:
    aid, key = _enroll(pg, 1)
    for seq, k in enumerate((0, 1, 3), 1):
        when = START + k * WEEK
        assert _send(pg, [(_daily(aid, seq, when, 40.0 + seq), key)], when) == ["accepted"]

    def dump(conn):
        return (conn.execute(sa.select(reports).order_by(reports.c.id)).all(),
                conn.execute(sa.select(*[c for c in check_results.c if c.name != "received_at"])
                             .order_by(check_results.c.id)).all())

    with pg.connect() as conn:
        at_head = dump(conn)
    downgrade(pg, "0016")
    with pg.connect() as conn:
        assert not partitions.partitioned(conn)
        assert conn.execute(sa.select(reports).order_by(reports.c.id)).all() == at_head[0]
        constraints = set(conn.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE conrelid IN "
            "('reports'::regclass, 'check_results'::regclass)").scalars())
        assert {"uq_reports_agent_report", "check_results_report_pk_fkey"} <= constraints
    upgrade(pg)
    with pg.connect() as conn:
        assert partitions.partitioned(conn)
        assert dump(conn) == at_head
        assert _weeks_of(conn, "reports") >= {START + k * WEEK - timedelta(days=1, hours=12)
                                              for k in (0, 1, 3)}
        assert not conn.exec_driver_sql("SELECT 1 FROM reports_default").first()
        pairs = conn.execute(sa.select(host_latest.c.received_at, check_results.c.received_at)
                             .join(check_results,
                                   check_results.c.id == host_latest.c.result_id)).all()
        assert len(pairs) == 2
        assert all(mine == theirs is not None for mine, theirs in pairs)
    later = START + 4 * WEEK  # the sequences go on where they were
    assert _send(pg, [(_daily(aid, 9, later), key)], later) == ["accepted"]
    with pg.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(reports.c.id))).scalar()
        assert newest > max(r.id for r in at_head[0])


def test_the_background_round_makes_the_coming_weeks_and_sweeps_dropped_data(pg) -> None:
    """The worker's round makes the weeks ahead of its clock (a collector back after a
    long stop), drops what the policy lets go and settles the data rows it named."""
    from hostpatrol.collector.background import run_once

    aid, key = _enroll(pg, 1)
    for day in range(0, 15, 2):  # two weeks of reports, each with its own disk data
        now = START + timedelta(days=day)
        with pg.begin() as conn:
            partitions.ensure(conn, now)
        assert _send(pg, [(_daily(aid, day + 1, now, 40.0 + day), key)], now) == ["accepted"]
    with pg.connect() as conn:
        text = loader.text_of(conn)[1]
    with pg.begin() as conn:
        loader.store(conn, text.replace("evidence_days: 400", "evidence_days: 14").replace(
            "results_days: 400", "results_days: 14"), source="test", loaded_by="test",
            now=START)
    back = START + 16 * WEEK  # a collector back after months, past the weeks made ahead
    done = run_once(pg, "worker-1", back)
    made = set(done["partitions_made"])
    for k in range(partitions.AHEAD + 1):
        week = partitions.week_start(back) + k * WEEK
        assert {partitions.name("reports", week), partitions.name("check_results", week)} <= made
    assert done["purged"]["weeks_dropped"] >= 4  # the two weeks of reports, both tables
    assert done["data_swept"] == done["purged"]["data_candidates"] > 0
    with pg.connect() as conn:
        assert _named(conn) == _stored(conn)
        latest = {r.check_name: r for r in report_store.latest_results(conn, aid)}
        assert latest["disk"].data == disk(54.0)  # the newest, kept
        assert latest["custom_fw"].data == FIREWALL
    assert "partitions_made" not in run_once(pg, "worker-1", back + timedelta(minutes=1))


def test_a_reader_holding_the_tables_makes_the_job_wait_its_turn_not_fail_the_page(pg) -> None:
    """A page reads results, then reports, in one transaction. While it holds the first,
    the job gives up the lock it waits for (well before PostgreSQL's deadlock check would
    pick a side) and tries next round; the page's transaction goes on untouched."""
    aid, key = _enroll(pg, 1)
    assert _send(pg, [(_daily(aid, 1, START), key)], START) == ["accepted"]
    later = START + 30 * WEEK
    with pg.connect() as page:
        page.execute(sa.select(sa.func.count()).select_from(check_results)).scalar()
        t0 = time.monotonic()
        with pg.begin() as conn:
            assert partitions.ensure(conn, later) == []
            with pg.connect() as probe:  # nothing was made, nothing is left locked
                assert partitions.weeks(probe, "reports") == partitions.weeks(conn, "reports")
        with pg.begin() as conn:
            busy = purge(conn, _policy(pg, 7), later)
        assert time.monotonic() - t0 < 10
        assert busy["busy"] == 1
        assert busy["weeks_dropped"] == 0
        # the page's transaction reads on
        assert page.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 1
    with pg.begin() as conn:  # the page is done: next round goes through
        assert partitions.ensure(conn, later)
        assert purge(conn, _policy(pg, 7), later)["weeks_dropped"] > 0


def _time_index_kinds(conn) -> dict[str, set[str]]:
    """Table (every partition too) -> the access methods of its index on the time column."""
    rows = conn.exec_driver_sql("""
        SELECT coalesce(p.relname, t.relname), am.amname
        FROM pg_index i JOIN pg_class ix ON ix.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ix.relam JOIN pg_class t ON t.oid = i.indrelid
        LEFT JOIN pg_inherits h ON h.inhrelid = t.oid
        LEFT JOIN pg_class p ON p.oid = h.inhparent
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
        WHERE i.indnatts = 1 AND (coalesce(p.relname, t.relname), a.attname) IN
              (('reports', 'received_at'), ('check_results', 'started_at'))""").all()
    out: dict[str, set[str]] = {}
    for table, kind in rows:
        out.setdefault(table, set()).add(kind)
    return out


def test_the_time_indexes_are_brin_in_every_week_and_find_the_same_rows(pg) -> None:
    """Migration 0020: reports.received_at and check_results.started_at are read by ranges
    only; their BRIN indexes (every weekly partition's too) find what a scan finds."""
    aid, key = _enroll(pg, 1)
    for seq, k in enumerate(range(4), 1):
        when = START + k * WEEK
        assert _send(pg, [(_daily(aid, seq, when), key)], when) == ["accepted"]
    lo, hi = START + WEEK - timedelta(hours=1), START + 3 * WEEK - timedelta(hours=1)

    def ranges(conn) -> tuple[list, list]:
        return (conn.execute(sa.select(reports.c.id).where(reports.c.received_at >= lo,
                                                           reports.c.received_at < hi)
                             .order_by(reports.c.id)).scalars().all(),
                conn.execute(sa.select(check_results.c.id).where(
                    check_results.c.started_at >= lo, check_results.c.started_at < hi)
                    .order_by(check_results.c.id)).scalars().all())

    with pg.connect() as conn:
        assert _time_index_kinds(conn) == {"reports": {"brin"}, "check_results": {"brin"}}
        scanned = ranges(conn)
        assert (len(scanned[0]), len(scanned[1])) == (2, 4)  # weeks 1 and 2, two checks each
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(conn.execute(sa.text(
            "EXPLAIN SELECT id FROM check_results WHERE started_at >= :lo "
            "AND started_at < :hi"), {"lo": lo, "hi": hi}).scalars())
        assert "Bitmap Index Scan" in plan
        assert ranges(conn) == scanned
    downgrade(pg, "0019")
    with pg.connect() as conn:
        assert _time_index_kinds(conn) == {"reports": {"btree"}, "check_results": {"btree"}}
    upgrade(pg)
    with pg.connect() as conn:
        assert _time_index_kinds(conn) == {"reports": {"brin"}, "check_results": {"brin"}}
        assert ranges(conn) == scanned
