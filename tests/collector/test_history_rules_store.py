"""Log errors against the host's weekly baseline (at ingest) and one USB stick on isolated
and internet hosts (the background fleet pass), on real stored reports.

Runs on SQLite and PostgreSQL; the clock is injected through ``ingest(now=...)``. USB
devices come from the agent's parser over recorded real kernel logs (see
tests/fixtures/isolation/SOURCES.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from findings_kit import data, enroll_host, events_of, findings_of
from hostpatrol.agent.checks.isolation.usb import parse_kernel_usb_log
from hostpatrol.collector.background import run_once
from hostpatrol.collector.findings.fleet import sweep_fleet
from hostpatrol.collector.findings.history import load
from hostpatrol.collector.policy.model import LEVELS
from hostpatrol.collector.rules.model import Result
from hostpatrol.shared.clock import utcnow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "isolation"


def _logs(total: int, first_run: bool = False) -> dict:
    d = data("logs", first_run=first_run)
    d["errors"] = dict(d["errors"], total=total)
    return d


def _stick(name: str) -> dict:
    [dev] = [d for d in parse_kernel_usb_log((FIXTURES / name).read_text()) if d["serial"]]
    return dev


def _isolation(zone: str, *devices: dict) -> dict:
    d = data("isolation", zone=zone)
    d["usb_storage"] = dict(d["usb_storage"], devices=list(devices))
    return d


def test_log_errors_above_three_times_the_weekly_baseline(engine) -> None:
    t0 = utcnow() - timedelta(days=12)
    host = enroll_host(engine)
    host.send({"logs": _logs(9000, first_run=True)}, t0)  # a first run: not a baseline
    for day in range(1, 7):
        host.send({"logs": _logs(100)}, t0 + timedelta(days=day))
    host.send({"logs": _logs(5000)}, t0 + timedelta(days=7))  # only six days known yet
    assert findings_of(engine, host.agent_id, "log-errors") == []
    host.send({"logs": _logs(100)}, t0 + timedelta(days=8))
    # days 1-8 (the 5000 included): 5700 in 8 days, 712.5 expected a day, 3× = 2137.5
    host.send({"logs": _logs(2000)}, t0 + timedelta(days=9))
    assert findings_of(engine, host.agent_id, "log-errors") == []  # below 3×
    host.send({"logs": _logs(4000)}, t0 + timedelta(days=10))  # 7700 in 9 days: 3× = 2567
    [f] = findings_of(engine, host.agent_id, "log-errors")
    assert (f.state, f.level, f.subject, f.check_name) == ("open", LEVELS["IV"], "-", "logs")
    assert f.evidence["value"] == 4000
    assert f.evidence["expected"] == round(7700 / 9, 2)
    assert f.evidence["baseline_runs"] == 9  # every run since the first one
    assert f.evidence["window_hours"] == 24.0
    host.send({"logs": _logs(100)}, t0 + timedelta(days=11))
    [f] = findings_of(engine, host.agent_id, "log-errors")
    assert f.state == "verified"
    assert events_of(engine, f.id) == ["opened", "verified"]


def test_history_is_one_query_and_only_for_reports_with_logs(engine) -> None:
    t0 = utcnow() - timedelta(days=3)
    host = enroll_host(engine)
    host.send({"logs": _logs(7, first_run=True)}, t0)
    host.send({"logs": _logs(8)}, t0 + timedelta(days=1))
    seen: list[str] = []

    def spy(conn, cursor, statement, *args) -> None:
        if "check_results.status NOT IN" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        host.send({"disk": data("disk")}, t0 + timedelta(days=2))  # a heartbeat
        assert seen == []
        host.send({"logs": _logs(9), "disk": data("disk")}, t0 + timedelta(days=2, hours=1))
        assert len(seen) == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    current = Result("logs", "ok", t0 + timedelta(days=2), {}, None)
    with engine.connect() as conn:
        samples = load(conn, host.agent_id, current, {"errors.total", "first_run"}, 28)
    assert [(s.values["errors.total"], s.values["first_run"]) for s in samples] == [
        (7, True), (8, False)]


def test_one_usb_stick_on_isolated_and_internet_hosts(engine) -> None:
    now = utcnow()
    stick, other = _stick("journalctl_k_usb_storage.txt"), _stick(
        "syslog_kernel_usb_raspberrypi.txt")
    iso = enroll_host(engine, now=now, hostname="vault-1")
    web = enroll_host(engine, now=now, hostname="laptop-7")
    lab_a = enroll_host(engine, now=now, hostname="lab-a")
    lab_b = enroll_host(engine, now=now, hostname="lab-b")
    iso.send({"isolation": _isolation("isolated", stick)}, now)
    web.send({"isolation": _isolation("internet", stick)}, now)
    lab_a.send({"isolation": _isolation("intranet", other)}, now)  # same zone only
    lab_b.send({"isolation": _isolation("isolated", other)}, now)
    assert findings_of(engine, rule="usb-crossing") == []  # never on the ingest path
    done = run_once(engine, "w1", now + timedelta(minutes=1))
    assert done["fleet"].opened == 1
    [f] = findings_of(engine, rule="usb-crossing")
    assert (f.agent_id, f.subject, f.level, f.state) == (
        iso.agent_id, "62908886", LEVELS["II"], "open")
    assert [h["hostname"] for h in f.evidence["other_hosts"]] == ["laptop-7"]
    assert "laptop-7 (internet)" in f.evidence["message"]
    assert f.deadline == now + timedelta(minutes=1, hours=72)

    web.send({"isolation": _isolation("internet")}, now + timedelta(minutes=2))
    assert "fleet" not in run_once(engine, "w1", now + timedelta(minutes=3))  # hourly
    with engine.begin() as conn:
        assert sweep_fleet(conn, now + timedelta(minutes=4)).verified == 1
    assert findings_of(engine, rule="usb-crossing")[0].state == "verified"
