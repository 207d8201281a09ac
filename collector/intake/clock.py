"""A host whose signed reports are refused for their time gets a finding, not silence.

A report from a verified agent whose ``created_at`` is beyond the clock skew (or older
than the replay horizon) is refused (422). The evidence that would show why (the
agent's ``time`` check) travels in exactly the reports being refused, so the collector
records the refusal itself: a deviation of the policy's clock rule (the first rule of
check ``time``) with subject ``collector-time``, carrying both clocks. The next
accepted ``time`` result that passes verifies it like any other finding of that rule.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from ..findings.evaluate import host_facts
from ..findings.register import open_finding, repeat_finding
from ..policy import loader
from ..rules.model import Deviation
from ..store import profiles
from ..store.schema import findings

log = logging.getLogger("hostpatrol.collector.clock")
SUBJECT = "collector-time"


def note_refusal(conn: sa.Connection, agent_id: str, created_at: datetime, now: datetime,
                 reason: str) -> str | None:
    """Open (or update) the host's clock finding in the caller's transaction."""
    policy = loader.current(conn)
    rule = next((r for r in policy.rules if r.check == "time"), None)
    row = profiles.host_row(conn, agent_id)
    if rule is None or row is None:
        return None
    skew = int((created_at - now).total_seconds())
    where = "ahead of" if skew > 0 else "behind"
    message = (f"reports refused ({reason}): the host clock is {abs(skew)} s {where} the "
               f"collector's")
    dev = Deviation(rule_id=rule.id, subject=SUBJECT, level=rule.level, message=message,
                    evidence={"reason": reason, "report_created_at": created_at.isoformat(),
                              "collector_time": now.isoformat(), "skew_seconds": skew})
    host = host_facts(row, last_seen_at=now)
    key = dev.dedup_key(agent_id)
    existing = conn.execute(sa.select(findings).where(findings.c.dedup_key == key)).first()
    if existing is None and open_finding(conn, policy, host, rule, dev, now, None):
        return "opened"
    if existing is None:
        existing = conn.execute(sa.select(findings).where(findings.c.dedup_key == key)).one()
    outcome = repeat_finding(conn, policy, host, rule, dev, existing, now, None)
    return "updated" if outcome == "seen" else outcome


def note_refusals(engine: sa.Engine, refusals: list[tuple[str, datetime, str]],
                  now: datetime) -> None:
    """Record clock refusals (agent, created_at, reason); never fails the ingest."""
    for agent_id, created_at, reason in refusals:
        try:
            with engine.begin() as conn:
                what = note_refusal(conn, agent_id, created_at, now, reason)
        except sa.exc.SQLAlchemyError:
            log.exception("clock finding not recorded agent=%s", agent_id)
            continue
        log.warning("clock refusal agent=%s reason=%s finding=%s", agent_id, reason, what)
