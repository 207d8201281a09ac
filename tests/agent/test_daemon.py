"""The daemon as a real process: first cycle at once, SIGHUP reloads, SIGTERM stops cleanly."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from harness import Collector, agent, running_daemon
from hostpatrol.agent.checks import BUILTIN_CHECKS
from hostpatrol.shared import jws


def _config(path: Path, enabled: set[str], extra: str = "") -> None:
    lines = ["checks:"]
    for check in BUILTIN_CHECKS:
        lines.append(f"  {check.name}:\n    enabled: {str(check.name in enabled).lower()}")
    path.write_text("\n".join(lines) + "\n" + extra)


def _reports(collector: Collector, agent_id: str) -> list[dict]:
    return [json.loads(jws.b64url_decode(t.split(".")[1]))
            for t in collector.stored_jws(agent_id)]


def _wait(what: str, cond: Callable[[], bool], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_daemon_runs_reloads_on_sighup_and_stops_on_sigterm(collector: Collector,
                                                            tmp_path) -> None:
    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    config = tmp_path / "agent.yaml"
    _config(config, {"disk"})
    log = tmp_path / "daemon.log"
    with running_daemon(state, config, log) as proc:
        _wait("the first cycle", lambda: len(_reports(collector, agent_id)) == 1, log)
        first = _reports(collector, agent_id)[0]
        assert [r["check"] for r in first["results"]] == ["disk"]
        assert first["schedule"] == "heartbeat"
        meta = first["meta"]
        assert meta["cpu_seconds"] >= 0
        assert meta["peak_rss_bytes"] > 1_000_000
        assert set(meta["durations_ms"]) == {"disk"}
        assert meta["agent_version"]
        _wait("sleeping", lambda: "sleeping" in log.read_text(), log)
        busy = agent(state, "run", "--once", config=config, check=False)  # lock is free
        assert busy.returncode == 0, busy.stderr
        assert "no check is due" in busy.stdout

        _config(config, {"disk", "time"})
        proc.send_signal(signal.SIGHUP)
        _wait("the reload", lambda: "configuration reloaded" in log.read_text(), log)
        _wait("the newly enabled check",
              lambda: any(r["check"] == "time" for d in _reports(collector, agent_id)
                          for r in d["results"]), log)

        config.write_text("checks:\n  disk:\n    warn: 3\n")
        proc.send_signal(signal.SIGHUP)
        _wait("the refused reload", lambda: "reload failed" in log.read_text(), log)
        assert "did you mean 'warn_percent'" in log.read_text()
        assert proc.poll() is None  # a bad config never kills the daemon

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    after = agent(state, "run", "--once", "--checks", "disk")  # the lock was released
    assert "delivered 1" in after.stdout
