"""No local user, odd byte, broken check or damaged state file silences the agent.

Real processes throughout: a listener whose name an unprivileged process set to bytes
that are not UTF-8 (``prctl(PR_SET_NAME)``), backup files with such names, a real
collector that must verify and store the signed report; then runs that crash (a broken
agent.yaml, a run killed mid-way) and a state dir full of damaged records. Each time
the host keeps reporting, and the collector learns why it went quiet.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from harness import BIN, Collector, agent, wait_until
from hostpatrol.agent.checks import BUILTIN_CHECKS, by_name
from hostpatrol.agent.checks.base import Check, Outcome
from hostpatrol.agent.config import load_agent_config
from hostpatrol.agent.cycle import Agent
from hostpatrol.agent.schedule import LastRuns
from hostpatrol.shared import jws
from hostpatrol.shared.keys import public_from_b64

EVIL = b"ev\xffil\xc3"  # 5 bytes, not UTF-8: what any user may name a process
LISTENER = f"""
import ctypes, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(15, ctypes.c_char_p({EVIL!r}), 0, 0, 0) == 0  # PR_SET_NAME, no privilege
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(300)
"""


@pytest.fixture
def evil_listener() -> Iterator[tuple[int, int]]:
    """(pid, port) of a real process named with odd bytes, listening on loopback."""
    proc = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline())
        assert Path(f"/proc/{proc.pid}/comm").read_bytes() == EVIL + b"\n"
        yield proc.pid, port
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


def _enroll(c: Collector, state: Path, config: Path) -> str:
    out = agent(state, *c.join_line("--auto-approve")[1:], config=config).stdout
    return re.search(r"enrolled as agent ([0-9a-f-]{36})", out).group(1)


def _last_report(c: Collector, agent_id: str) -> dict[str, Any]:
    """The newest stored report, verified with the agent's public key alone."""
    db = sqlite3.connect(f"file:{c.data_dir / 'hostpatrol.db'}?mode=ro", uri=True)
    try:
        (pub,) = db.execute("SELECT public_key FROM agents WHERE id = ?",
                            (agent_id,)).fetchone()
    finally:
        db.close()
    docs = [jws.verify_json(token, public_from_b64(pub)) for token in c.stored_jws(agent_id)]
    return max(docs, key=lambda d: d["seq"])


def test_a_listener_named_with_odd_bytes_and_odd_backup_names_are_reported(
        collector: Collector, tmp_path: Path, evil_listener: tuple[int, int]) -> None:
    pid, port = evil_listener
    backups = os.path.join(os.fsencode(tmp_path), b"backups")
    os.makedirs(backups)
    odd_name = b"db-\xff\xfe-" + "日志".encode() + b".tar"
    with open(os.path.join(backups, odd_name), "wb") as f:
        f.write(b"x" * 10)
    state, config = tmp_path / "agent", tmp_path / "agent.yaml"
    config.write_text(f"state_dir: {state}\nchecks:\n  backups:\n    locations:\n"
                      f"      - {{name: db, path: '{tmp_path}/backups/*'}}\n")
    agent_id = _enroll(collector, state, config)

    for _ in range(2):  # before the fix the second run crashed the same way: both go out
        run = agent(state, "run", "--checks", "ports,backups,disk", config=config)
        assert "delivered 1, duplicates 0, rejected 0, still spooled 0" in run.stdout

    doc = _last_report(collector, agent_id)  # signed, verified and stored by the collector
    results = {r["check"]: r for r in doc["results"]}
    assert {r["status"] for r in results.values()} <= {"ok", "warn", "fail"}
    (mine,) = [x for x in results["ports"]["data"]["listening"] if x["port"] == port]
    assert mine["pid"] == pid
    assert mine["process"] == "ev\\xffil\\xc3"  # as bash's $'ev\xffil\xc3' matches it
    assert base64.b64decode(mine["process_bytes"]) == EVIL
    (loc,) = results["backups"]["data"]["locations"]
    assert loc["newest_path"] == f"{tmp_path}/backups/db-\\xff\\xfe-日志.tar"
    assert base64.b64decode(loc["newest_path_bytes"]) == os.path.join(backups, odd_name)

    token = collector.api_token()
    shown = collector.get(f"/api/v1/hosts/{agent_id}", token).json()
    ports = next(r for r in shown["results"] if r["check"] == "ports")
    assert any(x["process"] == "ev\\xffil\\xc3" for x in ports["data"]["listening"])
    assert set(LastRuns(state).load()) >= {"ports", "backups", "disk"}  # recorded as done


class Broken(Check):
    """A check whose result cannot be serialised (a float NaN, a set)."""

    name: ClassVar[str] = "ports"

    def collect(self) -> Outcome:
        return Outcome("ok", {"listening": [{"port": float("nan")}], "odd": {1, 2}})


def test_a_broken_check_costs_neither_the_others_nor_the_heartbeat(
        collector: Collector, tmp_path: Path) -> None:
    state, config = tmp_path / "agent", tmp_path / "agent.yaml"
    config.write_text(f"state_dir: {state}\n")
    agent_id = _enroll(collector, state, config)
    registry = {**by_name(), "ports": Broken}
    run = Agent(load_agent_config(config, BUILTIN_CHECKS), registry).cycle(["disk", "ports"])
    assert run.delivery.delivered == 1
    assert run.delivery.remaining == 0
    results = {r["check"]: r for r in _last_report(collector, agent_id)["results"]}
    assert results["disk"]["status"] in ("ok", "warn", "fail")
    assert results["ports"]["status"] == "error"
    assert results["ports"]["error"].startswith("result could not be serialised (ok): ")
    assert set(LastRuns(state).load()) == {"disk", "ports"}  # the run is recorded as done


def test_a_run_that_crashes_is_told_by_status_and_to_the_collector(
        collector: Collector, tmp_path: Path) -> None:
    state, config = tmp_path / "agent", tmp_path / "agent.yaml"
    config.write_text(f"state_dir: {state}\n")
    agent_id = _enroll(collector, state, config)
    config.write_text(f"state_dir: {state}\ndelivery:\n  batch_sise: 5\n")  # a typo
    for _ in range(3):
        failed = agent(state, "run", config=config, check=False)
        assert failed.returncode == 1
        assert "batch_sise" in failed.stderr
    status = agent(state, "status", config=config, check=False)
    assert status.returncode == 1
    assert "(run; 3 in a row since" in status.stdout
    assert "batch_sise" in status.stdout
    assert "not yet told to the collector" in status.stdout

    config.write_text(f"state_dir: {state}\n")
    assert "delivered 1" in agent(state, "run", "--checks", "disk", config=config).stdout
    told = _last_report(collector, agent_id)["meta"]["last_crash"]
    assert told["count"] == 3
    assert told["command"] == "run"
    assert "batch_sise" in told["error"]
    status = agent(state, "status", config=config).stdout
    assert f"carried by report seq {_last_report(collector, agent_id)['seq']}" in status
    host = collector.get(f"/api/v1/hosts/{agent_id}", collector.api_token()).json()["host"]
    assert host["last_crash"]["count"] == 3
    assert "batch_sise" in host["last_crash"]["error"]

    # a run killed mid-way (out of memory, kill -9) is found by the next run
    env = dict(os.environ, HOSTPATROL_STATE_DIR=str(state))
    slow = subprocess.Popen([str(BIN / "hostpatrol-agent"), "--config", str(config), "run",
                             "--checks", "patches,inventory,disk"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (state / "running.json").exists(), 30)
    os.kill(slow.pid, signal.SIGKILL)
    slow.wait(10)
    assert "delivered 1" in agent(state, "run", "--checks", "disk", config=config).stdout
    told = _last_report(collector, agent_id)["meta"]["last_crash"]
    assert "ended without finishing" in told["error"]
    assert told["count"] == 1


def test_a_state_dir_full_of_damaged_records_still_reports(collector: Collector,
                                                            tmp_path: Path) -> None:
    state, config = tmp_path / "agent", tmp_path / "agent.yaml"
    config.write_text(f"state_dir: {state}\n")
    agent_id = _enroll(collector, state, config)
    assert "delivered 1" in agent(state, "run", "--checks", "disk", config=config).stdout
    first_seq = _last_report(collector, agent_id)["seq"]
    (state / "seq").write_bytes(b"\xff\xfegarbage")
    (state / "last_run.json").write_text(json.dumps(
        {"checks": {"disk": "9999-12-31T23:59:00Z", "inventory": ["x"]}}))
    (state / "delivery.json").write_text('{"not_before": "9999-01-01T00:00:00Z", '
                                         '"failures": "x", "limits": 5}')
    (state / "gap.json").write_text('{"gap": {"dropped": "many"}, "carried_in": "x"}')
    (state / "commands.json").write_text("[1, 2")
    time.sleep(0.01)
    run = agent(state, "run", config=config, check=False)  # due: disk (its date is absurd)
    assert "delivered 1, duplicates 0, rejected 0, still spooled 0" in run.stdout, run.stderr
    doc = _last_report(collector, agent_id)
    assert "disk" in {r["check"] for r in doc["results"]}
    assert doc["seq"] > first_seq  # numbering went on upwards: no clone suspicion
    assert "seq file unreadable" in doc["meta"]["state_repaired"][0]
    assert doc["gap"]["dropped"] >= 1  # a damaged gap record still says something was lost
    host = collector.get(f"/api/v1/hosts/{agent_id}", collector.api_token()).json()["host"]
    assert host["clone_suspected_at"] is None
