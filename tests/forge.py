"""Building (and deliberately breaking) signed reports and enrollments in tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from harness import Collector
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.trust import Limits
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate, key_id
from hostpatrol.shared.report import format_time

LIMITS = Limits(max_report_bytes=1 << 20, clock_skew=timedelta(minutes=5),
                replay_horizon=timedelta(days=30))


def report_doc(agent_id: str, *, created_at: datetime | None = None,
               results: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A valid report document with one disk result."""
    now = created_at or utcnow()
    doc = {
        "format": "hostpatrol.report/1",
        "agent_id": agent_id,
        "report_id": str(uuid.uuid4()),
        "seq": 1,
        "created_at": format_time(now),
        "schedule": "manual",
        "host": {"hostname": "forged-host", "agent_version": "0.1.0"},
        "meta": {},
        "results": results if results is not None else [{
            "check": "disk", "status": "ok", "started_at": format_time(now),
            "duration_ms": 3, "error": None,
            "data": {"filesystems": [{
                "device": "/dev/sda1", "mount": "/", "fstype": "ext4",
                "total_bytes": 1000, "used_bytes": 500, "free_bytes": 500,
                "used_percent": 50.0, "inodes_total": 100, "inodes_used": 10,
                "inodes_used_percent": 10.0, "read_only": False, "status": "ok"}],
                "skipped": []},
        }],
    }
    doc.update(extra)
    return doc


def sign(doc: dict[str, Any], key: Ed25519PrivateKey, kid: str | None = None) -> str:
    """Sign a document as an agent would."""
    return jws.sign(jws.dumps_compact(doc), key, kid=kid or key_id(key.public_key()))


def enroll_key(collector: Collector, token: str,
               key: Ed25519PrivateKey | None = None) -> tuple[str, Ed25519PrivateKey, dict]:
    """Enroll a fresh key through the real API; return (agent_id, key, answer)."""
    key = key or generate()
    answer = collector.client().enroll(token, make_proof(key, token))
    return answer["agent_id"], key, answer


def enroll_in_store(engine: Any, auto: bool = True) -> tuple[str, Ed25519PrivateKey]:
    """Enroll a fresh key straight into the store (token ``tok``, group g1): (agent_id, key)."""
    now = utcnow()
    with engine.begin() as conn:
        agent_store.create_token(conn, "tok", now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=5, group="g1", auto_approve=auto)
    key = generate()
    with engine.begin() as conn:
        done = enroll(conn, {"token": "tok", "proof": make_proof(key, "tok")}, now)
    return done.agent_id, key


def disk(percent: float) -> dict:
    """A disk result with ``/`` at ``percent`` used."""
    used = int(percent * 10)
    return {"filesystems": [{
        "device": "/dev/sda1", "mount": "/", "fstype": "ext4", "total_bytes": 1000,
        "used_bytes": used, "free_bytes": 1000 - used, "used_percent": percent,
        "inodes_total": 100, "inodes_used": 10, "inodes_used_percent": 10.0,
        "read_only": False, "status": "ok"}], "skipped": []}


def result(check: str, data: dict, now=None) -> dict:
    """One result entry of a report."""
    return {"check": check, "status": "ok", "started_at": format_time(now or utcnow()),
            "duration_ms": 2, "error": None, "data": data}


def an_hour_ago() -> datetime:
    """A time comfortably inside every window."""
    return utcnow() - timedelta(hours=1)
