"""After an outage the spool drains: batches under the collector's size, none stuck for good.

A real collector is stopped while 60+ large reports (full inventories, ~80 KB signed)
pile up in a real agent's spool, plus a few reports too large for any request; then it
comes back with a small ``ingest.max_body_bytes``, or behind a proxy that cuts every
upload over a size it never states. Real ``hostpatrol-agent run`` processes must
deliver everything that fits within a few runs, oldest first, each report stored once,
dead-letter the rest with the reason, and tell the collector of that gap.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Collector, agent, free_port
from hostpatrol.agent.batching import CUTS_TO_GIVE_UP
from hostpatrol.agent.checks import BUILTIN_CHECKS, by_name
from hostpatrol.agent.client import batch_body_size
from hostpatrol.agent.config import load_agent_config
from hostpatrol.agent.cycle import Agent
from hostpatrol.agent.spool import Spool
from netfault import CuttingProxy

PILE = 62
HUGE = 2
# a backups check over many locations: one real report of ~300 KB (none of them exist)
HUGE_CONFIG = "checks:\n  backups:\n    locations:\n" + "".join(
    f"      - {{name: loc{i}, path: /nonexistent/hostpatrol-test/{'d' * 200}/{i}/*.tar}}\n"
    for i in range(450))


@pytest.fixture
def own_collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    c.start()
    yield c
    c.stop()


def _enroll(c: Collector, state: Path, config: Path, server: str | None = None) -> str:
    line = c.join_line("--auto-approve")[1:]
    if server is not None:
        line[line.index("--server") + 1] = server
    out = agent(state, *line, config=config).stdout
    return re.search(r"enrolled as agent ([0-9a-f-]{36})", out).group(1)


def _pile_up(state: Path, config: Path) -> dict[str, list[str]]:
    """While the collector is away: PILE inventory reports and HUGE huge ones, made by the
    real agent code (in this process: 60 interpreter starts would only cost time)."""
    agent_ = Agent(load_agent_config(config, BUILTIN_CHECKS), by_name(), out=lambda _: None)
    made: dict[str, list[str]] = {"inventory": [], "backups": []}
    for i in range(PILE + HUGE):
        name = "backups" if i % 30 == 29 else "inventory"
        result = agent_.cycle([name])
        assert result.delivery.error  # nobody answers
        made[name].append(re.search(r"report ([0-9a-f-]{36})", result.reports[0]).group(1))
    return made


def _stored(c: Collector, agent_id: str) -> list[str]:
    db = sqlite3.connect(f"file:{c.data_dir / 'hostpatrol.db'}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute(
            "SELECT report_id FROM reports WHERE agent_id = ? ORDER BY seq", (agent_id,))]
    finally:
        db.close()


def _config(tmp_path: Path, state: Path) -> Path:
    config = tmp_path / "agent.yaml"
    config.write_text(f"state_dir: {state}\n{HUGE_CONFIG}")
    return config


def _sizes(state: Path, ids: list[str]) -> list[int]:
    spool = Spool(state / "spool")
    by_id = {i.report_id: i.path.stat().st_size - 1 for i in spool.pending()}
    return [by_id[i] for i in ids]


def test_a_spool_piled_up_in_an_outage_drains_under_a_small_body_limit(
        own_collector: Collector, tmp_path: Path) -> None:
    c, state = own_collector, tmp_path / "agent"
    config = _config(tmp_path, state)
    agent_id = _enroll(c, state, config)
    first = agent(state, "run", "--checks", "disk", config=config)
    assert "delivered 1" in first.stdout  # learnt the collector's limits: 4 MiB then
    c.stop()
    made = _pile_up(state, config)
    inventory, huge = _sizes(state, made["inventory"]), _sizes(state, made["backups"])
    assert min(inventory) > 60_000
    assert len(made["inventory"]) >= 60
    limit = batch_body_size([max(inventory)] * 2) + 64  # two inventories a request, not 3
    assert min(huge) > limit
    assert batch_body_size([min(inventory)] * 3) > limit
    with open(c.data_dir / "collector.yaml", "a") as f:
        f.write(f"ingest:\n  max_body_bytes: {limit}\n")
    c.start()

    outputs = []
    for _ in range(3):
        run = agent(state, "run", "--checks", "disk", config=config, check=False)
        outputs.append(run.stdout + run.stderr)
        if "still spooled 0" in run.stdout:
            break
    assert "still spooled 0" in outputs[-1], outputs
    assert len(outputs) <= 2, outputs  # drained within a few runs (here: one, or two)

    stored = _stored(c, agent_id)
    assert len(stored) == len(set(stored))  # each report stored once
    assert [r for r in stored if r in made["inventory"]] == made["inventory"]  # oldest first
    assert not set(made["backups"]) & set(stored)
    dead = sorted((state / "dead-letter").glob("*.reason.json"))
    assert len(dead) == HUGE
    for reason in dead:
        doc = json.loads(reason.read_text())
        assert doc["status"] == 413
        assert doc["gap_reason"] == "too_large"
        assert f"at most {limit} bytes a request" in doc["error"]
    status = agent(state, "status", config=config).stdout
    assert f"collector limits: max_batch 100, max_body_bytes {limit}" in status
    assert f"dead letters: {HUGE}" in status

    assert f"evidence gap not yet acknowledged: {HUGE} report(s)" in status
    # the next report carries the gap marker: the collector shows which reports and why
    assert "delivered 1" in agent(state, "run", "--checks", "disk", config=config).stdout
    token = c.api_token()
    host = c.get(f"/api/v1/hosts/{agent_id}", token).json()["host"]
    assert host["evidence_gap"]["reasons"] == {"too_large": HUGE}
    assert host["evidence_gap"]["dropped"] == HUGE


def test_uploads_cut_by_a_proxy_are_halved_and_a_report_that_never_passes_is_given_up(
        own_collector: Collector, tmp_path: Path) -> None:
    c, state = own_collector, tmp_path / "agent"
    config = _config(tmp_path, state)
    proxy = CuttingProxy(c.port, cut_above=200_000)
    try:
        agent_id = _enroll(c, state, config, server=f"https://127.0.0.1:{proxy.port}")
        c.stop()
        made = _pile_up(state, config)
        assert min(_sizes(state, made["backups"])) > 200_000
        c.start()
        run = agent(state, "run", "--checks", "disk", config=config, check=False)
        assert "still spooled 0" in run.stdout, run.stdout + run.stderr
        assert run.returncode == 4  # something went to dead-letter/: said by the exit code
        assert proxy.cuts >= 5  # halvings from 4 MiB, then the huge reports' three tries
    finally:
        proxy.close()
    stored = _stored(c, agent_id)
    assert len(stored) == len(set(stored))
    assert [r for r in stored if r in made["inventory"]] == made["inventory"]
    reasons = [json.loads(p.read_text())["error"]
               for p in sorted((state / "dead-letter").glob("*.reason.json"))]
    assert len(reasons) == HUGE
    assert all(f"cut after its upload {CUTS_TO_GIVE_UP} times" in r for r in reasons)
