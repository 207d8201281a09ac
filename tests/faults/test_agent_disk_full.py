"""The agent's state dir runs out of space: the run says so clearly, keeps what was already
spooled, and once space returns the next report tells the collector about the failure."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Collector, agent


@pytest.fixture
def small_state_dir(tmp_path: Path) -> Iterator[Path]:
    """A 200 KiB tmpfs as the agent's state dir (mounting needs root)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the disk-full test mounts a tmpfs: CI runs it as root")
        pytest.skip("mounting a tmpfs needs root")
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k,mode=0700", "tmpfs", str(state)],
                   check=True, capture_output=True)
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False, capture_output=True)


def _fill(path: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=4k"], capture_output=True,
                   check=False)


def test_disk_full_is_reported_and_recovered(collector: Collector,
                                            small_state_dir: Path) -> None:
    state = small_state_dir
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    before = collector.count("reports", "agent_id = ?", (agent_id,))
    _fill(state / "filler")
    full = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert full.returncode == 5, full.stderr
    assert "no space left in the agent state dir" in full.stderr
    assert str(state) in full.stderr
    assert "Traceback" not in full.stderr
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == before
    again = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert again.returncode == 5
    (state / "filler").unlink()  # space returns
    ok = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 1" in ok.stdout
    assert not list(state.glob("full-*"))
    token = collector.api_token("admin")
    assert collector.get(f"/api/v1/hosts/{agent_id}", token).json()["reports"] == before + 1
    jws = collector.stored_jws(agent_id)[-1]
    from hostpatrol.shared.keys import b64url_decode

    meta = json.loads(b64url_decode(jws.split(".")[1]))["meta"]
    assert meta["state_dir_full"]["failed_runs"] == 2
    assert meta["state_dir_full"]["error"] == "no space left on device"


def test_spooled_reports_still_go_out_when_the_disk_fills(collector: Collector,
                                                          small_state_dir: Path) -> None:
    state = small_state_dir
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    enrollment = json.loads((state / "enrollment.json").read_text())
    server = enrollment["server"]
    enrollment["server"] = "https://127.0.0.1:9"  # nobody there: the report stays spooled
    (state / "enrollment.json").write_text(json.dumps(enrollment))
    agent(state, "run", "--once", "--checks", "disk", check=False)
    assert len(list((state / "spool").glob("*.jws"))) == 1
    enrollment["server"] = server
    (state / "enrollment.json").write_text(json.dumps(enrollment))
    (state / "delivery.json").unlink(missing_ok=True)
    _fill(state / "filler")
    full = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert full.returncode == 5
    assert "delivered 1" in full.stdout  # the old one went out regardless
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == 1
