"""Send due outbox messages over their channels; mark each sent or retry it later."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..policy.model import Policy
from . import flood, messages
from .email import DeliveryError, send_email
from .outbox import claim, mark_failed, mark_sent
from .webhooks import send_webhook

log = logging.getLogger("hostpatrol.collector.notify")


@dataclass(frozen=True, slots=True)
class Sent:
    """What one dispatch round did."""

    sent: int
    retried: int
    failed: int


def deliver_due(engine: sa.Engine, policy: Policy, now: datetime, limit: int = 50) -> Sent:
    """Claim due messages (no channel more than it may take this minute: a flood is folded
    into one message, ``flood.room``), send each outside any transaction, record the
    outcome."""
    room = flood.room(engine, policy, now)
    with engine.begin() as conn:
        rows = claim(conn, now, limit, room)
    sent = retried = failed = 0
    for row in rows:
        channel = policy.channels.get(row.channel)
        try:
            if channel is None:
                msg = f"channel {row.channel!r} is not in the current policy"
                raise DeliveryError(msg)
            subject = messages.subject(row.payload)
            text = messages.body(row.payload, flood.budget(channel, subject))
            if channel.type == "email":
                send_email(channel.settings, subject, text)
            else:
                send_webhook(channel.settings, row.payload, subject, text)
        except (DeliveryError, OSError) as e:
            with engine.begin() as conn:
                state = mark_failed(conn, row.id, row.attempts, str(e), now, dict(policy.retry))
            log.warning("notification failed id=%s channel=%s state=%s error=%r", row.id,
                        row.channel, state, str(e)[:300])
            failed += state == "failed"
            retried += state == "pending"
            continue
        with engine.begin() as conn:
            mark_sent(conn, row.id, now)
        sent += 1
        log.info("notification sent id=%s channel=%s", row.id, row.channel)
    return Sent(sent, retried, failed)
