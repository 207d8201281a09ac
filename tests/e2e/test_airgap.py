"""Air-gapped hosts: export the spool to a file, import it on the collector (idempotent)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from forge import report_doc, sign
from harness import Collector, agent
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import load_private_key


def test_export_import_round_trip_idempotent_and_tamper_evident(collector: Collector,
                                                                tmp_path) -> None:
    state = tmp_path / "agent"
    out = agent(state, *collector.join_line("--auto-approve")[1:]).stdout
    agent_id = re.search(r"agent ([0-9a-f-]{36})", out).group(1)
    enrollment = json.loads((state / "enrollment.json").read_text())
    (state / "enrollment.json").write_text(json.dumps({**enrollment,
                                                       "server": "https://127.0.0.1:9"}))
    for _ in range(2):
        assert agent(state, "run", "--once", "--checks", "disk", check=False).returncode == 3
    export = tmp_path / "carry.jsonl"
    res = agent(state, "export", str(export))
    assert "exported 2 report(s)" in res.stdout
    lines = export.read_text().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line).count(".") == 2 for line in lines)
    assert len(list((state / "spool").glob("*.jws"))) == 2  # export keeps them

    first = collector.cli("import", str(export))
    assert "accepted 2, duplicates 0, rejected 0" in first.stdout
    assert collector.count("reports", "agent_id = ? AND source = 'import'", (agent_id,)) == 2
    again = collector.cli("import", str(export))
    assert "accepted 0, duplicates 2, rejected 0" in again.stdout
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == 2

    token = json.loads(lines[0])
    head, payload, sig = token.split(".")
    flipped = payload[:-5] + ("A" if payload[-5] != "A" else "B") + payload[-4:]
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(json.dumps(f"{head}.{flipped}.{sig}") + "\n" + "not a jws\n")
    bad = collector.cli("import", str(tampered), check=False)
    assert bad.returncode == 4
    assert "accepted 0, duplicates 0, rejected 2" in bad.stdout
    assert f"{tampered}:1: rejected (401 bad_signature)" in bad.stderr
    assert f"{tampered}:2: rejected (400 malformed)" in bad.stderr

    # an old report: refused over the network, accepted by import's wider horizon
    key = load_private_key(state / "agent.key")
    old = sign(report_doc(agent_id, created_at=utcnow() - timedelta(days=40), seq=50), key)
    assert collector.post("/api/v1/reports", old, "application/jose").status_code == 422
    carried = tmp_path / "old.jsonl"
    carried.write_text(old + "\n")  # a bare JWS line is accepted too
    narrow = collector.cli("import", str(carried), "--horizon-days", "10", check=False)
    assert "rejected (422 too_old)" in narrow.stderr
    assert "accepted 1" in collector.cli("import", str(carried)).stdout

    (state / "enrollment.json").write_text(json.dumps(enrollment))
    back = agent(state, "run", "--once", "--checks", "disk")  # online again later
    assert "delivered 1, duplicates 2, rejected 0, still spooled 0" in back.stdout
    removed = agent(state, "export", str(tmp_path / "empty.jsonl"), "--remove")
    assert "exported 0 report(s)" in removed.stdout


def test_status_says_where_and_what_waits(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    never = agent(state, "status", check=False)
    assert never.returncode == 1
    assert "not enrolled" in never.stderr
    agent(state, *collector.join_line("--auto-approve")[1:])
    before = agent(state, "status").stdout
    assert f"collector: {collector.url} ({collector.fingerprint})" in before
    assert "last run: never" in before
    assert "spooled reports: 0" in before
    agent(state, "run", "--once", "--checks", "disk")
    after = agent(state, "status").stdout
    assert "last run: 20" in after
    assert "last successful delivery: 20" in after
    assert "dead letters: 0" in after
    assert "next scheduled runs:" in after
    assert re.search(r"\n  20\S+Z  disk\n", after)  # the heartbeat slot after this run
