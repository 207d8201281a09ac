"""Skewed clocks: a report whose time is beyond the allowed skew is refused with both
clocks named, the host gets a finding, and the agent keeps the refused report."""

from __future__ import annotations

import json
from datetime import timedelta

from forge import enroll_key, report_doc, sign
from harness import Collector
from hostpatrol.agent.delivery import deliver_spool
from hostpatrol.agent.spool import Spool
from hostpatrol.shared.clock import utcnow


def _clock_findings(collector: Collector, token: str, agent_id: str) -> list[dict]:
    found = collector.get(f"/api/v1/findings?host={agent_id}", token).json()["findings"]
    return [f for f in found if f["subject"] == "collector-time"]


def test_agent_clock_ahead_is_refused_clearly_and_opens_one_host_finding(
        collector: Collector, tmp_path) -> None:
    agent_id, key, _ = enroll_key(collector, collector.token("--auto-approve"))
    token = collector.api_token("admin")
    ahead = report_doc(agent_id, created_at=utcnow() + timedelta(hours=2))
    signed = sign(ahead, key)
    spool = Spool(tmp_path / "spool")
    spool.put(1, ahead["report_id"], signed)
    client = collector.client()
    try:
        result = deliver_spool(spool, client)
    finally:
        client.session.close()
    assert result.dead_lettered == 1
    assert "is in the future (collector time" in result.rejections[0]
    # not silently lost: kept beside the spool with the reason, byte for byte
    kept = tmp_path / "dead-letter" / f"{1:020d}-{ahead['report_id']}.jws"
    assert kept.read_text().strip() == signed
    reason = json.loads(kept.with_suffix(".reason.json").read_text())
    assert reason["status"] == 422
    [finding] = _clock_findings(collector, token, agent_id)
    assert finding["rule"] == "clock-unsynchronised"
    assert finding["state"] == "open"
    assert finding["level"] == "IV"
    assert 7000 <= finding["evidence"]["skew_seconds"] <= 7300
    assert "ahead of the collector" in finding["evidence"]["message"]
    # refused again: the same finding counts it, no second one
    again = report_doc(agent_id, created_at=utcnow() + timedelta(hours=3))
    assert collector.post("/api/v1/reports", sign(again, key),
                          "application/jose").status_code == 422
    [finding] = _clock_findings(collector, token, agent_id)
    assert finding["occurrences"] == 2
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == 0


def test_clock_behind_within_the_horizon_is_accepted_without_a_finding(
        collector: Collector) -> None:
    agent_id, key, _ = enroll_key(collector, collector.token("--auto-approve"))
    behind = report_doc(agent_id, created_at=utcnow() - timedelta(days=2))
    assert collector.post("/api/v1/reports", sign(behind, key),
                          "application/jose").status_code == 201
    assert _clock_findings(collector, collector.api_token("admin"), agent_id) == []


def test_clock_far_behind_is_refused_with_a_finding(collector: Collector) -> None:
    agent_id, key, _ = enroll_key(collector, collector.token("--auto-approve"))
    old = report_doc(agent_id, created_at=utcnow() - timedelta(days=40))
    resp = collector.post("/api/v1/reports", sign(old, key), "application/jose")
    assert resp.status_code == 422
    assert "older than the replay horizon" in resp.json()["error"]
    [finding] = _clock_findings(collector, collector.api_token("admin"), agent_id)
    assert "behind the collector" in finding["evidence"]["message"]
    assert finding["evidence"]["reason"] == "too_old"


def test_unverified_senders_cannot_plant_clock_findings(collector: Collector) -> None:
    agent_id, key, _ = enroll_key(collector, collector.token("--auto-approve"))
    _, stranger, _ = enroll_key(collector, collector.token("--auto-approve"))
    forged = report_doc(agent_id, created_at=utcnow() + timedelta(hours=5))
    resp = collector.post("/api/v1/reports", sign(forged, stranger), "application/jose")
    assert resp.status_code == 403  # claims another agent: refused before any time check
    assert _clock_findings(collector, collector.api_token("admin"), agent_id) == []

