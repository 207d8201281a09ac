"""A finding's level: the rule's level raised by host criticality, age and fleet spread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..policy.model import Rule, level_name, raise_level


@dataclass(frozen=True, slots=True)
class Severity:
    """The level and the factors that made it (stored with the finding)."""

    level: int
    base_level: int
    factors: tuple[dict[str, Any], ...]

    def factor_list(self) -> list[dict[str, Any]]:
        """The factors as stored (JSON)."""
        return [dict(f) for f in self.factors]


def severity(rule: Rule, deviation_level: int, *, critical: bool, first_seen: datetime,
             now: datetime, spread: dict[str, Any] | None) -> Severity:
    """Apply, in order: age levels, host criticality, fleet spread (one level up)."""
    base = deviation_level
    factors: list[dict[str, Any]] = [{"factor": "rule", "level": level_name(base),
                                      "rule": rule.id}]
    level = base
    age_days = (now - first_seen).total_seconds() / 86400
    for after_days, age_level in rule.age_levels:
        if age_days >= after_days and age_level < level:
            factors.append({"factor": "age", "after_days": after_days,
                            "from": level_name(level), "to": level_name(age_level)})
            level = age_level
    if critical and rule.critical_level is not None and level < 5 and rule.critical_level < level:
        factors.append({"factor": "critical_host", "from": level_name(level),
                        "to": level_name(rule.critical_level)})
        level = rule.critical_level
    if spread is not None and rule.spread and level < 5:
        raised = raise_level(level)
        factors.append({"factor": "fleet_spread", "from": level_name(level),
                        "to": level_name(raised), **spread})
        level = raised
    return Severity(level, base, tuple(factors))
