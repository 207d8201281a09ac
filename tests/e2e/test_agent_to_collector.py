"""Real agent processes enroll with a real collector over TLS and deliver; read back via API."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess

import pytest
from harness import PASSWORD, Collector, agent
from hostpatrol.shared import jws
from hostpatrol.shared.keys import public_from_b64


def test_enroll_run_and_read_back(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    line = collector.join_line("--auto-approve")
    assert line[:2] == ["hostpatrol-agent", "enroll"]
    assert f"--fingerprint {collector.fingerprint}" in " ".join(line)
    out = agent(state, *line[1:]).stdout
    agent_id = re.search(r"enrolled as agent ([0-9a-f-]{36})", out).group(1)
    assert "(status: active)" in out
    key = state / "agent.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    enrollment = json.loads((state / "enrollment.json").read_text())
    assert enrollment["agent_id"] == agent_id
    assert enrollment["fingerprint"] == collector.fingerprint

    run = agent(state, "run", "--once")
    assert "delivered 1, duplicates 0, rejected 0, still spooled 0" in run.stdout
    assert list((state / "spool").iterdir()) == []

    token = collector.api_token()
    host = collector.get(f"/api/v1/hosts/{agent_id}", token).json()
    assert host["ok"] is True
    assert host["host"]["status"] == "active"
    assert host["host"]["last_seq"] == 1
    checks = {r["check"]: r for r in host["results"]}
    assert {"disk", "inventory"} <= set(checks)
    root = next(fs for fs in checks["disk"]["data"]["filesystems"] if fs["mount"] == "/")
    usage = shutil.disk_usage("/")
    assert abs(root["total_bytes"] - usage.total) <= 4096
    assert checks["inventory"]["data"]["hostname"] == os.uname().nodename

    hosts = collector.get("/api/v1/hosts", token).json()
    assert agent_id in {h["id"] for h in hosts["hosts"]}

    # The stored evidence is the exact JWS, verifiable with the agent's public key alone.
    raw = collector.count("reports", "agent_id = ?", (agent_id,))
    assert raw == 1
    import sqlite3

    db = sqlite3.connect(collector.data_dir / "hostpatrol.db")
    (pub,) = db.execute("SELECT public_key FROM agents WHERE id = ?", (agent_id,)).fetchone()
    db.close()
    [token_text] = collector.stored_jws(agent_id)
    doc = jws.verify_json(token_text, public_from_b64(pub))
    assert doc["agent_id"] == agent_id
    assert doc["seq"] == 1

    second = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 1" in second.stdout
    assert collector.get(f"/api/v1/hosts/{agent_id}", token).json()["host"]["last_seq"] == 2


def test_pending_agent_waits_for_approval(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    out = agent(state, *collector.join_line()[1:]).stdout
    agent_id = re.search(r"enrolled as agent ([0-9a-f-]{36})", out).group(1)
    assert "status: pending" in out
    assert f"agents approve {agent_id}" in out
    refused = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert refused.returncode == 4
    assert "pending approval" in refused.stderr
    dead = list((state / "dead-letter").glob("*.jws"))
    assert len(dead) == 1
    reason = json.loads(next((state / "dead-letter").glob("*.reason.json")).read_text())
    assert reason["status"] == 403
    collector.cli("agents", "approve", agent_id)
    assert "delivered 1" in agent(state, "run", "--once", "--checks", "disk").stdout
    collector.cli("agents", "revoke", agent_id)
    after = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert after.returncode == 4
    assert "is revoked" in after.stderr
    listing = collector.cli("agents", "list").stdout
    assert re.search(rf"{agent_id}\s+revoked", listing)


def test_wrong_fingerprint_is_refused(collector: Collector, tmp_path) -> None:
    line = collector.join_line("--auto-approve")
    i = line.index("--fingerprint")
    real, line[i + 1] = line[i + 1], "sha256:" + "ab" * 32
    out = agent(tmp_path / "agent", *line[1:], check=False)
    assert out.returncode == 1
    assert "does not match the pinned fingerprint" in out.stderr
    assert f"(it presented {real})" in out.stderr  # a changed certificate, named
    assert not (tmp_path / "agent" / "enrollment.json").exists()
    assert not (tmp_path / "agent" / "agent.key").exists()


def test_plain_http_is_not_spoken(collector: Collector) -> None:
    import requests

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{collector.port}/healthz", timeout=5)


def test_report_without_a_collector_fails_cleanly(tmp_path) -> None:
    from harness import BIN

    for argv in (["hostpatrol-collector", "--data-dir", str(tmp_path), "report",
                  "--period", "2026-W48"],):
        proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 1, argv
        assert "no collector config" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_dashboard_login_lists_host_and_disk(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent(state, "run", "--once")
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    collector.api_token("admin")  # makes sure the admin user exists
    s = collector.client().session
    url = collector.url
    s.headers["Referer"] = f"{url}/login"  # as a browser sends under Referrer-Policy same-origin
    page = s.get(f"{url}/", verify=False, timeout=10)
    assert page.url.endswith("/login?next=/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = s.post(f"{url}/login", data={"username": "admin", "password": "nope",
                                       "csrf_token": csrf}, verify=False, timeout=10)
    assert bad.status_code == 401
    no_csrf = s.post(f"{url}/login", data={"username": "admin", "password": PASSWORD},
                     verify=False, timeout=10)
    assert no_csrf.status_code == 400
    ok = s.post(f"{url}/login?next=/hosts/{agent_id}",
                data={"username": "admin", "password": PASSWORD, "csrf_token": csrf},
                verify=False, timeout=10)
    assert ok.status_code == 200
    assert ok.url.endswith(f"/hosts/{agent_id}")
    assert 'id="disk"' in ok.text
    assert "<td>/</td>" in ok.text
    assert "frame-ancestors 'none'" in ok.headers["Content-Security-Policy"]
    listing = s.get(f"{url}/hosts", verify=False, timeout=10)
    assert agent_id in listing.text
    evidence = re.search(r'href="(/hosts/[^"]+\.jws)"', ok.text).group(1)
    signed = s.get(f"{url}{evidence}", verify=False, timeout=10)
    assert signed.headers["Content-Type"] == "application/jose"
    assert signed.text.count(".") == 2
    csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                     s.get(f"{url}/login", verify=False, timeout=10).text).group(1)
    evil = s.post(f"{url}/login?next=https://evil.example/",
                  data={"username": "admin", "password": PASSWORD, "csrf_token": csrf},
                  verify=False, timeout=10, allow_redirects=False)
    assert evil.headers["Location"] == "/"


def test_every_result_a_genuine_agent_sends_passes_the_typed_boundary(collector: Collector,
                                                                      tmp_path) -> None:
    """A real run of every check, once as is and once without any tool on PATH (so that
    checks are skipped or fail on what they cannot run): nothing is refused, every stored
    result reads back as its check's data."""
    from harness import BIN, run

    state = tmp_path / "agent"
    line = collector.join_line("--auto-approve")
    agent_id = re.search(r"enrolled as agent ([0-9a-f-]{36})",
                         agent(state, *line[1:]).stdout).group(1)
    token = collector.api_token()
    empty = tmp_path / "no-tools"
    empty.mkdir()
    statuses: set[str] = set()
    for path in (os.environ["PATH"], str(empty)):
        env = dict(os.environ, HOSTPATROL_STATE_DIR=str(state), PATH=path)
        done = run([str(BIN / "hostpatrol-agent"), "run", "--once", "--all"], env=env,
                   check=False)
        assert "rejected 0, still spooled 0" in done.stdout, done.stdout + done.stderr
        assert not list(state.glob("dead-letter/*.jws"))
        host = collector.get(f"/api/v1/hosts/{agent_id}", token).json()
        assert len(host["results"]) >= 13
        for r in host["results"]:
            assert r["unreadable"] is None, r
            assert isinstance(r["data"], dict), r
            statuses.add(r["status"])
    assert "skipped" in statuses  # patches and software_policy find no package manager
