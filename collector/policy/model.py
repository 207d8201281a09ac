"""The validated policy as frozen values: levels, rules, groups, notification settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Levels as numbers: 1 = I (Especially major) … 4 = IV (General); 5 = informational.
LEVELS: dict[str, int] = {"I": 1, "II": 2, "III": 3, "IV": 4, "info": 5}
LEVEL_NAMES: dict[int, str] = {v: k for k, v in LEVELS.items()}
KINDS = ("threshold", "required", "staleness", "count", "drift", "checkin", "trend",
         "crossing")


def level_name(level: int) -> str:
    """``1`` → ``"I"`` … ``5`` → ``"info"``."""
    return LEVEL_NAMES[level]


def raise_level(level: int, steps: int = 1) -> int:
    """One level more severe (IV → III …, never above I); informational stays informational."""
    if level >= LEVELS["info"]:
        return level
    return max(1, level - steps)


@dataclass(frozen=True, slots=True)
class Targets:
    """Which hosts a rule applies to: groups and tags (empty = every host)."""

    groups: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()

    def matches(self, group: str | None, tags: frozenset[str]) -> bool:
        """Whether a host in ``group`` with ``tags`` is targeted."""
        if self.exclude_tags and tags & set(self.exclude_tags):
            return False
        if self.groups and group not in self.groups:
            return False
        return not self.tags or bool(tags & set(self.tags))


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule; ``params`` holds the kind-specific keys after validation."""

    id: str
    kind: str
    check: str
    title: str
    level: int
    critical_level: int | None
    targets: Targets
    spread: bool
    age_levels: tuple[tuple[float, int], ...]  # (after_days, level), ascending
    params: Mapping[str, Any]

    def param(self, key: str, default: Any = None) -> Any:
        """A kind-specific setting."""
        value = self.params.get(key)
        return default if value is None else value


@dataclass(frozen=True, slots=True)
class Group:
    """A host group: owners, parent (escalation tree) and rule overrides."""

    name: str
    parent: str | None
    owner: str | None
    backup_owner: str | None
    overrides: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Channel:
    """Where notifications go: an email list or a webhook in one of the chat formats."""

    name: str
    type: str  # email | webhook
    settings: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Route:
    """Which channels hear about which levels in which groups."""

    levels: tuple[int, ...]
    groups: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A whole validated policy version."""

    version: int
    sha256: str
    rules: tuple[Rule, ...]
    groups: Mapping[str, Group]
    deadlines_hours: Mapping[int, float]
    remind_before_hours: float
    default_owner: str | None
    default_backup_owner: str | None
    spread_min_hosts: int
    spread_min_group_percent: float
    first_notice: Mapping[int, str]  # level → immediate | digest | none
    digest_hour: int
    retry: Mapping[str, int]
    channels: Mapping[str, Channel]
    routes: tuple[Route, ...]
    retention: Mapping[str, int]
    jobs: Mapping[str, int]
    agents: Mapping[str, Any]
    group_rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def rules_in(self, group: str | None) -> tuple[Rule, ...]:
        """The rules as they apply in ``group`` (overrides merged, disabled ones dropped)."""
        return self.group_rules.get(group or "", self.rules)

    def every_rule(self) -> Iterator[Rule]:
        """Each rule as written, then as every group's overrides make it."""
        yield from self.rules
        for rules in self.group_rules.values():
            yield from rules

    def rules_for(self, check: str, group: str | None = None) -> list[Rule]:
        """Rules fed by ``check`` for a host in ``group``."""
        return [r for r in self.rules_in(group) if r.check == check]

    def rule(self, rule_id: str) -> Rule | None:
        """A rule by id."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def group_chain(self, group: str | None) -> list[Group]:
        """The group and its ancestors (site → region → head office), cycles cut."""
        chain: list[Group] = []
        while group and group in self.groups and all(g.name != group for g in chain):
            chain.append(self.groups[group])
            group = self.groups[group].parent
        return chain
