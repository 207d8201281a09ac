"""agent_ops: per-report signals at ingest — clone suspicion, evidence gaps, commands done.

Called for each verified report before it is stored, in the same transaction. A key
used from a machine id other than the one enrolled, or a new report whose ``seq`` is
not above the agent's last one (a re-sent duplicate is fine), marks the agent
``clone_suspected_at`` / ``clone_reason``; the mark stays until an admin re-enrolls the
host.

An agent's counter moves by one a report; reports it built but never delivered (spool
drops, dead letters, a long outage) make the next one jump ahead, never by millions. A
jump beyond :data:`store.intake.MAX_SEQ_STEP` is a signal of its own (someone holding
the key chose that seq): the report is stored and flagged, but the agent's ``last_seq``
does not follow it, so the genuine agent's next reports still count as in order (a seq
of 2^63-1 would otherwise make every later report look like a clone's). The one jump that
is expected: an agent that lost its ``seq`` file continues from the current UTC time in
milliseconds and says so in ``meta.state_repaired``; such a report within that bound
(:func:`store.intake.repaired_seq`) moves ``last_seq`` and is shown, not flagged.

A report carrying a ``gap`` marker (reports its agent dropped from a full spool or
dead-lettered) is kept on the agent as ``evidence_gap`` / ``evidence_gap_at``, and one
carrying ``meta.last_crash`` (runs that died before their report) as ``last_crash`` /
``last_crash_at``; both are shown with the host. A report whose ``meta.commands`` lists
command ids marks them done.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report

from ..store.intake import MAX_SEQ_STEP, repaired_seq
from ..store.schema import agents
from .checkin import mark_done

log = logging.getLogger("hostpatrol.collector.agent_ops")
MAX_GAP_IDS = 50
GAP_REASONS = ("spool_full", "too_large", "rejected")
CRASH_TEXT = {"at": 40, "first_at": 40, "command": 40, "error": 1000, "where": 300}


def clone_reasons(report: Report, enrolled_machine_id: str | None,
                  last_seq: int | None) -> list[str]:
    """Why this new (not duplicate) report looks like it came from a cloned host."""
    reasons = []
    mid = report.host.get("machine_id")
    if mid and enrolled_machine_id and mid != enrolled_machine_id:
        reasons.append(f"machine id {mid[:40]} differs from {enrolled_machine_id[:40]}")
    if last_seq is not None and report.seq <= last_seq:
        reasons.append(f"seq {report.seq} is not after the last seq {last_seq}")
    elif last_seq is not None and report.seq - last_seq > MAX_SEQ_STEP \
            and not repaired_seq(report):
        reasons.append(f"seq {report.seq} jumps {report.seq - last_seq} past the last seq "
                       f"{last_seq} (more than {MAX_SEQ_STEP}); the last seq stays")
    return reasons


def gap_summary(gap: dict[str, Any]) -> dict[str, Any]:
    """The agent's gap marker as stored: counts and a bounded list of ids, nothing else."""
    def number(key: str) -> int | None:
        value = gap.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    ids = gap.get("report_ids")
    reasons = gap.get("reasons") if isinstance(gap.get("reasons"), dict) else {}
    return {"dropped": number("dropped") or 0, "first_seq": number("first_seq"),
            "last_seq": number("last_seq"),
            "report_ids": [str(i)[:64] for i in ids[:MAX_GAP_IDS]]
            if isinstance(ids, list) else [],
            "reasons": {k: v for k in GAP_REASONS if isinstance(v := reasons.get(k), int)
                        and not isinstance(v, bool) and 0 < v < 2**53}}


def crash_summary(crash: Any) -> dict[str, Any] | None:
    """The agent's ``meta.last_crash`` as stored: bounded texts and a count, or None when
    it is not one."""
    if not isinstance(crash, dict) or not isinstance(crash.get("error"), str):
        return None
    out: dict[str, Any] = {k: crash[k][:limit] for k, limit in CRASH_TEXT.items()
                           if isinstance(crash.get(k), str)}
    count = crash.get("count")
    out["count"] = count if isinstance(count, int) and not isinstance(count, bool) and \
        0 < count < 2**53 else 1
    return out


def inspect_new(conn: sa.Connection, report: Report, row: Any, now: datetime) -> None:
    """Flag clone signals, keep a gap marker and note executed commands for a new report
    (not a duplicate), before it is stored; ``row`` has the agent's ``machine_id`` and
    ``last_seq`` as they were before this report."""
    mid = report.host.get("machine_id")
    if mid and not row.machine_id:
        conn.execute(agents.update().where(agents.c.id == report.agent_id)
                     .values(machine_id=mid[:128]))
    reasons = clone_reasons(report, row.machine_id, row.last_seq)
    if reasons:
        reason = "; ".join(reasons)[:255]
        conn.execute(agents.update().where(agents.c.id == report.agent_id).values(
            clone_suspected_at=sa.func.coalesce(agents.c.clone_suspected_at, now),
            clone_reason=reason))
        log.warning("clone suspected agent=%s report=%s reason=%r", report.agent_id,
                    report.report_id, reason)
    if report.gap:
        gap = gap_summary(report.gap)
        conn.execute(agents.update().where(agents.c.id == report.agent_id).values(
            evidence_gap=gap, evidence_gap_at=now))
        log.warning("evidence gap agent=%s report=%s dropped=%s seq=%s-%s", report.agent_id,
                    report.report_id, gap["dropped"], gap["first_seq"], gap["last_seq"])
    crash = crash_summary(report.meta.get("last_crash"))
    if crash is not None:
        conn.execute(agents.update().where(agents.c.id == report.agent_id).values(
            last_crash=crash, last_crash_at=now))
        log.warning("agent reported a failed run agent=%s report=%s at=%s error=%r",
                    report.agent_id, report.report_id, crash.get("at"), crash["error"][:200])
    commands = report.meta.get("commands")
    if isinstance(commands, list):
        mark_done(conn, report.agent_id, commands, now)
