"""Run the policy's rules for one host over the results at hand (or fleet rules over all)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..policy.model import Policy, Rule
from . import kinds
from .checkin import checkin
from .crossing import Sightings, crossing, outside_sightings, usable
from .drift import BASELINES, drift
from .model import Deviation, HostFacts, Result
from .trend import trend

RuleFn = Callable[[Rule, HostFacts, Mapping[str, Result], Mapping[str, frozenset[str]],
                   datetime], list[Deviation]]

KIND_FUNCTIONS: dict[str, RuleFn] = {
    "threshold": kinds.threshold,
    "required": kinds.required,
    "staleness": kinds.staleness,
    "count": kinds.count,
    "drift": drift,
    "checkin": checkin,
    "trend": trend,
}
# kinds judged over the whole fleet at once (evaluate_fleet), never per report
FLEET_KINDS = ("crossing",)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The rules that were evaluated (so passes can verify) and what deviated."""

    rules: tuple[Rule, ...]
    deviations: tuple[Deviation, ...]


def input_check(rule: Rule) -> str:
    """The check whose result feeds ``rule`` ("*": a check-in rule fed by any)."""
    return BASELINES[rule.param("baseline")][0] if rule.kind == "drift" else rule.check


def rules_fed_by(policy: Policy, checks: Iterable[str]) -> list[str]:
    """The ids of every rule, in any group, that results of ``checks`` can feed: the rules
    :func:`evaluate` may choose for a report of those checks, whatever its host's group."""
    wanted = set(checks)
    return sorted({r.id for r in policy.every_rule()
                   if input_check(r) in wanted or r.check == "*"})


def _feeds(rule: Rule, results: Mapping[str, Result], modes: tuple[str, ...]) -> bool:
    if rule.kind == "checkin":
        if rule.param("mode") not in modes:
            return False
        return rule.check == "*" or rule.check in results
    result = results.get(input_check(rule))
    return result is not None and result.status not in ("error", "skipped")


def evaluate(policy: Policy, host: HostFacts, results: Mapping[str, Result],
             baseline: Mapping[str, frozenset[str]], now: datetime, *,
             checkin_modes: tuple[str, ...] = ("silent", "missed", "late"),
             only_kinds: tuple[str, ...] | None = None) -> Evaluation:
    """Every targeted rule whose input is in ``results``, and the deviations it found."""
    chosen, found = [], []
    for rule in policy.rules_in(host.group):
        if rule.kind in FLEET_KINDS or (only_kinds is not None and rule.kind not in only_kinds):
            continue
        if not rule.targets.matches(host.group, host.tags) or not _feeds(rule, results,
                                                                         checkin_modes):
            continue
        chosen.append(rule)
        seen: set[str] = set()
        for dev in KIND_FUNCTIONS[rule.kind](rule, host, results, baseline, now):
            if dev.subject not in seen:  # one finding per (host, rule, subject)
                seen.add(dev.subject)
                found.append(dev)
    return Evaluation(tuple(chosen), tuple(found))


def _index_key(rule: Rule) -> str:
    return repr((rule.kind, rule.check, sorted(rule.params.items())))


def evaluate_fleet(policy: Policy, fleet: Mapping[str, Sequence[tuple[HostFacts, Result]]],
                   now: datetime) -> dict[str, Evaluation]:
    """Fleet rules over ``fleet`` (check → every host's newest result of it), per host.

    Each host is judged by the rule as it applies in its group; hosts a rule does not
    target, or whose result is an error or too old, are not judged by it.
    """
    indexes: dict[str, Sightings] = {}
    chosen: dict[str, list[Rule]] = {}
    found: dict[str, list[Deviation]] = {}
    for check, entries in fleet.items():
        for host, result in entries:
            for rule in policy.rules_in(host.group):
                if (rule.kind not in FLEET_KINDS or rule.check != check
                        or not rule.targets.matches(host.group, host.tags)
                        or not usable(rule, result, now)):
                    continue
                key = _index_key(rule)
                if key not in indexes:
                    indexes[key] = outside_sightings(rule, entries, now)
                chosen.setdefault(host.agent_id, []).append(rule)
                found.setdefault(host.agent_id, []).extend(
                    crossing(rule, host, result, indexes[key], now))
    return {aid: Evaluation(tuple(rules), tuple(found.get(aid, ())))
            for aid, rules in chosen.items()}
