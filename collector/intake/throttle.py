"""Rate limits: reports per agent (in-process token buckets) and failed enrollments per address.

Reports: one token bucket per *verified* agent id, kept in the worker process. Only an
agent's own signed reports drain its bucket, so a flooding agent is slowed and every
other agent keeps its full rate. Buckets live in memory (no database write on the hot
path, no lock contention on SQLite's single writer); the table is bounded
(least-recently-used buckets are forgotten, which only ever hands an agent a full
bucket again). Each `serve` worker process holds its own table, so the fleet-wide ceiling for
one agent is ``workers x rate``: a limit on damage, not an exact quota.

Enrollment: failed attempts are counted per client address in the database (the
``login_attempts`` table, under an ``enroll:`` prefix), so every worker and every
collector process sharing the database agrees, as for sign-in.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..store import accounts

MAX_BUCKETS = 50_000


@dataclass(frozen=True, slots=True)
class Admission:
    """How many of an agent's reports may go in now, and when to come back for the rest."""

    admitted: int
    retry_after: int = 0


class AgentRateLimiter:
    """Token buckets per agent: ``burst`` reports at once, refilled at ``per_minute``."""

    def __init__(self, per_minute: float, burst: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, agent_id: str, count: int) -> Admission:
        """Take up to ``count`` tokens for ``agent_id``; say how many it got."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(agent_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            admitted = min(count, int(tokens))
            tokens -= admitted
            self._buckets[agent_id] = (tokens, now)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        if admitted == count:
            return Admission(admitted)
        missing = min(count - admitted, self.burst) - tokens
        wait = math.ceil(missing / self.rate) if self.rate > 0 else 3600
        return Admission(admitted, retry_after=max(1, wait))

    def __len__(self) -> int:
        return len(self._buckets)


ENROLL_PREFIX = "enroll:"


def enroll_refused(conn: sa.Connection, ip: str, now: datetime, *, max_failures: int,
                   window: timedelta) -> bool:
    """Whether ``ip`` has used up its failed enrollments for the window."""
    return accounts.recent_failures(conn, ENROLL_PREFIX + ip, now, window) >= max_failures


def enroll_failed(conn: sa.Connection, ip: str, now: datetime, window: timedelta) -> None:
    """Count one failed enrollment from ``ip``."""
    accounts.record_failure(conn, ENROLL_PREFIX + ip, now, window)
