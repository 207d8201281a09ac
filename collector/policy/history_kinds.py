"""Keys and checks of the rule kinds that look past one result: trend and crossing.

``trend`` compares a count with the host's own earlier runs (log errors against the
host's weekly baseline); ``crossing`` compares hosts with each other (one USB stick on
isolated and internet hosts). Each check returns ``(key, problem)`` or None; the
validator turns a problem into a ``file:line: rules[i].key: …`` error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hostpatrol.shared.configfile import Field

NUM = (int, float)

TREND: dict[str, Field] = {
    "value": Field(str, doc="dotted path of the count this run reports"),
    "factor": Field(NUM, 3, "deviation above factor × the host's own baseline"),
    "history_days": Field(NUM, 28, "runs of this many days before this one make the baseline"),
    "min_history_days": Field(NUM, 7, "the baseline must cover this many days first"),
    "min_count": Field(NUM, 10, "a count below this never deviates"),
    "skip_when": Field((str, type(None)), None,
                       "dotted path of a flag marking a run whose window is unknown "
                       "(e.g. first_run)"),
}
CROSSING: dict[str, Field] = {
    "items": Field(str, doc="dotted path of the list of items (USB devices)"),
    "subject": Field(str, doc="item field compared across hosts (the serial)"),
    "match": Field(dict, dict, "item filter: field → value or glob pattern"),
    "zone": Field(str, "zone", "dotted path of the host's zone in the data"),
    "isolated_zones": Field(list, lambda: ["intranet", "isolated"],
                            "restricted zones; any other zone is outside"),
    "within_days": Field(NUM, 30, "results older than this are not compared"),
    "ignore": Field(list, list, "subjects never compared (globs, e.g. made-up serials)"),
}

Problem = tuple[str, str] | None


def check_trend(d: dict[str, Any]) -> Problem:
    """Parameters a trend rule could never work with."""
    if d["factor"] < 1:
        return "factor", f"factor must be at least 1, not {d['factor']}"
    if d["history_days"] <= 0:
        return "history_days", "history_days must be above 0"
    if not 0 <= d["min_history_days"] <= d["history_days"]:
        return "min_history_days", (f"min_history_days must be from 0 to history_days "
                                    f"({d['history_days']:g}), or the rule could never fire")
    if d["min_count"] < 0:
        return "min_count", "min_count must not be negative"
    return None


def check_crossing(d: dict[str, Any]) -> Problem:
    """Parameters a crossing rule could never work with."""
    zones = d["isolated_zones"]
    if not zones or not all(isinstance(z, str) and z for z in zones):
        return "isolated_zones", "isolated_zones must be a non-empty list of zone names"
    if not all(isinstance(p, str) for p in d["ignore"]):
        return "ignore", "ignore must be a list of text globs"
    if d["within_days"] <= 0:
        return "within_days", "within_days must be above 0"
    return None


KIND_CHECKS: dict[str, Callable[[dict[str, Any]], Problem]] = {
    "trend": check_trend, "crossing": check_crossing,
}
