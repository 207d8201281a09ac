"""Real collector processes: findings over the API, one message per event across a
restart, and two collectors on one PostgreSQL doing the background work exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from findings_kit import data
from forge import enroll_key, report_doc, sign
from harness import Collector, free_port, wait_until
from hostpatrol.collector.policy import loader
from hostpatrol.collector.store.db import make_engine
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time
from receivers import Sink

pytestmark = pytest.mark.slow


def _policy_file(tmp_path: Path, url: str, **replace: str) -> Path:
    text = loader.default_text().replace(
        "  channels: {}", f"  channels: {{hook: {{type: webhook, url: '{url}/hook'}}}}").replace(
        "  routes: []", "  routes: [{levels: [I, II, III, IV], channels: [hook]}]").replace(
        "  tick_seconds: 30", "  tick_seconds: 1")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _report(agent_id: str, key, seq: int, **results) -> str:
    now = utcnow()
    return sign(report_doc(agent_id, seq=seq, created_at=now, results=[
        {"check": c, "status": "fail", "started_at": format_time(now), "duration_ms": 1,
         "error": None, "data": d} for c, d in results.items()]), key)


def _dead_logs() -> dict:
    logs = data("logs")
    logs["logging"] = dict(logs["logging"], alive=False)
    return logs


def test_findings_api_and_one_message_per_event_across_restart(tmp_path: Path) -> None:
    sink = Sink()
    url = sink.start()
    c = Collector(tmp_path / "data", free_port())
    try:
        c.init()
        out = c.cli("policy", "load", str(_policy_file(tmp_path, url))).stdout
        assert "loaded version 2" in out  # init loaded the default as version 1
        assert "default policy.yaml" in c.cli("policy", "history").stdout
        c.start()
        agent_id, key, _ = enroll_key(c, c.token("--auto-approve"))
        first = _report(agent_id, key, 1, logs=_dead_logs())
        assert c.post("/api/v1/reports", first, "application/jose").status_code == 201
        wait_until(lambda: len(sink.bodies) == 1)
        c.stop()
        c.start()
        assert c.post("/api/v1/reports", first, "application/jose").status_code == 200
        again = _report(agent_id, key, 2, logs=_dead_logs())
        assert c.post("/api/v1/reports", again, "application/jose").status_code == 201
        time.sleep(3)  # several worker ticks after the restart
        assert [b["event"] for b in sink.bodies] == ["opened"]
        assert sink.bodies[0]["finding"]["rule"] == "logging-alive"

        token = c.api_token()
        c.cli("user", "add", "bob", "--role", "operator")  # an owner must be a known person
        listing = c.get("/api/v1/findings?level=III&state=open", token).json()
        assert listing["total"] == 1
        fid = listing["findings"][0]["id"]
        assert listing["findings"][0]["occurrences"] == 2
        moved = c.client().session.post(
            f"{c.url}/api/v1/findings/{fid}/transition", json={"to": "assigned", "owner": "bob"},
            headers={"Authorization": f"Bearer {token}"}, verify=False, timeout=20)
        assert moved.status_code == 200, moved.text
        bad = c.client().session.post(
            f"{c.url}/api/v1/findings/{fid}/transition", json={"to": "verified"},
            headers={"Authorization": f"Bearer {token}"}, verify=False, timeout=20)
        assert bad.status_code == 409
        assert bad.json()["ok"] is False
        one = c.get(f"/api/v1/findings/{fid}", token).json()
        assert [e["action"] for e in one["events"]] == ["opened", "transition"]
        assert one["finding"]["owner"] == "bob"
        assert c.get("/api/v1/findings?level=V", token).json()["status"] == 400
        assert c.get("/api/v1/findings").status_code == 401
        assert "logging-alive" in c.cli("findings").stdout
        shown = c.cli("hosts", "set", agent_id, "--critical", "--tag", "raised").stdout
        assert "critical yes, tags raised" in shown
        assert c.cli("audit", "verify", check=False).returncode == 0
    finally:
        c.stop()
        sink.stop()


def test_two_collectors_on_postgresql_do_background_work_once(tmp_path: Path,
                                                               pg_database: str) -> None:
    sink = Sink()
    url = sink.start()
    a = Collector(tmp_path / "a", free_port(), database_url=pg_database)
    b = Collector(tmp_path / "b", free_port(), database_url=pg_database)
    try:
        a.init()
        b.init()
        silent = ("    mode: silent\n    interval_hours: 1\n    grace_hours: 24\n"
                  "    level: IV")
        path = _policy_file(tmp_path, url, **{
            "    IV: digest": "    IV: immediate",
            silent: "    mode: silent\n    interval_hours: 0.0005\n    grace_hours: 0\n"
                    "    level: IV"})
        a.cli("policy", "load", str(path))
        a.start()
        b.start()
        agent_id, key, _ = enroll_key(a, a.token("--auto-approve"))
        report = _report(agent_id, key, 1, time=data("time", synchronised=True))
        assert b.post("/api/v1/reports", report, "application/jose").status_code == 201
        wait_until(lambda: len(sink.bodies) >= 1)
        time.sleep(4)  # both workers keep ticking; the silent host stays silent
        assert [(x["event"], x["finding"]["rule"]) for x in sink.bodies] == [
            ("opened", "host-silent")]
        engine = make_engine(pg_database)
        try:
            with engine.connect() as conn:
                opened = conn.execute(sa.text(
                    "SELECT count(*) FROM finding_events e JOIN findings f "
                    "ON f.id = e.finding_id WHERE f.rule_id = 'host-silent' "
                    "AND e.action = 'opened'")).scalar()
                holders = conn.execute(sa.text("SELECT holder FROM leases")).scalars().all()
                outbox_rows = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar()
        finally:
            engine.dispose()
        assert opened == 1
        assert outbox_rows == 1
        assert len(holders) == 1
    finally:
        a.stop()
        b.stop()
        sink.stop()
