"""The spool: atomic files that survive a crash and are delivered exactly once later."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from harness import BIN, Collector, agent
from hostpatrol.agent.spool import Spool
from hostpatrol.shared import jws


def _black_hole() -> tuple[socket.socket, int, threading.Event]:
    """A TCP listener that accepts and never answers (a hung collector)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue
        for c in held:
            c.close()

    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1], stop


def _point_at(state: Path, url: str) -> None:
    path = state / "enrollment.json"
    doc = json.loads(path.read_text())
    doc["server"] = url
    path.write_text(json.dumps(doc))


def test_kill_9_between_spool_write_and_delivery(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    out = agent(state, *collector.join_line("--auto-approve")[1:]).stdout
    agent_id = re.search(r"agent ([0-9a-f-]{36})", out).group(1)
    srv, port, stop = _black_hole()
    try:
        _point_at(state, f"https://127.0.0.1:{port}")
        proc = subprocess.Popen(
            [str(BIN / "hostpatrol-agent"), "run", "--once", "--checks", "disk"],
            env=dict(os.environ, HOSTPATROL_STATE_DIR=str(state)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        spool = Spool(state / "spool")
        while not spool.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spool.pending(), "report never reached the spool"
        time.sleep(0.3)  # now blocked waiting for the collector's answer
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop.set()
        srv.close()
    items = spool.pending()
    assert len(items) == 1
    token = items[0].read()
    header = jws.parse(token)  # complete and well-formed after the crash
    assert header.kid
    assert not list((state / "spool").glob(".*.tmp"))

    _point_at(state, collector.url)
    delivered = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 2, duplicates 0, rejected 0, still spooled 0" in delivered.stdout
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == 2
    assert collector.count("reports", "report_id = ?", (items[0].report_id,)) == 1


def test_collector_down_then_up_delivers_in_order(collector: Collector, tmp_path) -> None:
    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    _point_at(state, "https://127.0.0.1:9")  # nothing listens on the discard port
    for _ in range(3):
        res = agent(state, "run", "--once", "--checks", "disk", check=False)
        assert res.returncode == 3
        assert "delivery incomplete" in res.stderr
    seqs = [i.seq for i in Spool(state / "spool").pending()]
    assert seqs == [1, 2, 3]
    _point_at(state, collector.url)
    res = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 4" in res.stdout
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    import sqlite3

    db = sqlite3.connect(collector.data_dir / "hostpatrol.db")
    stored = [r[0] for r in db.execute("SELECT seq FROM reports WHERE agent_id = ? ORDER BY id",
                                       (agent_id,))]
    db.close()
    assert stored == [1, 2, 3, 4]


def test_partial_temp_file_is_ignored(tmp_path) -> None:
    spool = Spool(tmp_path / "spool")
    item = spool.put(7, "0b4f7e1c-5d2a-4d44-9a0e-3f0f2a8c1b11", "a.b.c")
    (tmp_path / "spool" / ".00000000000000000008-x.jws.tmp").write_text("half")
    assert [p.seq for p in spool.pending()] == [7]
    assert oct(item.path.stat().st_mode & 0o777) == "0o600"
    spool.acknowledge(item)
    assert spool.pending() == []


def test_second_concurrent_run_is_refused(tmp_path) -> None:
    from hostpatrol.agent.state import State, StateError

    state = State(tmp_path)
    with state.run_lock(), pytest.raises(StateError, match="in progress"), state.run_lock():
        pass


def test_seq_survives_restarts(tmp_path) -> None:
    from hostpatrol.agent.state import State

    assert [State(tmp_path).next_seq() for _ in range(3)] == [1, 2, 3]
    assert State(tmp_path).next_seq() == 4
