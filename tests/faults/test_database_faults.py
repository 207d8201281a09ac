"""The database goes away under load: PostgreSQL restarted, SQLite locked by another writer.

Either way the collector answers 503 + Retry-After (never loses a report, never needs a
restart) and the agents' spools drain once the database is back.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections import Counter

import pytest
from faultkit import drain_all, enroll_fleet, stored_ids_sqlite, stored_ids_url, wait_until
from forge import report_doc, sign
from harness import Collector, free_port
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.app import create_app
from hostpatrol.collector.config import load_config
from hostpatrol.collector.store import db as store_db
from hostpatrol.shared.keys import generate

PG_VERSION = "15"


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"],
                          check=False).returncode == 0


def _pg_ctl(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", action],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.postgres
def test_postgresql_restart_mid_load_recovers_without_collector_restart(
        tmp_path, pg_database) -> None:
    if shutil.which("pg_ctlcluster") is None:
        pytest.fail("pg_ctlcluster is needed to restart PostgreSQL")
    c = Collector(tmp_path / "data", free_port(), database_url=pg_database)
    c.init()
    c.start()
    pid = c.proc.pid
    try:
        fleet = enroll_fleet(c, tmp_path, 20)
        for a in fleet:
            a.spool_reports(6)
        threads = drain_all(fleet, c.client, timeout=120)
        assert wait_until(lambda: len(stored_ids_url(pg_database)) >= 20, 60)
        _pg_ctl("restart")
        for t in threads:
            t.join(130)
        stored = stored_ids_url(pg_database)
        sent = [rid for a in fleet for rid in a.report_ids]
        assert Counter(stored) == Counter(sent)
        assert all(not a.spool.pending() for a in fleet)
        assert c.proc.pid == pid
        assert c.proc.poll() is None  # the same collector process, never restarted
        errors = [e for a in fleet for e in a.errors]
        assert errors, "no delivery met the restart"
        assert all("Traceback" not in e for e in errors)
    finally:
        c.stop()
        if not _pg_ready():
            _pg_ctl("start")
        assert wait_until(_pg_ready, 60, 0.5), "PostgreSQL did not come back"


def test_sqlite_write_lock_held_by_another_process_delays_but_loses_nothing(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    c.start()
    try:
        fleet = enroll_fleet(c, tmp_path, 10)
        for a in fleet:
            a.spool_reports(3)
        db = c.data_dir / "hostpatrol.db"
        locker = sqlite3.connect(db, timeout=30)
        locker.execute("BEGIN EXCLUSIVE")  # every writer (and WAL reader) now waits
        threads = drain_all(fleet, c.client, timeout=60)
        time.sleep(3)
        assert all(t.is_alive() for t in threads)  # waiting inside the busy timeout
        locker.rollback()
        locker.close()
        for t in threads:
            t.join(60)
        assert Counter(stored_ids_sqlite(db)) == Counter(
            rid for a in fleet for rid in a.report_ids)
        assert all(not a.spool.pending() for a in fleet)
    finally:
        c.stop()


def test_sqlite_locked_past_the_busy_timeout_is_503_with_retry_after(tmp_path,
                                                                   monkeypatch) -> None:
    """In process, with a 0.3 s busy timeout: the refusal is a clean 503, then a retry works."""
    c = Collector(tmp_path / "data", free_port())
    c.init()
    monkeypatch.setattr(store_db, "SQLITE_BUSY_MS", 300)
    config = load_config(c.data_dir)
    engine = store_db.make_engine(config.database_url)
    app = create_app(config, engine)
    try:
        enroll_token, key = c.token("--auto-approve"), generate()
        client = app.test_client()
        answer = client.post("/api/v1/enroll", base_url="https://localhost", json={
            "token": enroll_token, "proof": make_proof(key, enroll_token)})
        assert answer.status_code == 201, answer.text
        token = sign(report_doc(answer.get_json()["agent_id"]), key)
        locker = sqlite3.connect(c.data_dir / "hostpatrol.db", timeout=30)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            resp = client.post("/api/v1/reports", data=token,
                               headers={"Content-Type": "application/jose"},
                               base_url="https://localhost")
        finally:
            locker.rollback()
            locker.close()
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "10"
        assert resp.get_json() == {"ok": False, "status": 503,
                                   "error": "database temporarily unavailable; retry later"}
        again = client.post("/api/v1/reports", data=token,
                            headers={"Content-Type": "application/jose"},
                            base_url="https://localhost")
        assert again.status_code == 201
        assert c.count("reports") == 1
    finally:
        engine.dispose()

