"""Deliver the spool to the collector in order; remove only what it acknowledged.

A ``429``/``503`` with ``Retry-After`` sets a "not before" time kept in the state dir
(``delivery.json``), so every later ``run --once`` (cron, timers) honours it too. The
daemon waits between failed attempts with exponential backoff and jitter.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.errors import SchemaError
from hostpatrol.shared.report import format_time, parse_time

from .client import Client, Refused, Unreachable
from .spool import Spool
from .state import write_atomic

log = logging.getLogger("hostpatrol.agent.delivery")


@dataclass(slots=True)
class DeliveryResult:
    """What one pass over the spool achieved."""

    delivered: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    remaining: int = 0
    error: str | None = None
    retry_after: float | None = None
    rejections: list[str] = field(default_factory=list)
    deferred_until: datetime | None = None
    policy_version: int | None = None
    commands: list[str] = field(default_factory=list)


class DeliveryState:
    """Durable delivery bookkeeping: not-before time, failures, last success."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "delivery.json"

    def load(self) -> dict[str, Any]:
        """The record (empty values when there is none)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        return {"not_before": doc.get("not_before"), "failures": int(doc.get("failures", 0)),
                "last_success": doc.get("last_success"), "last_error": doc.get("last_error")}

    def not_before(self) -> datetime | None:
        """Until when the collector asked us not to call."""
        text = self.load()["not_before"]
        try:
            return parse_time(text, "not_before") if text else None
        except SchemaError:
            return None

    def save(self, **changes: Any) -> None:
        """Update fields (datetimes stored as RFC 3339)."""
        doc = self.load()
        doc.update({k: format_time(v) if isinstance(v, datetime) else v
                    for k, v in changes.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            write_atomic(self.path, json.dumps(doc, indent=1).encode())
        except OSError as e:  # bookkeeping only (a full disk): delivery itself went on
            log.error("delivery state not saved path=%s error=%r", self.path, str(e))


def backoff_seconds(failures: int, initial: float, maximum: float,
                    rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": between half and all of the step."""
    if failures <= 0:
        return 0.0
    step = min(maximum, initial * 2 ** min(failures - 1, 30))
    return step / 2 + (rng or random).uniform(0, step / 2)


def deliver_spool(spool: Spool, client: Client, batch_size: int = 50, *,
                  state: DeliveryState | None = None,
                  now: datetime | None = None) -> DeliveryResult:
    """Send pending reports oldest first, in batches, until done or the collector fails."""
    now = now or utcnow()
    if state is not None:
        not_before = state.not_before()
        if not_before is not None and not_before > now and spool.pending():
            result = DeliveryResult(remaining=len(spool.pending()), deferred_until=not_before)
            result.error = (f"the collector asked to wait until {format_time(not_before)} "
                            f"(Retry-After); not calling it before then")
            return result
    result = _deliver(spool, client, batch_size)
    if state is not None:
        _record(state, result, now)
    return result


def _record(state: DeliveryState, result: DeliveryResult, now: datetime) -> None:
    progressed = result.delivered or result.duplicates or result.dead_lettered
    if result.error is None or progressed:
        state.save(last_success=now, failures=0, last_error=None, not_before=None)
    if result.error is not None:
        failures = 0 if progressed else state.load()["failures"] + 1
        not_before = (now + timedelta(seconds=result.retry_after)
                      if result.retry_after is not None else None)
        state.save(failures=failures, last_error=result.error[:500], not_before=not_before)
        result.deferred_until = not_before


def _note_checkin(result: DeliveryResult, answer: dict[str, Any]) -> None:
    version = answer.get("policy_version")
    if isinstance(version, int) and not isinstance(version, bool):
        result.policy_version = max(version, result.policy_version or 0)
    commands = answer.get("commands")
    if isinstance(commands, list):
        result.commands.extend(c for c in commands if isinstance(c, str))


def _deliver(spool: Spool, client: Client, batch_size: int) -> DeliveryResult:
    result = DeliveryResult()
    while True:
        batch = spool.pending()[:batch_size]
        if not batch:
            break
        try:
            answer = client.deliver([item.read() for item in batch])
        except Unreachable as e:
            result.error = str(e)
            break
        except Refused as e:
            result.error = str(e)
            result.retry_after = e.retry_after
            if e.status == 429 or e.status >= 500 or e.status == 413 and len(batch) > 1:
                break
            for item in batch:  # the whole request was refused for good
                spool.reject(item, e.status, e.message)
                result.dead_lettered += 1
            continue
        _note_checkin(result, answer)
        outcomes = answer.get("results", [])
        if len(outcomes) != len(batch):
            result.error = "collector answer does not match the batch; will retry"
            break
        for item, outcome in zip(batch, outcomes, strict=True):
            kind = outcome.get("result")
            if kind in ("accepted", "duplicate"):
                spool.acknowledge(item)
                if kind == "accepted":
                    result.delivered += 1
                else:
                    result.duplicates += 1
            else:
                status = int(outcome.get("status", 400))
                reason = str(outcome.get("error", "rejected"))
                if status == 429 or status >= 500:
                    result.error = reason
                    break
                spool.reject(item, status, reason)
                result.dead_lettered += 1
                result.rejections.append(f"{item.report_id}: {reason}")
                log.error("report rejected report=%s status=%s error=%r", item.report_id,
                          status, reason)
        if result.error:
            break
    result.remaining = len(spool.pending())
    return result
