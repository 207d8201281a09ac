"""How far behind each background job is, read from the jobs' own records (read-only).

Each job leaves a record when it runs: ``job_runs`` (the worker's round ``tick``, fleet
rules ``fleet-rules``, ``retention``), ``rollups`` (when each rollup was computed) and the
outbox (notifications waiting to be sent). A job's *lag* is how much longer ago it last
ran than its own period allows (zero when on time); a job that never ran has no lag to
give (``None``). For notifications the lag is the age of the oldest message that is due
and still pending. Nothing here writes: a monitor or benchmark may call it at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from .policy import loader
from .reports.rollup import LIVE, LIVE_TTL
from .store.rollups import COVERAGE_TTL
from .store.schema import job_runs, outbox, rollups

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class JobLag:
    """One job: when it last ran, how long ago, how late beyond its period (seconds)."""

    job: str
    last_run_at: datetime | None
    period_s: float
    age_s: float | None
    lag_s: float | None


def _lag(job: str, last: datetime | None, period: timedelta, now: datetime) -> JobLag:
    if last is None:
        return JobLag(job, None, period.total_seconds(), None, None)
    age = (now - last).total_seconds()
    return JobLag(job, last, period.total_seconds(), age,
                  max(0.0, age - period.total_seconds()))


def job_lags(conn: sa.Connection, now: datetime) -> list[JobLag]:
    """Every background job's lag at ``now``: the round, rules, rollups, retention and
    notifications (periods from the current policy)."""
    jobs = loader.current(conn).jobs
    runs = dict(conn.execute(sa.select(job_runs.c.name, job_runs.c.last_run_at)).all())
    computed = dict(conn.execute(sa.select(rollups.c.name, rollups.c.computed_at)).all())
    tick = timedelta(seconds=jobs["tick_seconds"])
    # a rollup is refreshed by the round once older than half its time-to-live
    oldest_due = conn.execute(sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
        outbox.c.state == "pending", outbox.c.next_attempt_at <= now)).scalar()
    notify_age = (now - oldest_due).total_seconds() if oldest_due else 0.0
    return [
        _lag("round", runs.get("tick"), tick, now),
        _lag("rules", runs.get("fleet-rules"), timedelta(seconds=jobs["fleet_seconds"]), now),
        _lag("rollup-coverage", computed.get("coverage"), COVERAGE_TTL / 2 + tick, now),
        _lag("rollup-compliance", computed.get(f"compliance:{LIVE}"),  # reports.rollup's name
             LIVE_TTL / 2 + tick, now),
        _lag("retention", runs.get("retention"), DAY, now),
        JobLag("notifications", None, tick.total_seconds(), notify_age,
               max(0.0, notify_age - tick.total_seconds())),
    ]

