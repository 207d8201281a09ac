"""Check-in rules: silent hosts, missed weekly runs (漏报) and late ones (缓报)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from ..policy.model import Rule
from .model import Deviation, HostFacts, Result


def _allowed(rule: Rule) -> timedelta:
    return timedelta(hours=rule.param("interval_hours", 168) + rule.param("grace_hours", 24))


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def checkin(rule: Rule, host: HostFacts, results: Mapping[str, Result],
            baseline: Mapping[str, frozenset[str]], now: datetime) -> list[Deviation]:
    """silent: nothing heard; missed: the check's run never came; late: it came late."""
    mode = rule.param("mode")
    allowed = _allowed(rule)
    if mode == "silent":
        last = host.last_seen_at
        what = "nothing heard from the host"
    else:
        result = results.get(rule.check)
        if result is None:
            return []
        if mode == "late":
            if result.previous_started_at is None:
                return []
            gap = result.started_at - result.previous_started_at
            if gap <= allowed:
                return []
            return [Deviation(rule.id, "-", rule.level,
                              f"{rule.title}: {rule.check} ran {_hours(gap)} h after the "
                              f"previous run (allowed {_hours(allowed)} h)",
                              {"fact": "late", "gap_hours": _hours(gap),
                               "allowed_hours": _hours(allowed),
                               "result_id": result.result_id})]
        last = result.started_at
        what = f"no {rule.check} run"
    if last is None or now - last <= allowed:
        return []
    return [Deviation(rule.id, "-", rule.level,
                      f"{rule.title}: {what} for {_hours(now - last)} h "
                      f"(allowed {_hours(allowed)} h)",
                      {"fact": mode, "silent_hours": _hours(now - last),
                       "allowed_hours": _hours(allowed)})]
