"""Trend: a count in this run against the host's own weekly baseline of that count.

Each run of a check such as ``logs`` counts what happened since the run before it, so a
run's *window* is the time since the previous stored run of the check. The host's
baseline is its rate over the runs of the last ``history_days`` before this run (the
oldest of them only marks where the covered time starts; runs flagged by ``skip_when``,
e.g. ``first_run``, count neither errors nor time), expressed per week:

    weekly baseline = 168 h × Σ counts / Σ window hours
    expected now    = weekly baseline × this window's hours / 168 h

The rule deviates when this run's count is at least ``min_count`` and more than
``factor`` × expected, and only once the baseline covers ``min_history_days``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..policy.model import Rule
from .model import Deviation, HostFacts, Result, Sample
from .paths import get

WEEK_HOURS = 168.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """A host's own rate: the counts and the hours the baseline runs covered."""

    total: float
    hours: float
    runs: int

    @property
    def weekly(self) -> float:
        """The count per week of covered time."""
        return WEEK_HOURS * self.total / self.hours if self.hours > 0 else 0.0


def _number(value: Any) -> float | None:
    """A finite count, or None (earlier runs are read back as stored, and an older version
    stored what no count is: Infinity, integers beyond any float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def paths(rule: Rule) -> tuple[str, ...]:
    """The dotted paths a trend rule reads from earlier runs."""
    return tuple(p for p in (rule.param("value"), rule.param("skip_when")) if p)


def weekly_baseline(samples: Sequence[Sample], value: str,
                    skip_when: str | None = None) -> Baseline:
    """The rate over ``samples`` (oldest first); each run covers the time since the one before."""
    total = hours = 0.0
    runs = 0
    for before, run in zip(samples, samples[1:], strict=False):
        count = _number(run.values.get(value))
        if count is None or (skip_when and run.values.get(skip_when)):
            continue
        span = _hours(run.started_at - before.started_at)
        if span <= 0:
            continue
        total += count
        hours += span
        runs += 1
    return Baseline(total, hours, runs)


def trend(rule: Rule, host: HostFacts, results: Mapping[str, Result],
          baseline: Mapping[str, frozenset[str]], now: datetime) -> list[Deviation]:
    """More than ``factor`` × the host's own baseline, scaled to this run's window."""
    result = results[rule.check]
    value_path, skip_when = rule.param("value"), rule.param("skip_when")
    current = _number(get(result.data, value_path))
    if current is None or (skip_when and get(result.data, skip_when)):
        return []  # nothing counted, or a window that is not known (first run)
    since = result.started_at - timedelta(days=rule.param("history_days", 28))
    past = sorted((s for s in result.history if since <= s.started_at < result.started_at),
                  key=lambda s: s.started_at)
    if not past:
        return []
    window = _hours(result.started_at - past[-1].started_at)
    base = weekly_baseline(past, value_path, skip_when)
    if window <= 0 or base.hours < 24 * rule.param("min_history_days", 7):
        return []  # not enough history yet to know what is normal for this host
    factor = float(rule.param("factor", 3))
    expected = base.weekly * window / WEEK_HOURS
    if current < rule.param("min_count", 10) or current <= factor * expected:
        return []
    return [Deviation(
        rule.id, "-", rule.level,
        f"{rule.title}: {current:g} in {window:.1f} h, more than {factor:g}× the host's "
        f"baseline ({expected:.1f} expected at {base.weekly:.1f} a week over the last "
        f"{base.hours / 24:.1f} days)",
        {"fact": "trend", "value": current, "window_hours": round(window, 2), "factor": factor,
         "expected": round(expected, 2), "weekly_baseline": round(base.weekly, 2),
         "baseline_days": round(base.hours / 24, 2), "baseline_runs": base.runs})]
