"""A collector that takes the request but never answers: the agent times out, keeps the
report, backs off, and runs fired meanwhile (cron, timers) never pile up."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from harness import BIN, Collector, agent
from netfault import HoldingProxy

TIMEOUT = 10


def _point_at(state: Path, url: str) -> None:
    path = state / "enrollment.json"
    doc = json.loads(path.read_text())
    doc["server"] = url
    path.write_text(json.dumps(doc))


def test_slow_collector_times_out_keeps_the_report_and_runs_do_not_pile_up(
        collector: Collector, tmp_path: Path) -> None:
    state = tmp_path / "agent"
    config = tmp_path / "agent.yaml"
    config.write_text(f"delivery:\n  timeout_seconds: {TIMEOUT}\n")
    agent(state, *collector.join_line("--auto-approve")[1:], config=config)
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    proxy = HoldingProxy(collector.port)
    try:
        _point_at(state, f"https://127.0.0.1:{proxy.port}")
        env = dict(os.environ, HOSTPATROL_STATE_DIR=str(state))
        argv = [str(BIN / "hostpatrol-agent"), "--config", str(config), "run", "--once",
                "--checks", "disk"]
        first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        while collector.count("reports", "agent_id = ?", (agent_id,)) == 0:
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        # the collector has it, the answer is withheld: the next timer/cron runs fire now
        late = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(5)]
        for proc in late:
            _, late_err = proc.communicate(timeout=60)
            assert proc.returncode == 1, late_err
            assert "another hostpatrol-agent run is in progress" in late_err
        assert first.poll() is None  # the refused runs were quick; the first still waits
        out, err = first.communicate(timeout=60)
    finally:
        proxy.close()
    assert first.returncode == 3, (out, err)
    assert "delivery incomplete" in err
    assert "timed out" in err.lower()
    assert proxy.swallowed > 0
    delivery = json.loads((state / "delivery.json").read_text())
    assert delivery["failures"] == 1  # counted: the daemon's backoff grows from it
    assert len(list((state / "spool").glob("*.jws"))) == 1  # kept: never acknowledged
    _point_at(state, collector.url)
    done = agent(state, "run", "--once", "--checks", "disk", config=config)
    assert "duplicates 1" in done.stdout  # the withheld one is acknowledged, stored once
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == 2
    assert json.loads((state / "delivery.json").read_text())["failures"] == 0
