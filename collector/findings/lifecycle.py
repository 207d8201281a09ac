"""Manual state changes by people, with roles; ``verified`` only ever comes from an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..errors import ApiError
from ..policy.model import Policy
from ..store.schema import findings
from .events import add_event

STATES = ("open", "assigned", "in_progress", "fixed", "verified", "closed", "waived")
# state → states a person may move it to
MANUAL: dict[str, tuple[str, ...]] = {
    "open": ("assigned", "in_progress", "fixed"),
    "assigned": ("open", "in_progress", "fixed"),
    "in_progress": ("assigned", "fixed"),
    "fixed": ("in_progress",),
    "verified": ("closed",),
    "closed": (),
    "waived": (),
}
WORKERS = ("admin", "operator", "approver")
MAJOR = 2  # levels I and II: closing needs an approver or admin


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user name and role."""

    name: str
    role: str


def get_finding(conn: sa.Connection, finding_id: int, *, lock: bool = False) -> Any:
    """A finding row or a 404 ApiError."""
    q = sa.select(findings).where(findings.c.id == finding_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        msg = f"no finding {finding_id}"
        raise ApiError(msg, status=404)
    return row


def transition(conn: sa.Connection, policy: Policy, finding_id: int, to: str, actor: Actor,
               now: datetime, *, note: str | None = None, owner: str | None = None) -> Any:
    """Move a finding to ``to`` if the role and the state allow it; return the new row."""
    if actor.role not in WORKERS:
        msg = f"role {actor.role} cannot change findings (admin, operator or approver)"
        raise ApiError(msg, status=403, reason="role_cannot_change", params={"role": actor.role})
    if to not in STATES:
        msg = f"unknown state {to!r}; one of {', '.join(STATES)}"
        raise ApiError(msg, status=400)
    row = get_finding(conn, finding_id, lock=True)
    if to not in MANUAL[row.state]:
        allowed = ", ".join(MANUAL[row.state]) or "none (agent results and waivers move it)"
        msg = f"finding {finding_id} is {row.state}; it can move to: {allowed}"
        raise ApiError(msg, status=409, reason="state_not_allowed",
                       params={"id": finding_id, "state": row.state,
                               "allowed": list(MANUAL.get(row.state, ()))})
    if to == "closed" and row.level <= MAJOR and actor.role not in ("approver", "admin"):
        msg = "closing a level I or II finding needs an approver or admin"
        raise ApiError(msg, status=403, reason="close_needs_approver")
    values: dict[str, Any] = {"state": to, "state_changed_at": now}
    if to == "assigned":
        values["owner"] = (owner or row.owner or actor.name)[:64]
    conn.execute(findings.update().where(findings.c.id == finding_id,
                                         findings.c.state == row.state).values(**values))
    add_event(conn, policy, finding_id, action="transition", actor=actor.name, now=now,
              from_state=row.state, to_state=to, note=note,
              details={"owner": values.get("owner")} if "owner" in values else {})
    return get_finding(conn, finding_id)
