"""Check-in against a real collector: signed policy, run-now commands, key rotation, clones."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

from forge import report_doc, sign
from harness import PASSWORD, Collector, agent
from hostpatrol.agent.client import agent_authorization
from hostpatrol.agent.policy import verify_policy
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import key_id, load_private_key
from hostpatrol.shared.report import format_time


def _enrolled(collector: Collector, state: Path) -> tuple[str, dict]:
    out = agent(state, *collector.join_line("--auto-approve")[1:]).stdout
    agent_id = re.search(r"agent ([0-9a-f-]{36})", out).group(1)
    return agent_id, json.loads((state / "enrollment.json").read_text())


def _query(collector: Collector, sql: str, *params: object) -> list[tuple]:
    db = sqlite3.connect(collector.data_dir / "hostpatrol.db")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def _policy_get(collector: Collector, header: str | None):
    headers = {"Authorization": header} if header else {}
    return collector.client().session.get(f"{collector.url}/api/v1/policy", headers=headers,
                                          timeout=20, verify=False)


def test_policy_is_signed_fetched_cached_and_agent_authenticated(collector: Collector,
                                                                 tmp_path) -> None:
    state = tmp_path / "agent"
    agent_id, enrollment = _enrolled(collector, state)
    res = agent(state, "run", "--once", "--checks", "disk")
    found = re.search(r"policy version (\d+) \(policy (\d+), host profile revision (\d+)\) "
                      r"applied", res.stdout)
    version = int(found.group(1))
    assert (int(found.group(2)), int(found.group(3))) == (1, 0)  # as an admin reads it
    cached = (state / "policy.jws").read_text().strip()
    doc = verify_policy(cached, enrollment["collector_key"], agent_id)
    assert doc["version"] == version
    assert jws.parse(cached).header["typ"] == "hostpatrol.policy+jws"
    again = agent(state, "run", "--once", "--checks", "disk")
    assert "applied" not in again.stdout  # same version: not fetched again
    assert f"policy: version {version}" in agent(state, "status").stdout

    key = load_private_key(state / "agent.key")
    good = _policy_get(collector, agent_authorization(key, agent_id, "GET", "/api/v1/policy"))
    assert good.status_code == 200
    assert good.headers["Content-Type"].startswith("application/jose")
    assert verify_policy(good.text, enrollment["collector_key"], agent_id)["agent_id"] == agent_id

    def stale() -> str:
        claims = {"format": "hostpatrol.request/1", "agent_id": agent_id, "method": "GET",
                  "path": "/api/v1/policy", "iat": format_time(utcnow() - timedelta(hours=1))}
        return "Agent " + jws.sign(jws.dumps_compact(claims), key,
                                   kid=key_id(key.public_key()))

    from hostpatrol.shared.keys import generate

    for header, status, words in (
            (None, 401, "Authorization: Agent"),
            (agent_authorization(key, agent_id, "POST", "/api/v1/reports"), 401, "not GET"),
            (stale(), 401, "clock skew"),
            (agent_authorization(generate(), agent_id, "GET", "/api/v1/policy"), 401,
             "unknown agent key"),
            ("Bearer nope", 401, "")):
        resp = _policy_get(collector, header)
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert body["ok"] is False
        assert body["status"] == status
        assert words in body["error"]
    collector.cli("agents", "revoke", agent_id)
    resp = _policy_get(collector, agent_authorization(key, agent_id, "GET", "/api/v1/policy"))
    assert resp.status_code == 403


def test_run_now_from_cli_and_api_runs_once(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    agent_id, _ = _enrolled(collector, state)
    out = collector.cli("agents", "run-now", agent_id, "--checks", "time").stdout
    assert "at its next check-in" in out
    res = agent(state, "run", "--once", "--checks", "disk")
    assert re.search(r"command [0-9a-f-]{36} \(run_now\) executed", res.stdout)
    assert "delivered 2" in res.stdout
    rows = _query(collector, "SELECT schedule FROM reports WHERE agent_id = ? ORDER BY id",
                  agent_id)
    assert [r[0] for r in rows] == ["manual", "command"]
    payload = json.loads(jws.b64url_decode(collector.stored_jws(agent_id)[1].split(".")[1]))
    assert [r["check"] for r in payload["results"]] == ["time"]
    done = _query(collector, "SELECT delivered_at, done_at FROM agent_commands "
                             "WHERE agent_id = ?", agent_id)
    assert len(done) == 1
    assert done[0][0]
    assert done[0][1]
    agent(state, "run", "--once", "--checks", "disk")
    assert _query(collector, "SELECT count(*) FROM reports WHERE agent_id = ? AND "
                             "schedule = 'command'", agent_id)[0][0] == 1

    admin = collector.api_token()
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    collector.cli("user", "add", "watcher", "--role", "viewer", "--password-file", str(pw))
    viewer = collector.cli("user", "api-token", "watcher").stdout.strip()

    def post(token: str | None, host: str, body: dict):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return collector.client().session.post(f"{collector.url}/api/v1/hosts/{host}/commands",
                                               json=body, headers=headers, timeout=20,
                                               verify=False)

    assert post(None, agent_id, {"checks": ["disk"]}).status_code == 401
    assert post(viewer, agent_id, {"checks": ["disk"]}).status_code == 403
    assert post(admin, "nope", {"checks": ["disk"]}).status_code == 404
    bad = post(admin, agent_id, {"checks": ["disk; rm"]})
    assert bad.status_code == 400
    assert bad.json()["ok"] is False
    made = post(admin, agent_id, {"checks": ["disk"], "ttl_hours": 2})
    assert made.status_code == 201, made.text
    # a human action through the API is audited like the CLI's
    audited = _query(collector, "SELECT actor, details FROM audit_log WHERE action = "
                                "'agent.run_now' AND target = ?", f"agent:{agent_id}")
    assert [(actor, json.loads(details)["command"]) for actor, details in audited
            if json.loads(details).get("via") == "api"] == [("admin", made.json()["id"])]
    res = agent(state, "run", "--once", "--checks", "time")
    assert f"command {made.json()['id']} (run_now) executed" in res.stdout


def test_rotate_key_then_old_key_is_refused(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    agent_id, _ = _enrolled(collector, state)
    old = load_private_key(state / "agent.key")
    out = agent(state, "rotate-key").stdout
    new_kid = out.split("new key id ")[1].strip()
    new = load_private_key(state / "agent.key")
    assert key_id(new.public_key()) == new_kid != key_id(old.public_key())
    assert not (state / "agent.key.new").exists()
    assert "delivered 1" in agent(state, "run", "--once", "--checks", "disk").stdout
    keys = _query(collector, "SELECT kid, retired_at FROM agent_keys WHERE agent_id = ?",
                  agent_id)
    assert keys == [(key_id(old.public_key()), keys[0][1])]
    assert keys[0][1]
    forged = sign(report_doc(agent_id, seq=99), old)
    resp = collector.post("/api/v1/reports", forged, "application/jose")
    assert resp.status_code == 401
    # an announcement replayed by someone holding only the old key changes nothing
    from hostpatrol.agent.rotation import announcement
    from hostpatrol.shared.keys import generate

    again = collector.client().session.post(
        f"{collector.url}/api/v1/agents/rotate", data=announcement(old, generate(), agent_id),
        headers={"Content-Type": "application/jose"}, timeout=20, verify=False)
    assert again.status_code == 401
    assert "retired" in again.json()["error"]


def test_clone_signals_are_flagged_and_shown(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    agent_id, _ = _enrolled(collector, state)
    agent(state, "run", "--once", "--checks", "disk")
    agent(state, "run", "--once", "--checks", "disk")  # seq 2
    key = load_private_key(state / "agent.key")
    token = collector.api_token()
    host = collector.get(f"/api/v1/hosts/{agent_id}", token).json()["host"]
    assert host["clone_suspected_at"] is None
    twin = report_doc(agent_id, seq=3)
    twin["host"]["machine_id"] = "f" * 32  # same key, another machine
    assert collector.post("/api/v1/reports", sign(twin, key),
                          "application/jose").status_code == 201
    host = collector.get(f"/api/v1/hosts/{agent_id}", token).json()["host"]
    assert host["clone_suspected_at"]
    assert "machine id ffff" in host["clone_reason"]
    assert "CLONE SUSPECTED" in [line for line in collector.cli("agents", "list").stdout
                                 .splitlines() if agent_id in line][0]

    state2 = tmp_path / "agent2"
    other, _ = _enrolled(collector, state2)
    agent(state2, "run", "--once", "--checks", "disk")
    agent(state2, "run", "--once", "--checks", "disk")
    key2 = load_private_key(state2 / "agent.key")
    resend = report_doc(other, seq=1)  # a new report with an old seq: a restored copy
    assert collector.post("/api/v1/reports", sign(resend, key2),
                          "application/jose").status_code == 201
    host = collector.get(f"/api/v1/hosts/{other}", token).json()["host"]
    assert "seq 1 is not after the last seq 2" in host["clone_reason"]
    dup = agent(state2, "run", "--once", "--checks", "disk")  # normal runs continue
    assert "delivered 1" in dup.stdout
