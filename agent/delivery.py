"""Deliver the spool to the collector in order; remove only what it acknowledged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .client import Client, Refused, Unreachable
from .spool import Spool

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


def deliver_spool(spool: Spool, client: Client, batch_size: int = 50) -> DeliveryResult:
    """Send pending reports oldest first, in batches, until done or the collector fails."""
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
