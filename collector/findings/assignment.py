"""Giving a finding an owner: an open one becomes assigned, a worked one changes hands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..errors import ApiError
from ..policy.model import Policy
from ..store.schema import findings
from .events import add_event
from .lifecycle import WORKERS, Actor, get_finding, transition
from .owners import check_owner

REASSIGNABLE = ("assigned", "in_progress", "fixed", "waived")


def assign(conn: sa.Connection, policy: Policy, finding_id: int, owner: str, actor: Actor,
           now: datetime, *, note: str | None = None) -> Any:
    """Make ``owner`` (a user or a contact of the policy) responsible for a finding; return
    the new row."""
    owner = owner.strip()[:64]
    if not owner:
        msg = "name the owner to assign the finding to"
        raise ApiError(msg, status=400, reason="owner_missing")
    check_owner(conn, policy, owner)
    row = get_finding(conn, finding_id, lock=True)
    if row.state == "open":
        return transition(conn, policy, finding_id, "assigned", actor, now, note=note,
                          owner=owner)
    if actor.role not in WORKERS:
        msg = f"role {actor.role} cannot change findings (admin, operator or approver)"
        raise ApiError(msg, status=403, reason="role_cannot_change", params={"role": actor.role})
    if row.state not in REASSIGNABLE:
        msg = f"finding {finding_id} is {row.state}; it has no work left to assign"
        raise ApiError(msg, status=409, reason="nothing_to_assign",
                       params={"id": finding_id, "state": row.state})
    if row.owner == owner:
        return row
    conn.execute(findings.update().where(findings.c.id == finding_id).values(owner=owner))
    add_event(conn, policy, finding_id, action="owner_changed", actor=actor.name, now=now,
              note=note, details={"owner": owner, "previous": row.owner})
    return get_finding(conn, finding_id)
