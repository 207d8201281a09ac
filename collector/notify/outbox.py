"""The notification outbox: one row per (finding, event, channel); claimed, sent, retried."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..policy.model import Policy
from ..store.schema import outbox
from ..store.sql import insert_ignore
from .flood import Room, bundle, due

CLAIM_FOR = timedelta(minutes=5)


def channels_for(policy: Policy, level: int, group: str | None, *, escalate: bool) -> list[str]:
    """Channels routed for ``level`` in ``group`` (escalations also reach ancestor groups)."""
    groups = {group} if group else set()
    if escalate:
        groups |= {g.name for g in policy.group_chain(group)}
    out: list[str] = []
    for route in policy.routes:
        if level in route.levels and (not route.groups or groups & set(route.groups)):
            out += [c for c in route.channels if c not in out]
    return out


def enqueue(conn: sa.Connection, policy: Policy, *, finding: dict[str, Any], group: str | None,
            level: int, event_id: int, action: str, note: str | None, digest: bool,
            escalate: bool, now: datetime) -> int:
    """Queue one message per routed channel; the unique key makes a second copy impossible."""
    queued = 0
    for channel in channels_for(policy, level, group, escalate=escalate):
        row = insert_ignore(conn, outbox, {
            "dedup_key": f"finding:{finding['id']}:event:{event_id}:{channel}",
            "channel": channel, "finding_id": finding["id"], "event_id": event_id,
            "state": "digest" if digest else "pending",
            "payload": {"event": action, "note": note, "finding": finding},
            "created_at": now, "next_attempt_at": now, "attempts": 0,
        }, conflict=("dedup_key",))
        queued += row is not None
    return queued


def build_digests(engine: sa.Engine, now: datetime) -> int:
    """Bundle each channel's waiting digest rows into one message; return messages made."""
    with engine.connect() as conn:
        channels = conn.execute(sa.select(outbox.c.channel).where(outbox.c.state == "digest")
                                .distinct().order_by(outbox.c.channel)).scalars().all()
    return sum(bundle(engine, channel, "digest", now, {"date": f"{now:%Y-%m-%d}"}) is not None
               for channel in channels)


def claim(conn: sa.Connection, now: datetime, limit: int = 50,
          room: Mapping[str, Room] | None = None) -> list[sa.Row]:
    """Take up to ``limit`` due messages, oldest first, no more for a channel than its
    ``room`` (flood.room; every channel when None)."""
    pick = sa.select(outbox.c.id).where(due(now)).order_by(outbox.c.id)
    if room is None:
        due_ids = conn.execute(pick.limit(limit)).scalars().all()
    else:  # each channel's oldest, as many as it may take, then the oldest of those
        due_ids = sorted(i for channel, r in room.items() if r.n > 0 for i in conn.execute(
            pick.where(outbox.c.channel == channel,
                       outbox.c.finding_id.is_(None) if r.many_only else sa.true())
            .limit(min(r.n, limit))).scalars())[:limit]
    claimed = []
    for oid in due_ids:
        res = conn.execute(outbox.update().where(outbox.c.id == oid, due(now))
                           .values(claimed_until=now + CLAIM_FOR))
        if res.rowcount == 1:
            claimed.append(oid)
    if not claimed:
        return []
    return list(conn.execute(sa.select(outbox).where(outbox.c.id.in_(claimed))
                             .order_by(outbox.c.id)).all())


def mark_sent(conn: sa.Connection, oid: int, now: datetime) -> None:
    """A message went out."""
    conn.execute(outbox.update().where(outbox.c.id == oid).values(
        state="sent", sent_at=now, claimed_until=None, attempts=outbox.c.attempts + 1))


def mark_failed(conn: sa.Connection, oid: int, attempts: int, error: str, now: datetime,
                retry: dict[str, int]) -> str:
    """Schedule a retry with exponential backoff, or give up after ``max_attempts``."""
    attempts += 1
    delay = min(retry["first_delay_seconds"] * 2 ** (attempts - 1), retry["max_delay_seconds"])
    state = "failed" if attempts >= retry["max_attempts"] else "pending"
    conn.execute(outbox.update().where(outbox.c.id == oid).values(
        state=state, attempts=attempts, last_error=error[:2000], claimed_until=None,
        next_attempt_at=now + timedelta(seconds=delay)))
    return state
