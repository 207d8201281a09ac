"""A real collector process: log errors against each host's weekly baseline (judged when a
logs report arrives) and one USB stick on isolated and internet hosts (judged by the
background worker). Reports are signed, dated over the past days and posted over HTTPS.
USB devices come from the agent's parser over recorded real kernel logs (see
tests/fixtures/isolation/SOURCES.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from findings_kit import data
from forge import enroll_key, report_doc, sign
from harness import Collector, free_port, wait_until
from hostpatrol.agent.checks.isolation.usb import parse_kernel_usb_log
from hostpatrol.collector.policy import loader
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "isolation"


class Sender:
    """One enrolled agent key posting signed reports to the collector."""

    def __init__(self, c: Collector, hostname: str) -> None:
        self.c = c
        self.hostname = hostname
        self.agent_id, self.key, _ = enroll_key(c, c.token("--auto-approve"))
        self.seq = 0

    def post(self, at: datetime, **results: dict) -> None:
        self.seq += 1
        doc = report_doc(self.agent_id, seq=self.seq, created_at=at, results=[
            {"check": check, "status": "ok", "started_at": format_time(at), "duration_ms": 1,
             "error": None, "data": d} for check, d in results.items()])
        doc["host"]["hostname"] = self.hostname
        res = self.c.post("/api/v1/reports", sign(doc, self.key), "application/jose")
        assert res.status_code == 201, res.text


def _logs(total: int, first_run: bool = False) -> dict:
    d = data("logs", first_run=first_run)
    d["errors"] = dict(d["errors"], total=total)
    return d


def _isolation(zone: str, *devices: dict) -> dict:
    d = data("isolation", zone=zone)
    d["usb_storage"] = dict(d["usb_storage"], devices=list(devices))
    return d


def _stick(name: str) -> dict:
    [dev] = [d for d in parse_kernel_usb_log((FIXTURES / name).read_text()) if d["serial"]]
    return dev


def _findings(c: Collector, token: str, rule: str) -> list[dict]:
    return c.get(f"/api/v1/findings?rule={rule}&per_page=100", token).json()["findings"]


def _fleet_runs(c: Collector) -> int:
    if not c.count("job_runs", "name = 'fleet-rules'"):
        return 0
    import sqlite3

    db = sqlite3.connect(f"file:{c.data_dir / 'hostpatrol.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT runs FROM job_runs WHERE name = 'fleet-rules'").fetchone()[0]
    finally:
        db.close()


def test_log_baseline_and_usb_crossing_through_a_real_collector(tmp_path: Path) -> None:
    text = loader.default_text().replace("  tick_seconds: 30", "  tick_seconds: 1").replace(
        "  fleet_seconds: 3600", "  fleet_seconds: 1")
    policy = tmp_path / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    c = Collector(tmp_path / "data", free_port())
    try:
        c.init()
        c.cli("policy", "load", str(policy))
        c.start()
        token = c.api_token()
        now = utcnow()
        start = now - timedelta(days=10)

        steady = Sender(c, "app-1")  # ten days of history, 100 errors a day
        steady.post(start, logs=_logs(20000, first_run=True))
        for day in range(1, 9):
            steady.post(start + timedelta(days=day), logs=_logs(100))
        steady.post(start + timedelta(days=9), logs=_logs(290))  # below 3× (300)
        assert _findings(c, token, "log-errors") == []
        steady.post(now - timedelta(minutes=5), logs=_logs(1000))  # ~24 h window
        [f] = _findings(c, token, "log-errors")
        assert (f["host"], f["level"], f["subject"], f["state"]) == (
            steady.agent_id, "IV", "-", "open")
        assert f["evidence"]["weekly_baseline"] == round((8 * 100 + 290) / 9 * 7, 2)

        young = Sender(c, "app-2")  # four days of history: not enough to judge
        young.post(now - timedelta(days=4), logs=_logs(50, first_run=True))
        for day in (3, 2, 1):
            young.post(now - timedelta(days=day), logs=_logs(100))
        young.post(now - timedelta(minutes=5), logs=_logs(50000))
        assert [x["host"] for x in _findings(c, token, "log-errors")] == [steady.agent_id]

        stick = _stick("journalctl_k_usb_storage.txt")
        other = _stick("syslog_kernel_usb_raspberrypi.txt")
        vault, laptop = Sender(c, "vault-1"), Sender(c, "laptop-7")
        lab_a, lab_b = Sender(c, "lab-a"), Sender(c, "lab-b")
        vault.post(now, isolation=_isolation("isolated", stick))
        laptop.post(now, isolation=_isolation("internet", stick))
        lab_a.post(now, isolation=_isolation("intranet", other))  # same zone only
        lab_b.post(now, isolation=_isolation("isolated", other))
        wait_until(lambda: _findings(c, token, "usb-crossing") != [])
        runs = _fleet_runs(c)
        wait_until(lambda: _fleet_runs(c) >= runs + 2)  # later passes add nothing
        [f] = _findings(c, token, "usb-crossing")
        assert (f["host"], f["level"], f["subject"], f["check"]) == (
            vault.agent_id, "II", "62908886", "isolation")
        assert "laptop-7 (internet)" in f["evidence"]["message"]
        assert f["evidence"]["other_hosts"][0]["agent_id"] == laptop.agent_id
    finally:
        c.stop()
