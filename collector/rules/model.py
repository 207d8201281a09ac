"""What rules see (host facts, one check result) and what they produce (deviations)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class HostFacts:
    """The host as rules need it."""

    agent_id: str
    hostname: str
    group: str | None
    critical: bool = False
    tags: frozenset[str] = frozenset()
    owner: str | None = None
    backup_owner: str | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """An earlier result of the same check, reduced to the values history rules read."""

    started_at: datetime
    values: Mapping[str, Any]  # dotted path → value (None when absent)


@dataclass(frozen=True, slots=True)
class Result:
    """One check result as stored."""

    check: str
    status: str
    started_at: datetime
    data: Mapping[str, Any]
    result_id: int | None = None
    previous_started_at: datetime | None = None  # the check's run before this one
    history: tuple[Sample, ...] = ()  # earlier runs, oldest first (trend rules only)


@dataclass(frozen=True, slots=True)
class Deviation:
    """A subject failing a rule; ``level`` is the rule's level for this value."""

    rule_id: str
    subject: str
    level: int
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def dedup_key(self, agent_id: str) -> str:
        """The stable key of the finding this deviation belongs to."""
        raw = f"{agent_id}\0{self.rule_id}\0{self.subject}".encode()
        return hashlib.sha256(raw).hexdigest()
