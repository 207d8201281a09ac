"""Value rules: threshold, required state, staleness (age) and count."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..policy.model import Rule
from .model import Deviation, HostFacts, Result
from .paths import get, items, subject_of

Baseline = Mapping[str, frozenset[str]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _subjects(rule: Rule, data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    chosen = items(data, rule.param("items"), rule.param("match"))
    return [(subject_of(it, rule.param("subject")), it) for it in chosen]


def _label(rule: Rule, subject: str) -> str:
    return rule.title if subject == "-" else f"{rule.title}: {subject}"


def threshold(rule: Rule, host: HostFacts, results: Mapping[str, Result],
              baseline: Baseline, now: datetime) -> list[Deviation]:
    """A number at or past a step (``above``: >=, ``below``: <=); the worst step wins."""
    out = []
    below = rule.param("direction") == "below"
    for subject, item in _subjects(rule, results[rule.check].data):
        value = _number(get(item, rule.param("value")))
        if value is None:
            continue
        hit = [(at, level) for at, level, critical_only in rule.param("steps")
               if (value <= at if below else value >= at) and (host.critical or not critical_only)]
        if hit:
            # the most severe level; among equal levels the step furthest past
            at, level = min(hit, key=lambda s: (s[1], s[0] if below else -s[0]))
            out.append(Deviation(rule.id, subject, level,
                                 f"{_label(rule, subject)} is {value:g} (limit {at:g})",
                                 {"fact": "threshold", "path": rule.param("value"),
                                  "value": value, "limit": at}))
    return out


def required(rule: Rule, host: HostFacts, results: Mapping[str, Result],
             baseline: Baseline, now: datetime) -> list[Deviation]:
    """A value that must equal ``expect`` (absent or null: per ``missing``)."""
    out = []
    expect = rule.param("expect", True)
    for subject, item in _subjects(rule, results[rule.check].data):
        value = get(item, rule.param("path"))
        if value is None and rule.param("missing") != "deviation":
            continue
        if value != expect:
            out.append(Deviation(rule.id, subject, rule.level,
                                 f"{_label(rule, subject)}: {rule.param('path')} is "
                                 f"{value!r}, expected {expect!r}",
                                 {"fact": "required", "path": rule.param("path"),
                                  "value": value, "expected": expect}))
    return out


def staleness(rule: Rule, host: HostFacts, results: Mapping[str, Result],
              baseline: Baseline, now: datetime) -> list[Deviation]:
    """An age (as measured by the agent) older than ``max``/``max_field``/a step."""
    out = []
    unit = rule.param("unit", "days")
    for subject, item in _subjects(rule, results[rule.check].data):
        age = _number(get(item, rule.param("age")))
        if age is None:
            if rule.param("missing") == "deviation":
                out.append(Deviation(rule.id, subject, rule.level,
                                     f"{_label(rule, subject)}: no age known (never done?)",
                                     {"fact": "age_unknown", "value": None}))
            continue
        limits: list[tuple[float, int]] = [(over, level) for over, level, _ in
                                           rule.param("steps", ())]
        own = _number(get(item, rule.param("max_field"))) if rule.param("max_field") else None
        for limit in (rule.param("max"), own):
            if limit is not None:
                limits.append((float(limit), rule.level))
        hit = [(limit, level) for limit, level in limits if age > limit]
        if hit:
            limit, level = min(hit, key=lambda s: s[1])
            out.append(Deviation(rule.id, subject, level,
                                 f"{_label(rule, subject)} is {age:g} {unit} old "
                                 f"(limit {limit:g})", {"fact": "staleness", "value": age,
                                                        "limit": limit,
                                                        "unit": unit}))
    return out


def count(rule: Rule, host: HostFacts, results: Mapping[str, Result],
          baseline: Baseline, now: datetime) -> list[Deviation]:
    """Too many of something: one deviation per matching item (with ``subject``), else one."""
    data = results[rule.check].data
    limit = rule.param("max", 0)
    if rule.param("items") is not None and rule.param("each"):
        found = dict(_subjects(rule, data))
        if len(found) <= limit:
            return []
        return [Deviation(rule.id, s, rule.level, _label(rule, s),
                          {"fact": "each",
                           "item": it if isinstance(it, str | int | float | dict) else str(it)})
                for s, it in found.items()]
    if rule.param("items") is not None:
        n = float(len(items(data, rule.param("items"), rule.param("match"))))
    else:
        raw = get(data, rule.param("path"))
        n = float(len(raw)) if isinstance(raw, list) else _number(raw)
    if n is None or n <= limit:
        return []
    return [Deviation(rule.id, "-", rule.level, f"{rule.title}: {n:g} (allowed {limit:g})",
                      {"fact": "count", "value": n, "limit": limit})]
