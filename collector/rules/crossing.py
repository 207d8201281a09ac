"""Crossing: one item (a USB stick's serial) on a restricted-zone host and on one outside.

A fleet rule: it reads every host's newest result of its check at once. First
:func:`outside_sightings` indexes, per subject, the hosts whose zone is *not* one of
``isolated_zones`` (internet-facing); then :func:`crossing` judges one restricted host:
each of its subjects also seen outside is a deviation on that host, naming the others.
Subjects are compared trimmed and upper-cased (Windows upper-cases USB serials).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..policy.model import Rule
from .model import Deviation, HostFacts, Result
from .paths import get, items

MAX_NAMED = 20  # other hosts named in one finding's evidence


@dataclass(frozen=True, slots=True)
class Sighting:
    """A host outside the restricted zones that reported a subject."""

    agent_id: str
    hostname: str
    zone: str


Sightings = Mapping[str, Sequence[Sighting]]


def subject_key(rule: Rule, item: Any) -> str | None:
    """The item's subject as compared across hosts; None when absent or ignored."""
    raw = get(item, rule.param("subject")) if isinstance(item, Mapping) else item
    if raw is None or isinstance(raw, bool | dict | list):
        return None
    key = str(raw).strip().upper()[:512]
    if not key or any(fnmatch.fnmatchcase(key, str(p).upper())
                      for p in rule.param("ignore", ())):
        return None
    return key


def usable(rule: Rule, result: Result, now: datetime) -> bool:
    """Whether a result counts: not an error, and no older than ``within_days``."""
    if result.status in ("error", "skipped"):
        return False
    return now - result.started_at <= timedelta(days=rule.param("within_days", 30))


def restricted(rule: Rule, result: Result) -> bool:
    """Whether the result's host is in one of the rule's restricted zones."""
    return get(result.data, rule.param("zone")) in rule.param("isolated_zones", ())


def _subjects(rule: Rule, result: Result) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items(result.data, rule.param("items"), rule.param("match")):
        key = subject_key(rule, item)
        if key is not None:
            out.setdefault(key, item)
    return out


def outside_sightings(rule: Rule, fleet: Iterable[tuple[HostFacts, Result]],
                      now: datetime) -> dict[str, list[Sighting]]:
    """Subject → the hosts outside the restricted zones whose recent result lists it."""
    index: dict[str, list[Sighting]] = {}
    for host, result in fleet:
        if not usable(rule, result, now) or restricted(rule, result):
            continue
        zone = get(result.data, rule.param("zone"))
        for key in _subjects(rule, result):
            index.setdefault(key, []).append(
                Sighting(host.agent_id, host.hostname, "-" if zone is None else str(zone)))
    return index


def _describe(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    words = [str(item[k]) for k in ("vendor", "product") if item.get(k)]
    return f" ({' '.join(words)})" if words else ""


def crossing(rule: Rule, host: HostFacts, result: Result, outside: Sightings,
             now: datetime) -> list[Deviation]:
    """One deviation per subject of a restricted host that hosts outside also reported."""
    if not restricted(rule, result):
        return []
    zone = get(result.data, rule.param("zone"))
    out = []
    for key, item in sorted(_subjects(rule, result).items()):
        others = sorted({s.agent_id: s for s in outside.get(key, ())
                         if s.agent_id != host.agent_id}.values(),
                        key=lambda s: (s.hostname, s.agent_id))
        if not others:
            continue
        names = ", ".join(f"{s.hostname} ({s.zone})" for s in others[:MAX_NAMED])
        more = f" and {len(others) - MAX_NAMED} more" if len(others) > MAX_NAMED else ""
        out.append(Deviation(
            rule.id, key, rule.level,
            f"{rule.title}: {key}{_describe(item)} on this {zone} host was also seen on "
            f"{names}{more}",
            {"fact": "crossing", "zone": zone, "other_count": len(others),
             "other_hosts": [{"agent_id": s.agent_id, "hostname": s.hostname, "zone": s.zone}
                             for s in others[:MAX_NAMED]],
             "item": dict(item) if isinstance(item, Mapping) else item}))
    return out
