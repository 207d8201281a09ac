"""schedule: which checks are due, when the next run is, and the per-host splay.

Each check has a schedule: a name (``heartbeat``, ``daily``, ``weekly``: its class
default) or a five-field cron expression, set by ``schedule.checks`` in agent.yaml or by
the collector's signed policy. A check is due when it never ran, or when the first
firing of its schedule after its last run (shifted by this host's splay: its own for the
daily and weekly runs, spread wider) has passed. A
host that was down for three weeks therefore runs its weekly checks once on start, not
three times. The ``raised`` monitoring level swaps the named schedules for shorter ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SchemaError
from hostpatrol.shared.report import format_time, parse_time

from . import cron
from .state import write_atomic

DEFAULT_SCHEDULES = {"heartbeat": "*/15 * * * *", "daily": "0 2 * * *",
                     "weekly": "0 3 * * 5"}
RAISED_SCHEDULES = {"heartbeat": "*/5 * * * *", "daily": "0 */4 * * *",
                    "weekly": "0 2 * * *"}
LEVELS = ("normal", "raised")
RANK = {"heartbeat": 1, "daily": 2, "weekly": 3}
# the named schedules with a splay of their own (agent.yaml's schedule.<name>_splay_seconds):
# 100,000 hosts' weekly inspections within the heartbeat's 15 minutes are 111 full reports
# a second, several times what a 2-core collector stores (bench/RESULTS.md, fleet_soak)
SPLAYS = ("daily", "weekly")
CLOCK_SLACK = timedelta(minutes=10)  # a last run this far "ahead" is a clock that went back
log = logging.getLogger("hostpatrol.agent.schedule")


@dataclass(frozen=True, slots=True)
class Schedules:
    """Resolved schedules for one host."""

    named: Mapping[str, cron.Cron]
    per_check: Mapping[str, str]
    splay: timedelta
    level: str
    # the daily and weekly runs' own, wider splays (SPLAYS); other schedules use ``splay``
    splays: Mapping[str, timedelta] = field(default_factory=dict)

    def label(self, check: type[Any]) -> str:
        """The schedule name or cron text that applies to ``check``."""
        return self.per_check.get(check.name, check.schedule)

    def splay_of(self, check: type[Any]) -> timedelta:
        """How far this host shifts ``check``'s slots."""
        return self.splays.get(self.label(check), self.splay)

    def cron_for(self, check: type[Any]) -> cron.Cron:
        """The parsed schedule of ``check``."""
        label = self.label(check)
        return self.named[label] if label in self.named else cron.parse(label)

    def next_due(self, check: type[Any], last_run: datetime | None,
                 now: datetime) -> datetime:
        """When ``check`` is next due (``now`` when it never ran).

        A last run later than ``now`` plus :data:`CLOCK_SLACK` (the host clock went back,
        or ``last_run.json`` says so) counts as never ran, as does one after which the
        calendar has no firing left: either would otherwise silence the check for good.
        """
        if last_run is None or last_run - now > CLOCK_SLACK:
            return now
        try:
            splay = self.splay_of(check)
            return self.cron_for(check).next_after(last_run - splay) + splay
        except (cron.CronError, OverflowError) as e:
            log.error("schedule of %s has no firing after its last run %s (%s); due now",
                      check.name, last_run, e)
            return now

    def due(self, checks: Iterable[type[Any]], last_runs: Mapping[str, datetime],
            now: datetime) -> list[type[Any]]:
        """The checks due at ``now``."""
        return [c for c in checks if self.next_due(c, last_runs.get(c.name), now) <= now]

    def run_label(self, checks: Iterable[type[Any]]) -> str:
        """The report's ``schedule``: the widest named schedule among ``checks``."""
        labels = [self.label(c) for c in checks]
        named = [lb for lb in labels if lb in RANK]
        if named:
            return max(named, key=RANK.__getitem__)
        return "custom" if labels else "none"


def splay_for(agent_id: str, max_seconds: int) -> timedelta:
    """A fixed per-host offset in [0, max_seconds], derived from the agent id."""
    if max_seconds <= 0:
        return timedelta(0)
    digest = int.from_bytes(hashlib.sha256(agent_id.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % (max_seconds + 1))


def resolve(settings: Mapping[str, Any], agent_id: str, known: Iterable[str],
            policy: Mapping[str, Any] | None = None) -> Schedules:
    """Build the host's schedules from agent.yaml's ``schedule`` section and the policy.

    Precedence: the signed policy (fleet admin) over agent.yaml over the defaults;
    the level is ``raised`` when either side raises it.
    """
    policy = policy or {}
    levels = {policy.get("monitoring_level") or "normal", settings["monitoring_level"]}
    if not levels <= set(LEVELS):
        msg = f"schedule.monitoring_level must be one of {', '.join(LEVELS)}, got {levels}"
        raise ConfigError(msg)
    level = "raised" if "raised" in levels else "normal"  # raising is always safe
    texts = {name: settings.get(name) or default for name, default in DEFAULT_SCHEDULES.items()}
    texts.update({k: v for k, v in (policy.get("schedules") or {}).items() if k in texts})
    if level == "raised":  # a raised level always shortens, whatever was tuned
        texts = dict(RAISED_SCHEDULES)
    named = {}
    for name, text in texts.items():
        try:
            named[name] = cron.parse(text)
        except cron.CronError as e:
            msg = f"schedule.{name}: {e}"
            raise ConfigError(msg) from e
    known = set(known)
    per_check = dict(settings.get("checks") or {})
    for name, spec in (policy.get("checks") or {}).items():
        # a check this agent version does not have is the policy's business, not an error
        if name in known and isinstance(spec, Mapping) and spec.get("schedule"):
            per_check[name] = spec["schedule"]
    for name, text in per_check.items():
        if name not in known:
            msg = f"schedule.checks.{name}: unknown check; known: {', '.join(sorted(known))}"
            raise ConfigError(msg)
        if not isinstance(text, str):
            msg = f"schedule.checks.{name}: expected a schedule name or cron text"
            raise ConfigError(msg)
        if text not in named:
            try:
                cron.parse(text)
            except cron.CronError as e:
                msg = f"schedule.checks.{name}: {e}"
                raise ConfigError(msg) from e
    splays = {name: splay_for(agent_id, int(settings[f"{name}_splay_seconds"]))
              for name in SPLAYS}
    return Schedules(named=named, per_check=per_check,
                     splay=splay_for(agent_id, int(settings["splay_seconds"])), level=level,
                     splays=splays)


class LastRuns:
    """When each check last ran (``last_run.json`` in the state dir)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "last_run.json"

    def load(self) -> dict[str, datetime]:
        """Check name → last run time (empty when nothing ran yet)."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable: everything is due once, which is the safe side
        checks = doc.get("checks") if isinstance(doc, dict) else None
        out = {}
        for name, text in (checks if isinstance(checks, dict) else {}).items():
            try:
                out[name] = parse_time(text, name)
            except (SchemaError, OverflowError):  # OverflowError: a year-1 time made UTC
                continue
        return out

    def record(self, names: Iterable[str], when: datetime) -> None:
        """Mark ``names`` as run at ``when``."""
        runs = self.load()
        runs.update(dict.fromkeys(names, when))
        doc = {"checks": {k: format_time(v) for k, v in sorted(runs.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, json.dumps(doc, indent=1).encode())
