"""Fault tests: a fleet of enrolled agents (threads) delivering pre-signed reports through
the real agent client and spool, and bookkeeping to prove every report arrived once."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from forge import report_doc, sign
from harness import Collector
from hostpatrol.agent.client import Client
from hostpatrol.agent.delivery import deliver_spool
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.agent.spool import Spool
from hostpatrol.shared.keys import generate


@dataclass
class SimAgent:
    """One enrolled agent: its key, a real spool in its own dir, the ids it spooled."""

    agent_id: str
    key: Ed25519PrivateKey
    spool: Spool
    seq: int = 0
    report_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def spool_reports(self, count: int) -> None:
        """Sign and spool ``count`` new reports, as the agent's run does."""
        for _ in range(count):
            self.seq += 1
            doc = report_doc(self.agent_id, seq=self.seq)
            self.spool.put(self.seq, doc["report_id"], sign(doc, self.key))
            self.report_ids.append(doc["report_id"])

    def drain(self, client: Client, deadline: float, batch_size: int = 1,
              pause: float = 0.1) -> bool:
        """Deliver until the spool is empty (retrying failures) or ``deadline``."""
        while time.monotonic() < deadline:
            result = deliver_spool(self.spool, client, batch_size)
            if result.error:
                self.errors.append(result.error)
            if not self.spool.pending():
                return True
            if result.rejections:
                return False  # refused for good: dead-lettered
            time.sleep(pause)
        return not self.spool.pending()


def enroll_fleet(collector: Collector, root: Path, count: int) -> list[SimAgent]:
    """``count`` agents enrolled through the real API, each with its own spool dir."""
    token = collector.token("--uses", str(count), "--auto-approve")
    agents = []
    client = collector.client()
    try:
        for i in range(count):
            key = generate()
            agent_id = client.enroll(token, make_proof(key, token))["agent_id"]
            agents.append(SimAgent(agent_id, key, Spool(root / f"agent-{i}" / "spool")))
    finally:
        client.session.close()
    return agents


def drain_all(agents: list[SimAgent], make_client: Any, timeout: float,
              batch_size: int = 1) -> list[threading.Thread]:
    """Start one delivering thread per agent (each with its own pinned client)."""
    deadline = time.monotonic() + timeout
    threads = []
    for a in agents:
        def work(a: SimAgent = a) -> None:
            client = make_client()
            try:
                a.drain(client, deadline, batch_size)
            finally:
                client.session.close()
        t = threading.Thread(target=work, daemon=True)
        t.start()
        threads.append(t)
    return threads


def stored_ids_sqlite(db: Path) -> list[str]:
    """Every stored report id (duplicates kept, so a double store would show)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT report_id FROM reports")]
    finally:
        conn.close()


def stored_ids_url(url: str) -> list[str]:
    """Every stored report id from a database URL."""
    from hostpatrol.collector.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT report_id FROM reports")).scalars())
    finally:
        engine.dispose()


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
