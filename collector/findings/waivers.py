"""Waivers: requested with a justification, approved by someone else, expiring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..errors import ApiError
from ..policy.model import Policy
from ..store.schema import findings, waivers
from .events import ACTIVE, add_event
from .lifecycle import Actor, get_finding

APPROVERS = ("approver", "admin")


def waiver_dict(row: Any) -> dict[str, Any]:
    """A waiver as the API shows it."""
    return {"id": row.id, "finding_id": row.finding_id, "state": row.state,
            "justification": row.justification, "requested_by": row.requested_by,
            "requested_at": row.requested_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "decided_by": row.decided_by,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None}


def request(conn: sa.Connection, policy: Policy, finding_id: int, actor: Actor, *,
            justification: str, expires_at: datetime, now: datetime) -> Any:
    """Ask for an exception to a finding until ``expires_at``."""
    if actor.role not in ("admin", "operator", "approver"):
        msg = f"role {actor.role} cannot request waivers"
        raise ApiError(msg, status=403)
    if len(justification.strip()) < 10:
        msg = "a waiver needs a justification (at least 10 characters)"
        raise ApiError(msg, status=400, reason="justification_short")
    if expires_at <= now:
        msg = "a waiver's expiry must be in the future"
        raise ApiError(msg, status=400)
    row = get_finding(conn, finding_id)
    if row.state not in ACTIVE or row.state == "waived":
        msg = f"finding {finding_id} is {row.state}; only an open finding can be waived"
        raise ApiError(msg, status=409, reason="not_waivable",
                       params={"id": finding_id, "state": row.state})
    wid = conn.execute(waivers.insert().values(
        finding_id=finding_id, state="requested", justification=justification.strip(),
        requested_by=actor.name, requested_at=now, expires_at=expires_at,
    ).returning(waivers.c.id)).scalar_one()
    add_event(conn, policy, finding_id, action="waiver_requested", actor=actor.name, now=now,
              note=justification.strip(), details={"waiver_id": wid,
                                                   "expires_at": expires_at.isoformat()})
    return conn.execute(sa.select(waivers).where(waivers.c.id == wid)).one()


def decide(conn: sa.Connection, policy: Policy, waiver_id: int, actor: Actor, *,
           approve: bool, now: datetime, note: str | None = None) -> Any:
    """Approve (the finding becomes waived) or reject; never by the requester."""
    if actor.role not in APPROVERS:
        msg = "approving waivers needs the approver or admin role"
        raise ApiError(msg, status=403)
    w = conn.execute(sa.select(waivers).where(waivers.c.id == waiver_id)).first()
    if w is None:
        msg = f"no waiver {waiver_id}"
        raise ApiError(msg, status=404)
    if w.state != "requested":
        msg = f"waiver {waiver_id} is already {w.state}"
        raise ApiError(msg, status=409)
    if w.requested_by == actor.name:
        msg = "separation of duties: nobody approves their own waiver"
        raise ApiError(msg, status=403, reason="own_waiver")
    state = "approved" if approve else "rejected"
    conn.execute(waivers.update().where(waivers.c.id == waiver_id, waivers.c.state == "requested")
                 .values(state=state, decided_by=actor.name, decided_at=now))
    finding = get_finding(conn, w.finding_id, lock=True)
    to = finding.state
    if approve and finding.state in ACTIVE:
        to = "waived"
        conn.execute(findings.update().where(findings.c.id == finding.id)
                     .values(state="waived", state_changed_at=now))
    add_event(conn, policy, finding.id, action=f"waiver_{state}", actor=actor.name, now=now,
              from_state=finding.state, to_state=to, note=note,
              details={"waiver_id": waiver_id, "expires_at": w.expires_at.isoformat()})
    return conn.execute(sa.select(waivers).where(waivers.c.id == waiver_id)).one()


def expire(conn: sa.Connection, policy: Policy, now: datetime) -> int:
    """End waivers past their expiry; their findings reopen. Return how many ended."""
    due = conn.execute(sa.select(waivers).where(waivers.c.state == "approved",
                                                waivers.c.expires_at <= now)).all()
    for w in due:
        conn.execute(waivers.update().where(waivers.c.id == w.id).values(state="expired"))
        finding = get_finding(conn, w.finding_id, lock=True)
        if finding.state != "waived":
            continue
        conn.execute(findings.update().where(findings.c.id == finding.id).values(
            state="open", state_changed_at=now, reminded_at=None, escalated_at=None))
        add_event(conn, policy, finding.id, action="waiver_expired", actor="system", now=now,
                  from_state="waived", to_state="open",
                  note=f"waiver {w.id} expired", details={"waiver_id": w.id})
    return len(due)
