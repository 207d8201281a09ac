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


def _agent_id(state: Path) -> str:
    return json.loads((state / "enrollment.json").read_text())["agent_id"]


def _stored(collector: Collector, agent_id: str) -> list[dict]:
    return [json.loads(jws.b64url_decode(t.split(".")[1]))
            for t in collector.stored_jws(agent_id)]


def test_kill_9_between_delivery_and_acknowledgement(collector: Collector, tmp_path) -> None:
    from netfault import HoldingProxy

    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = _agent_id(state)
    proxy = HoldingProxy(collector.port)  # the collector stores; its answer never arrives
    try:
        _point_at(state, f"https://127.0.0.1:{proxy.port}")
        proc = subprocess.Popen(
            [str(BIN / "hostpatrol-agent"), "run", "--once", "--checks", "disk"],
            env=dict(os.environ, HOSTPATROL_STATE_DIR=str(state)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while collector.count("reports", "agent_id = ?", (agent_id,)) == 0:
            assert time.monotonic() < deadline, "the collector never got the report"
            time.sleep(0.05)
        assert proc.poll() is None  # delivered, waiting for the acknowledgement
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proxy.close()
    assert proxy.swallowed > 0
    pending = Spool(state / "spool").pending()
    assert len(pending) == 1  # not acknowledged, so still spooled
    _point_at(state, collector.url)
    res = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 1, duplicates 1, rejected 0, still spooled 0" in res.stdout
    assert collector.count("reports", "report_id = ?", (pending[0].report_id,)) == 1
    assert [d["seq"] for d in _stored(collector, agent_id)] == [1, 2]


def test_spool_over_cap_drops_oldest_and_the_gap_marker_arrives(collector: Collector,
                                                                tmp_path) -> None:
    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    agent_id = _agent_id(state)
    _point_at(state, "https://127.0.0.1:9")
    agent(state, "run", "--once", "--checks", "disk", check=False)
    size = Spool(state / "spool").pending()[0].path.stat().st_size
    config = tmp_path / "agent.yaml"
    config.write_text(f"spool:\n  max_bytes: {int(size * 2.5)}\n")
    for _ in range(4):
        res = agent(state, "run", "--once", "--checks", "disk", config=config, check=False)
        assert res.returncode == 3
    assert "dropped" in res.stderr  # a clear warning when it drops
    kept = [i.seq for i in Spool(state / "spool").pending()]
    assert kept[-1] == 5
    assert len(kept) < 5
    _point_at(state, collector.url)
    # the first run may still drop (its own report made the spool overflow): the run
    # after it carries that too
    agent(state, "run", "--once", "--checks", "disk", config=config)
    agent(state, "run", "--once", "--checks", "disk", config=config)
    docs = _stored(collector, agent_id)
    seqs = [d["seq"] for d in docs]
    assert seqs == sorted(seqs)
    assert seqs[-1] == 7
    dropped = sorted(set(range(1, 8)) - set(seqs))
    assert dropped, "nothing was dropped"
    gap = [d["gap"] for d in docs if "gap" in d][-1]  # cumulative: the last says it all
    assert gap["dropped"] == len(dropped)
    assert (gap["first_seq"], gap["last_seq"]) == (dropped[0], dropped[-1])
    assert len(gap["report_ids"]) == len(dropped)
    assert not (state / "gap.json").exists()  # settled once the collector had it
    # the collector keeps the gap with the host: an admin sees that evidence is missing
    host = collector.get(f"/api/v1/hosts/{agent_id}", collector.api_token()).json()["host"]
    assert host["evidence_gap"]["dropped"] == len(dropped)
    assert (host["evidence_gap"]["first_seq"], host["evidence_gap"]["last_seq"]) == (
        dropped[0], dropped[-1])
    assert host["evidence_gap"]["reported_at"]


def test_429_retry_after_is_honoured_across_runs(collector: Collector, tmp_path) -> None:
    from netfault import BusyServer

    state = tmp_path / "agent"
    agent(state, *collector.join_line("--auto-approve")[1:])
    busy = BusyServer(tmp_path)
    try:
        path = state / "enrollment.json"
        real = json.loads(path.read_text())
        path.write_text(json.dumps({**real, "server": busy.url,
                                    "fingerprint": busy.fingerprint}))
        first = agent(state, "run", "--once", "--checks", "disk", check=False)
        assert first.returncode == 3
        assert "429" in first.stderr
        assert busy.requests == ["POST /api/v1/reports"]
        delivery = json.loads((state / "delivery.json").read_text())
        assert delivery["not_before"] is not None
        second = agent(state, "run", "--once", "--checks", "disk", check=False)
        assert second.returncode == 3
        assert "asked to wait until" in second.stderr
        assert busy.requests == ["POST /api/v1/reports"]  # not called again
        assert "collector asked to wait until" in agent(state, "status").stdout
    finally:
        busy.close()
    path.write_text(json.dumps(real))
    third = agent(state, "run", "--once", "--checks", "disk", check=False)
    assert "asked to wait until" in third.stderr  # the wait is kept, whatever the server
    delivery["not_before"] = "2000-01-01T00:00:00.000Z"  # ...until it has passed
    (state / "delivery.json").write_text(json.dumps(delivery))
    done = agent(state, "run", "--once", "--checks", "disk")
    assert "delivered 4, duplicates 0, rejected 0, still spooled 0" in done.stdout
