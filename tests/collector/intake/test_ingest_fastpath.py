"""The fast ingest path (store/intake, writelock), the overview rollups and admission
control — on SQLite and PostgreSQL where the store is involved."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import timedelta

import sqlalchemy as sa
from forge import disk, report_doc, sign
from harness import Collector, free_port
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.app import create_app
from hostpatrol.collector.config import load_config
from hostpatrol.collector.intake.admission import IngestGate
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.intake.trust import Limits
from hostpatrol.collector.reports import rollup
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import fleet, rollups
from hostpatrol.collector.store.schema import agents, check_results, host_latest, reports
from hostpatrol.collector.store.writelock import WriteLock, ingest_writer
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate
from hostpatrol.shared.report import format_time

LIMITS = Limits(max_report_bytes=1 << 20, clock_skew=timedelta(minutes=5),
                replay_horizon=timedelta(days=30))


def _enroll(engine, token: str = "tok", group: str = "g1"):  # noqa: S107 - enrollment
    now = utcnow()
    with engine.begin() as conn:
        agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=5, group=group, auto_approve=True)
    key = generate()
    with engine.begin() as conn:
        done = enroll(conn, {"token": token, "proof": make_proof(key, token)}, now)
    return done.agent_id, key


def _result(check: str, status: str, at) -> dict:
    data = {"filesystems": [], "skipped": []} if check == "disk" else {}
    return {"check": check, "status": status, "started_at": format_time(at),
            "duration_ms": 1, "error": None, "data": data}


def test_latest_worst_status_and_seq_only_move_forward(engine) -> None:
    agent_id, key = _enroll(engine)
    now = utcnow()
    new = report_doc(agent_id, seq=5, created_at=now - timedelta(minutes=1),
                     results=[_result("disk", "ok", now - timedelta(minutes=1)),
                              _result("backups", "skipped", now - timedelta(minutes=1))])
    old = report_doc(agent_id, seq=4, created_at=now - timedelta(minutes=30),
                     results=[_result("disk", "fail", now - timedelta(minutes=30))])
    out = ingest(engine, [sign(new, key), sign(old, key)], limits=LIMITS)
    assert [o.outcome for o in out] == ["accepted", "accepted"]
    with engine.connect() as conn:
        latest = dict(conn.execute(sa.select(host_latest.c.check_name, host_latest.c.status)
                                   .where(host_latest.c.agent_id == agent_id)).all())
        row = conn.execute(sa.select(agents).where(agents.c.id == agent_id)).one()
        stored = conn.execute(sa.select(sa.func.count()).select_from(check_results).where(
            check_results.c.agent_id == agent_id)).scalar_one()
    assert latest == {"disk": "ok", "backups": "skipped"}  # the late, older fail is kept
    assert stored == 3                                     # … as evidence, not as latest
    assert row.worst_status == "skipped"                   # ties: first check by name
    assert row.last_seq == 5
    assert "seq 4" in (row.clone_reason or "")
    newer = report_doc(agent_id, seq=6, results=[_result("disk", "fail", now)])
    assert ingest(engine, [sign(newer, key)], limits=LIMITS)[0].outcome == "accepted"
    with engine.connect() as conn:
        row = conn.execute(sa.select(agents).where(agents.c.id == agent_id)).one()
    assert (row.worst_status, row.last_seq) == ("fail", 6)


def test_a_batch_keeps_each_result_with_its_own_report(engine) -> None:
    # the results of a whole batch go in as one multi-row INSERT whose RETURNING ids are
    # matched back by (report, check): each host's newest result must be its own last
    # report's, and ids must follow the order the reports came in
    now = utcnow()
    hosts = [_enroll(engine, token=f"tok-{i}") for i in range(2)]
    statuses = [("ok", "fail"), ("warn", "ok"), ("fail", "warn")]
    tokens, last = [], {}
    for n in range(3):
        for h, (agent_id, key) in enumerate(hosts):
            at = now - timedelta(minutes=10 - n)
            disk, probe = statuses[(n + h) % 3]
            doc = report_doc(agent_id, seq=n + 1, created_at=at,
                             results=[_result("disk", disk, at),
                                      _result("custom_probe", probe, at)])
            tokens.append(sign(doc, key))
            last[agent_id] = (doc["report_id"], {"disk": disk, "custom_probe": probe})
    assert [o.outcome for o in ingest(engine, tokens, limits=LIMITS)] == ["accepted"] * 6
    with engine.connect() as conn:
        latest = conn.execute(
            sa.select(host_latest.c.agent_id, host_latest.c.check_name, host_latest.c.status,
                      check_results.c.status.label("result_status"),
                      check_results.c.check_name.label("result_check"),
                      reports.c.agent_id.label("report_agent"), reports.c.report_id)
            .join(check_results, check_results.c.id == host_latest.c.result_id)
            .join(reports, reports.c.id == check_results.c.report_pk)).all()
        order = [r.report_id for r in conn.execute(
            sa.select(reports.c.report_id).join(
                check_results, check_results.c.report_pk == reports.c.id)
            .where(check_results.c.check_name == "disk").order_by(check_results.c.id))]
        arrived = [r.report_id for r in conn.execute(
            sa.select(reports.c.report_id).order_by(reports.c.id))]
    assert len(latest) == 4
    for r in latest:
        report_id, sent = last[r.agent_id]
        assert (r.report_agent, r.report_id, r.result_check) == \
            (r.agent_id, report_id, r.check_name)
        assert r.status == r.result_status == sent[r.check_name]
    assert order == arrived


def test_rollups_match_live_counts_and_respect_scope(engine) -> None:
    a, ka = _enroll(engine, "t1", "g1")
    b, kb = _enroll(engine, "t2", "g2")
    now = utcnow()
    for agent_id, key, status, used in ((a, ka, "ok", 40.0), (b, kb, "fail", 97.0)):
        doc = report_doc(agent_id, results=[{**_result("disk", status, now),
                                             "data": disk(used)}])
        assert ingest(engine, [sign(doc, key)], limits=LIMITS)[0].outcome == "accepted"
    with engine.connect() as conn:
        assert fleet.coverage(conn, None, now) == {"disk": {"ok": 1, "fail": 1}}
        assert fleet.coverage(conn, frozenset({"g2"}), now) == {"disk": {"fail": 1}}
        trend = rollup.weekly(conn, None, now, "UTC", 2)
        scoped = rollup.weekly(conn, frozenset({"g1"}), now, "UTC", 2)
    assert [w["hosts"] for w in trend] == [0, 2]
    # the report's definition: reporting 2 of 2 hosts, disk 1 of 2 (b's full disk)
    assert trend[-1]["compliance"] == 75.0
    assert scoped[-1]["compliance"] == 100.0
    # a newer result shows once the rollup is older than its TTL, not before
    doc = report_doc(b, seq=2, results=[_result("disk", "ok", now)])
    assert ingest(engine, [sign(doc, kb)], limits=LIMITS)[0].outcome == "accepted"
    with engine.connect() as conn:
        assert fleet.coverage(conn, None, now) == {"disk": {"ok": 1, "fail": 1}}
        later = now + rollups.COVERAGE_TTL + timedelta(seconds=1)
        assert fleet.coverage(conn, None, later) == {"disk": {"ok": 2}}


def test_write_lock_excludes_other_holders(tmp_path) -> None:
    path = str(tmp_path / "db.ingest-lock")
    lock = WriteLock(path)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock.held():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert entered.wait(10)
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken = True
        except BlockingIOError:
            taken = False
        assert not taken  # another open file (as another worker process has) must wait
        release.set()
        t.join(10)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once released
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def test_ingest_writer_is_a_no_op_off_sqlite_files() -> None:
    memory = sa.create_engine("sqlite://")
    try:
        with ingest_writer(memory):
            pass
    finally:
        memory.dispose()


def test_gate_admits_up_to_its_limit() -> None:
    gate = IngestGate(2, 0, 7)
    assert gate.enter()
    assert gate.enter()
    assert not gate.enter()
    gate.leave()
    assert gate.enter()
    unlimited = IngestGate(0, 0, 7)
    assert all(unlimited.enter() for _ in range(100))


def test_busy_collector_answers_429_with_retry_after(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    (c.data_dir / "collector.yaml").write_text(
        (c.data_dir / "collector.yaml").read_text()
        + "ingest:\n  max_concurrent: 1\n  queue_wait_ms: 0\n  busy_retry_after_seconds: 42\n")
    app = create_app(load_config(c.data_dir))
    engine = app.extensions["hostpatrol.engine"]
    try:
        agent_id, key = _enroll(engine)
        token = sign(report_doc(agent_id), key)
        client = app.test_client()
        gate = app.extensions["hostpatrol.ingest_gate"]
        assert gate.enter()  # another delivery is being stored
        try:
            busy = client.post("/api/v1/reports", data=token, base_url="https://localhost",
                               headers={"Content-Type": "application/jose"})
        finally:
            gate.leave()
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "42"
        assert (busy.get_json()["ok"], busy.get_json()["status"]) == (False, 429)
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(check_results)
                                ).scalar_one() == 0  # nothing read, nothing stored
        done = client.post("/api/v1/reports", data=token, base_url="https://localhost",
                           headers={"Content-Type": "application/jose"})
        assert done.status_code == 201
    finally:
        engine.dispose()
