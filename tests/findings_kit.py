"""Test kit for the policy/findings tests: real check data, enrolled hosts, signed reports."""

from __future__ import annotations

import copy
import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from forge import LIMITS, report_doc, sign
from harness import BIN, run
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.policy import loader
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate
from hostpatrol.shared.report import format_time

CHECKS = ("disk", "patches", "antivirus", "logs", "accounts", "ports", "software_policy",
          "backups", "inventory", "hardware", "time", "firewall", "isolation")
ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def real_data() -> dict[str, dict[str, Any]]:
    """check → data, from one run of the real agent's ``check --json`` on this host."""
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, HOSTPATROL_STATE_DIR=state)
        out = run([str(BIN / "hostpatrol-agent"), "check", "--json", *CHECKS], env=env,
                  check=False, timeout=300).stdout
    return {r["check"]: r["data"] for r in json.loads(out) if r.get("data") is not None}


def data(check: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of the real data of ``check`` with top-level keys replaced."""
    d = copy.deepcopy(real_data()[check])
    d.update(changes)
    return d


def load_policy(engine: sa.Engine, text: str, now: datetime | None = None) -> None:
    """Store ``text`` as the next policy version."""
    with engine.begin() as conn:
        loader.store(conn, text, source="test", loaded_by="test", now=now or utcnow())


def policy_with(extra_rules: str = "", **top: str) -> str:
    """The default policy with replaced top-level sections and extra rules appended."""
    text = loader.default_text()
    for key, value in top.items():
        start = text.index(f"\n{key}:")
        end = text.index("\n# ", start + 1)
        text = text[:start] + f"\n{key}: {value}\n" + text[end:]
    return text + extra_rules


@dataclass
class Host:
    """An enrolled agent key that sends signed reports through the real ingest path."""

    engine: sa.Engine
    agent_id: str
    key: Any
    seq: int = 0
    hostname: str = "kit-host"
    sent: list[str] = field(default_factory=list)

    def signed(self, results: dict[str, dict[str, Any]], now: datetime,
               status: str = "ok") -> str:
        """The next signed report holding ``results`` (check → data) created at ``now``."""
        self.seq += 1
        doc = report_doc(self.agent_id, created_at=now, seq=self.seq, results=[
            {"check": c, "status": status, "started_at": format_time(now), "duration_ms": 1,
             "error": "timed out" if status == "error" else None,
             "data": {} if status == "error" else d} for c, d in results.items()])
        doc["host"]["hostname"] = self.hostname
        self.sent.append(doc["report_id"])
        return sign(doc, self.key)

    def send(self, results: dict[str, dict[str, Any]], now: datetime,
             status: str = "ok", received: datetime | None = None) -> str:
        """Ingest one report holding ``results`` (check → data) created at ``now`` and
        received then (or at ``received``: a report that arrives late)."""
        token = self.signed(results, now, status)
        out = ingest(self.engine, [token], limits=LIMITS, now=received or now)
        assert out[0].outcome == "accepted", out[0]
        return self.sent[-1]


_tokens: dict[int, int] = {}


def enroll_host(engine: sa.Engine, group: str | None = "g1", now: datetime | None = None,
                hostname: str = "kit-host") -> Host:
    """Enroll a new active agent in ``group``."""
    now = now or utcnow()
    n = _tokens[id(engine)] = _tokens.get(id(engine), 0) + 1
    token = f"tok-{n}"
    with engine.begin() as conn:
        agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(days=400),
                                 max_uses=1, group=group, auto_approve=True)
    key = generate()
    with engine.begin() as conn:
        done = enroll(conn, {"token": token, "proof": make_proof(key, token, now)}, now)
    return Host(engine, done.agent_id, key, hostname=hostname)


def findings_of(engine: sa.Engine, agent_id: str | None = None,
                rule: str | None = None) -> list[sa.Row]:
    """Findings rows (optionally of one host / rule), by id."""
    from hostpatrol.collector.store.schema import findings

    q = sa.select(findings).order_by(findings.c.id)
    if agent_id:
        q = q.where(findings.c.agent_id == agent_id)
    if rule:
        q = q.where(findings.c.rule_id == rule)
    with engine.connect() as conn:
        return list(conn.execute(q).all())


def events_of(engine: sa.Engine, finding_id: int) -> list[str]:
    """The actions on a finding's timeline, in order."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT action FROM finding_events WHERE finding_id = :f ORDER BY id"),
            {"f": finding_id}).scalars())
