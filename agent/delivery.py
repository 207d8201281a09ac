"""Deliver the spool to the collector in order; remove only what it acknowledged.

Batches are sized by bytes as well as count (:mod:`batching`): under the collector's
advertised body limit, halved after a ``413`` — read, or inferred when the connection is
cut after a large upload while the collector still answers a tiny request — and a lone
report that can never fit goes to ``dead-letter/`` (and into the gap record), so the
spool always drains, oldest first.

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

from .batching import CUTS_TO_GIVE_UP, DEFAULT_BODY_BYTES, PROBE_ABOVE_BYTES, Sizing
from .client import Client, Refused, Unreachable
from .errors import ClientError
from .spool import Spool, Spooled
from .state import write_atomic

log = logging.getLogger("hostpatrol.agent.delivery")
MAX_DEFER = timedelta(hours=1)  # the longest Retry-After honoured


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
    acknowledged: list[int] = field(default_factory=list)  # seqs the collector now holds
    deferred_until: datetime | None = None
    policy_version: int | None = None
    commands: list[str] = field(default_factory=list)


class DeliveryState:
    """Durable delivery bookkeeping: not-before time, failures, last success."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "delivery.json"

    def load(self) -> dict[str, Any]:
        """The record (empty values when there is none or it is damaged: bookkeeping only,
        it never stops a delivery)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        doc = doc if isinstance(doc, dict) else {}
        failures = doc.get("failures")
        text = {k: v if isinstance(v := doc.get(k), str) else None
                for k in ("not_before", "last_success", "last_error")}
        return {**text, "failures": failures if isinstance(failures, int) and
                not isinstance(failures, bool) and 0 <= failures < 10**6 else 0,
                **{k: doc.get(k) for k in ("limits", "batch_cap", "cuts")}}

    def not_before(self, now: datetime | None = None) -> datetime | None:
        """Until when the collector asked us not to call. A time further than MAX_DEFER
        (the longest wait ever stored) from ``now`` means the clock went back or the record
        is damaged: it is ignored rather than silencing the host."""
        text = self.load()["not_before"]
        try:
            when = parse_time(text, "not_before") if text else None
        except (SchemaError, OverflowError):
            return None
        if when is not None and now is not None and when - now > MAX_DEFER:
            log.error("ignoring a Retry-After time too far ahead not_before=%s", text)
            return None
        return when

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
                  state: DeliveryState | None = None, now: datetime | None = None,
                  max_body_bytes: int = DEFAULT_BODY_BYTES) -> DeliveryResult:
    """Send pending reports oldest first, in batches sized by count and bytes, until done
    or the collector fails (see :mod:`batching` for the sizes)."""
    now = now or utcnow()
    if state is not None:
        not_before = state.not_before(now)
        if not_before is not None and not_before > now and spool.pending():
            result = DeliveryResult(remaining=len(spool.pending()), deferred_until=not_before)
            result.error = (f"the collector asked to wait until {format_time(not_before)} "
                            f"(Retry-After); not calling it before then")
            return result
    sizing = Sizing(state.load() if state is not None else {}, max_body_bytes)
    result = _deliver(spool, client, batch_size, sizing)
    if state is not None:
        _record(state, result, now)
        changes = sizing.changes(drained=not spool.pending())
        if changes is not None:
            state.save(**changes)
    return result


def _record(state: DeliveryState, result: DeliveryResult, now: datetime) -> None:
    progressed = result.delivered or result.duplicates or result.dead_lettered
    if result.error is None or progressed:
        state.save(last_success=now, failures=0, last_error=None, not_before=None)
    if result.error is not None:
        failures = 0 if progressed else state.load()["failures"] + 1
        not_before = (now + timedelta(seconds=min(result.retry_after,
                                                  MAX_DEFER.total_seconds()))
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


def _deliver(spool: Spool, client: Client, batch_size: int, sizing: Sizing) -> DeliveryResult:
    result = DeliveryResult()
    while True:
        pending = spool.pending()
        if not pending:
            break
        batch, body = sizing.plan(pending, batch_size)
        if len(batch) == 1 and sizing.never_fits(body):
            _too_large(spool, batch[0], body, sizing.limit_text(), result)
            continue
        try:
            answer = client.deliver([item.read() for item in batch])
        except Unreachable as e:
            sizing.learn(client.limits)
            if not (e.connected and body > PROBE_ABOVE_BYTES and _answers(client, sizing)):
                result.error = str(e)
                break
            # the collector answers, yet cut this upload: its size, as a 413 unread
            _shrink(spool, batch, body, sizing, result, read=False)
            continue
        except Refused as e:
            sizing.learn(client.limits)
            if e.status == 413:
                _shrink(spool, batch, body, sizing, result, read=True)
                continue
            result.error = str(e)
            result.retry_after = e.retry_after
            if e.status == 429 or e.status >= 500:
                break
            for item in batch:  # the whole request was refused for good
                spool.reject(item, e.status, e.message)
                result.dead_lettered += 1
                result.rejections.append(f"{item.report_id}: {e.message}")
            continue
        sizing.learn(client.limits)
        sizing.delivered(batch)
        answer = answer if isinstance(answer, dict) else {}
        _note_checkin(result, answer)
        if not _settle(spool, batch, answer, result):
            break
    result.remaining = len(spool.pending())
    return result


def _answers(client: Client, sizing: Sizing) -> bool:
    """After a cut upload: does the collector answer a tiny request (then it is up)?"""
    try:
        sizing.learn(client.probe())
    except ClientError:
        return False
    return True


def _shrink(spool: Spool, batch: list[Spooled], body: int, sizing: Sizing,
            result: DeliveryResult, *, read: bool) -> None:
    """A batch was too large: halve the byte budget; a lone report that can never fit
    (over a stated limit, a read 413, or cut :data:`CUTS_TO_GIVE_UP` times in a row while
    the collector answered) is dead-lettered; else it is tried again."""
    if len(batch) > 1:
        sizing.halve(body)
        log.warning("batch of %d report(s), %d bytes, too large for the collector%s; "
                    "sending at most %d bytes a request now", len(batch), body,
                    "" if read else " (connection cut after the upload)", sizing.budget())
        return
    item = batch[0]
    if read or sizing.never_fits(body):
        _too_large(spool, item, body, sizing.limit_text(), result)
    elif sizing.cut_again(item.report_id):
        _too_large(spool, item, body, f"the connection was cut after its upload "
                   f"{CUTS_TO_GIVE_UP} times while the collector answered small requests",
                   result)


def _too_large(spool: Spool, item: Spooled, body: int, why: str,
               result: DeliveryResult) -> None:
    reason = f"report too large for the collector ({body} bytes in a request; {why})"
    spool.reject(item, 413, reason, why="too_large")
    result.dead_lettered += 1
    result.rejections.append(f"{item.report_id}: {reason}")
    log.error("report dead-lettered report=%s seq=%d error=%r", item.report_id, item.seq,
              reason)


def _settle(spool: Spool, batch: list[Spooled], answer: dict[str, Any],
            result: DeliveryResult) -> bool:
    """Apply the collector's per-report outcomes; False to stop delivering for now."""
    outcomes = answer.get("results", [])
    if not isinstance(outcomes, list) or len(outcomes) != len(batch):
        result.error = "collector answer does not match the batch; will retry"
        return False
    for item, outcome in zip(batch, outcomes, strict=True):
        outcome = outcome if isinstance(outcome, dict) else {}
        kind = outcome.get("result")
        if kind in ("accepted", "duplicate"):
            spool.acknowledge(item)
            result.acknowledged.append(item.seq)
            if kind == "accepted":
                result.delivered += 1
            else:
                result.duplicates += 1
            continue
        status = outcome.get("status")
        status = status if isinstance(status, int) and not isinstance(status, bool) else 400
        reason = str(outcome.get("error", "rejected"))[:1000]
        if status == 429 or status >= 500:
            result.error = reason
            return False
        spool.reject(item, status, reason, why="too_large" if status == 413 else "rejected")
        result.dead_lettered += 1
        result.rejections.append(f"{item.report_id}: {reason}")
        log.error("report rejected report=%s status=%s error=%r", item.report_id,
                  status, reason)
    return True
