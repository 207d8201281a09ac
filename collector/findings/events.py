"""Finding events (the timeline) and the notifications they queue."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from ..notify.outbox import enqueue
from ..policy.model import Policy, level_name
from ..store.schema import finding_events, findings

ACTIVE = ("open", "assigned", "in_progress", "fixed", "waived")
# events that tell people at once (subject to the level's first_notice)
FIRST_NOTICE = ("opened", "reopened", "level_raised")
ALWAYS = ("reminder", "overdue", "waiver_expired")


def finding_summary(row: Any) -> dict[str, Any]:
    """The part of a finding a message shows."""
    return {"id": row.id, "agent_id": row.agent_id, "rule": row.rule_id,
            "subject": row.subject, "title": row.title, "group": row.group_name,
            "level": level_name(row.level), "state": row.state, "owner": row.owner,
            "backup_owner": row.backup_owner, "message": (row.evidence or {}).get("message"),
            "deadline": row.deadline.isoformat() if row.deadline else None}


@cache
def _insert_event() -> sa.Insert:  # built once: the rules add events at ingest
    return finding_events.insert().returning(finding_events.c.id)


@cache
def _finding_by_id() -> sa.Select:
    return sa.select(findings).where(findings.c.id == sa.bindparam("fid"))


def add_event(conn: sa.Connection, policy: Policy, finding_id: int, *, action: str,
              actor: str, now: datetime, from_state: str | None = None,
              to_state: str | None = None, note: str | None = None,
              details: dict[str, Any] | None = None) -> int:
    """Append an event to a finding's timeline and queue its notifications."""
    event_id = conn.execute(_insert_event(), {
        "finding_id": finding_id, "at": now, "actor": actor[:64], "action": action,
        "from_state": from_state, "to_state": to_state, "note": note,
        "details": details or {}}).scalar_one()
    if action in FIRST_NOTICE or action in ALWAYS:
        row = conn.execute(_finding_by_id(), {"fid": finding_id}).one()
        mode = policy.first_notice.get(row.level, "none")
        if action in ALWAYS and mode == "digest":
            mode = "immediate"
        if mode != "none":
            enqueue(conn, policy, finding=finding_summary(row), group=row.group_name,
                    level=row.level, event_id=event_id, action=action, note=note,
                    digest=mode == "digest", escalate=action == "overdue", now=now)
    return event_id


def timeline(conn: sa.Connection, finding_id: int) -> list[sa.Row]:
    """A finding's events, oldest first."""
    return list(conn.execute(sa.select(finding_events).where(
        finding_events.c.finding_id == finding_id).order_by(finding_events.c.id)).all())
