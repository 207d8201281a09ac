"""``make demo``'s Ctrl-C: the real script, a real collector, SIGINT to the terminal's group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from harness import free_port

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN = 2.0  # seconds from Ctrl-C until the port refuses connections


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return seen
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    pytest.fail(f"demo never printed {needle!r}; output:\n{''.join(seen)}")


def test_ctrl_c_stops_the_demo_server_within_two_seconds(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HOSTPATROL_DEMO_DIR": str(tmp_path / "demo"),
           "HOSTPATROL_DEMO_PORT": str(port)}
    # its own session, like a terminal: Ctrl-C is SIGINT to the whole foreground group
    proc = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_line(proc, "Press Ctrl-C", timeout=240)
        assert _listening(port)
        pressed = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        while _listening(port) and time.monotonic() - pressed < 30:
            time.sleep(0.05)
        closed_after = time.monotonic() - pressed
        assert not _listening(port)
        assert closed_after < STOP_WITHIN, f"port still open {closed_after:.1f} s after Ctrl-C"
        assert proc.wait(timeout=5) != 0  # interrupted, and said so
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    log = (tmp_path / "demo" / "collector.log").read_text()
    assert "Killing" not in log  # granian's workers stopped gracefully, not killed
    assert "shutdown completed" in log
