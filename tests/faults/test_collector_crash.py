"""kill -9 the collector while 100 agents deliver: after a restart every report is stored once."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections import Counter

import pytest
from faultkit import drain_all, enroll_fleet, stored_ids_sqlite, wait_until
from harness import Collector, free_port

AGENTS = 100
REPORTS_EACH = 4


# A kill -9 in the middle of TLS exchanges leaves, now and then, a client socket whose peer
# vanished to be closed by the garbage collector rather than explicitly (somewhere in the
# HTTP client's error paths, not in hostpatrol). Only that warning is ignored, only here,
# and the collector runs at the end of the test while the filter holds.
@pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")
def test_kill_9_mid_delivery_then_restart_stores_every_report_once(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    c.start()
    try:
        fleet = enroll_fleet(c, tmp_path, AGENTS)
        for a in fleet:
            a.spool_reports(REPORTS_EACH)
        db = c.data_dir / "hostpatrol.db"
        threads = drain_all(fleet, c.client, timeout=120)
        # let a good part arrive, then kill every collector process at once, no warning
        assert wait_until(lambda: c.count("reports") >= AGENTS, 60)
        os.killpg(c.proc.pid, signal.SIGKILL)
        c.proc.wait(10)
        c.proc = None
        at_kill = len(stored_ids_sqlite(db))
        assert at_kill < AGENTS * REPORTS_EACH, "the kill came too late to prove anything"
        time.sleep(1.0)  # agents meet a dead collector and keep their spools
        c.start()
        for t in threads:
            t.join(130)
        assert not any(t.is_alive() for t in threads)
        stored = stored_ids_sqlite(db)
        sent = [rid for a in fleet for rid in a.report_ids]
        assert len(stored) == len(sent) == AGENTS * REPORTS_EACH
        assert Counter(stored) == Counter(sent)  # each exactly once, none foreign
        assert all(not a.spool.pending() for a in fleet)
        assert not any((tmp_path / f"agent-{i}" / "dead-letter").exists()
                       for i in range(AGENTS))
        assert any(a.errors for a in fleet), "no agent ever saw the collector die"
        client = c.client()
        try:
            health = client.session.get(f"{c.url}/healthz", timeout=10, verify=False)
            assert health.json() == {"ok": True, "database": "ok"}
        finally:
            client.session.close()
    finally:
        c.stop()
        gc.collect()
