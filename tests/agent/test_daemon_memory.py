"""The sleeping daemon stays small (issue 8: idle RSS <= 40 MB) after a full cycle.

A real ``hostpatrol-agent daemon`` enrolled with a real collector runs every built-in
check once, delivers the report, and goes to sleep; its resident memory is then read
from ``/proc/PID/status`` (VmRSS, what ``bench/agent.py`` samples via psutil).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from harness import Collector, agent, running_daemon
from hostpatrol.agent.checks import BUILTIN_CHECKS

RSS_LIMIT_MB = 40.0


def _vmrss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def _libraries(pid: int) -> set[str]:
    """Shared objects mapped by ``pid`` (for the failure message)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {Path(p.split()[-1]).name for p in lines if p.endswith(".so") or ".so." in p}


def test_daemon_idle_rss_stays_under_40_mb_after_a_full_cycle(collector: Collector,
                                                               tmp_path) -> None:
    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    config = tmp_path / "agent.yaml"
    config.write_text("checks:\n" + "".join(f"  {c.name}:\n    enabled: true\n"
                                            for c in BUILTIN_CHECKS))
    log = tmp_path / "daemon.log"
    with running_daemon(state, config, log) as proc:
        deadline = time.monotonic() + 300
        while "sleeping" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        text = log.read_text()
        assert "delivered 1," in text, text[-3000:]
        assert collector.count("reports", "agent_id = ?", (agent_id,)) == 1
        samples = []
        for _ in range(6):
            samples.append(_vmrss_mb(proc.pid))
            time.sleep(0.5)
        assert max(samples) <= RSS_LIMIT_MB, (
            f"idle VmRSS {max(samples):.1f} MB > {RSS_LIMIT_MB:g} MB; mapped libraries: "
            f"{sorted(_libraries(proc.pid))}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
