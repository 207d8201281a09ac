"""cycle: one agent run — due checks, sign, spool, deliver, check in, run commands.

Shared by ``run --once`` (timers, cron) and ``daemon``. The whole cycle holds the run
lock; after spooling, each non-error check's ``commit()`` makes its cursor durable.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
from hostpatrol.shared import __version__
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.keys import load_private_key
from hostpatrol.shared.report import format_time

from . import crashlog, diskfull
from .checkin import Command, CommandLog, accept_commands, command_meta
from .client import Client, ClientError
from .config import AgentConfig
from .delivery import DeliveryResult, DeliveryState, deliver_spool
from .policy import PolicyCache, PolicyRefused, apply_policy, describe_version, verify_policy
from .runner import build_report, run_checks, sign_report
from .schedule import LastRuns, Schedules, resolve
from .spool import Spool
from .state import Enrollment, State

log = logging.getLogger("hostpatrol.agent.cycle")
MAX_COMMAND_ROUNDS = 3


@dataclass(slots=True)
class CycleResult:
    """What one cycle did, for printing."""

    reports: list[str] = field(default_factory=list)
    delivery: DeliveryResult = field(default_factory=DeliveryResult)
    notes: list[str] = field(default_factory=list)
    next_due: dict[str, datetime] = field(default_factory=dict)
    spool_error: str | None = None  # this run's report could not be spooled (disk full)


def _usage() -> tuple[float, int]:
    """CPU seconds (self + children) and peak RSS bytes of this process so far."""
    try:
        import resource
    except ImportError:  # Windows
        info = psutil.Process().memory_info()
        times = psutil.Process().cpu_times()
        return times.user + times.system, int(getattr(info, "peak_wset", info.rss))
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 if sys.platform == "darwin" else 1024
    return (me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            int(me.ru_maxrss * scale))


class Agent:
    """Everything a cycle needs, loaded from config and the state dir."""

    def __init__(self, config: AgentConfig, registry: Mapping[str, type[Any]],
                 out: Callable[[str], None] = print) -> None:
        self.base_config = config
        self.registry = dict(registry)
        self.state = State(config.state_dir)
        self.enrollment: Enrollment = self.state.enrollment()
        self.key = load_private_key(self.state.key_path)
        self.out = out
        self.policy_cache = PolicyCache(self.state.root)
        self.last_runs = LastRuns(self.state.root)
        self.delivery_state = DeliveryState(self.state.root)
        self.commands = CommandLog(self.state.root)

    @property
    def policy(self) -> dict[str, Any] | None:
        """The cached, verified policy."""
        return self.policy_cache.load(self.enrollment.collector_key, self.enrollment.agent_id)

    def effective(self) -> tuple[AgentConfig, Schedules]:
        """agent.yaml with the policy applied, and the resulting schedules."""
        policy = self.policy
        try:
            config = apply_policy(self.base_config, policy, self.registry)
        except PolicyRefused as e:
            log.error("cached policy not applied: %s", e)
            config, policy = self.base_config, None
        schedules = resolve(config.settings["schedule"], self.enrollment.agent_id,
                            self.registry, policy)
        return config, schedules

    def spool(self, config: AgentConfig) -> Spool:
        """The spool with its bounds from config."""
        s = config.settings["spool"]
        return Spool(self.state.spool_dir, s["max_bytes"], s["max_age_days"])

    def client(self, config: AgentConfig) -> Client:
        """A pinned client for the enrolled collector."""
        return Client(self.enrollment.server, self.enrollment.fingerprint,
                      timeout=config.settings["delivery"]["timeout_seconds"])

    def next_due(self, now: datetime | None = None) -> dict[str, datetime]:
        """Enabled check → when it is next due."""
        now = now or utcnow()
        config, schedules = self.effective()
        runs = self.last_runs.load()
        return {c.name: schedules.next_due(c, runs.get(c.name), now)
                for c in self.registry.values() if config.enabled(c.name)}

    def cycle(self, names: list[str] | None = None, *, force_all: bool = False,
              now: datetime | None = None) -> CycleResult:
        """One run under the run lock (a run that never finishes is found by the next)."""
        with self.state.run_lock():
            crashlog.begin(self.state.root, names or ["all" if force_all else "due"], now)
            try:
                return self._cycle(names, force_all, now or utcnow())
            finally:
                crashlog.end(self.state.root)

    def _cycle(self, names: list[str] | None, force_all: bool, now: datetime) -> CycleResult:
        result = CycleResult()
        config, schedules = self.effective()
        enabled = [c for c in self.registry.values() if config.enabled(c.name)]
        if names:
            chosen, label = [self.registry[n] for n in names], "manual"
        elif force_all:
            chosen, label = enabled, "all"
        else:
            chosen = schedules.due(enabled, self.last_runs.load(), now)
            label = schedules.run_label(chosen)
        spool = self.spool(config)
        if chosen:
            try:
                self._run(config, schedules, chosen, label, spool, result, {}, now)
            except OSError as e:
                if not diskfull.is_full(e):
                    raise
                result.spool_error = diskfull.note_full(self.state.root, e)
                log.error("%s", result.spool_error)
        else:
            result.notes.append("no check is due")
        for _ in range(MAX_COMMAND_ROUNDS):
            if not spool.pending():
                break
            settings = config.settings["delivery"]
            delivery = deliver_spool(spool, self.client(config), settings["batch_size"],
                                     state=self.delivery_state,
                                     max_body_bytes=settings["max_batch_bytes"])
            _merge(result.delivery, delivery)
            commands = self._checkin(config, delivery, utcnow(), result)
            if not commands:
                break
            for command in commands:
                self._run_command(command, spool, result, now)
        result.delivery.remaining = len(spool.pending())
        result.next_due = self.next_due(now)
        return result

    def _run(self, config: AgentConfig, schedules: Schedules, chosen: list[type[Any]],
             label: str, spool: Spool, result: CycleResult, meta: dict[str, Any],
             now: datetime) -> None:
        t0, (cpu0, _) = time.monotonic(), _usage()
        checks = [c(config.check_options(c.name), state_dir=self.state.root) for c in chosen]
        results = run_checks(checks)
        cpu1, peak = _usage()
        meta = {"agent_version": __version__, "cpu_seconds": round(cpu1 - cpu0, 3),
                "peak_rss_bytes": peak, "run_ms": int((time.monotonic() - t0) * 1000),
                "durations_ms": {r.check: r.duration_ms for r in results},
                "monitoring_level": schedules.level, **meta}
        policy = self.policy
        if policy is not None:
            meta["policy_version"] = policy["version"]
        full = diskfull.marks(self.state.root)
        meta.update(diskfull.meta(full))
        crash = crashlog.pending(self.state.root)
        if crash is not None:
            meta["last_crash"] = crash
        gap = spool.gap()
        seq = self.state.next_seq()
        if self.state.repairs:
            meta["state_repaired"] = list(self.state.repairs)
        report = build_report(self.enrollment.agent_id, seq, label, results, meta=meta,
                              gap=gap)
        item = spool.put(report.seq, report.report_id, sign_report(report, self.key))
        self.state.repairs.clear()
        if gap is not None:
            spool.gap_carried(report.seq)
        if crash is not None:
            crashlog.carried(self.state.root, report.seq)
        diskfull.clear(full)
        for check, res in zip(checks, results, strict=True):
            if res.status != "error":
                check.commit()
        self.last_runs.record([c.name for c in chosen], now)
        spool.enforce_bounds()
        result.reports.append(f"report {report.report_id} (seq {report.seq}, {label}: "
                              f"{', '.join(c.name for c in chosen)}) spooled: {item.path.name}")

    def _run_command(self, command: Command, spool: Spool, result: CycleResult,
                     now: datetime) -> None:
        config, schedules = self.effective()
        known = [self.registry[n] for n in command.checks if n in self.registry]
        unknown = [n for n in command.checks if n not in self.registry]
        if unknown:
            result.notes.append(f"command {command.id}: unknown check(s) ignored: "
                                f"{', '.join(unknown)}")
        chosen = known or [c for c in self.registry.values() if config.enabled(c.name)]
        self._run(config, schedules, chosen, "command", spool, result,
                  command_meta([command]), now)
        self.commands.remember(command, now)
        result.notes.append(f"command {command.id} ({command.kind}) executed")

    def _checkin(self, config: AgentConfig, delivery: DeliveryResult, now: datetime,
                 result: CycleResult) -> list[Command]:
        ident = self.enrollment
        cached = self.policy_cache.version(ident.collector_key, ident.agent_id)
        if delivery.policy_version is not None and delivery.policy_version > cached:
            try:
                token = self.client(config).policy(self.key, ident.agent_id)
                doc = verify_policy(token, ident.collector_key, ident.agent_id, cached)
                apply_policy(self.base_config, doc, self.registry)  # validate options
                resolve(config.settings["schedule"], ident.agent_id, self.registry, doc)
                self.policy_cache.save(token)
                result.notes.append(f"policy version {describe_version(doc['version'])} applied")
            except (ClientError, ConfigError, ValueError, OSError) as e:  # OSError: disk full
                log.error("policy not applied: %s", e)
                result.notes.append(f"policy not applied: {e}")
        return accept_commands(delivery.commands, ident.collector_key, ident.agent_id,
                               self.commands, now)


def _merge(total: DeliveryResult, part: DeliveryResult) -> None:
    total.delivered += part.delivered
    total.duplicates += part.duplicates
    total.dead_lettered += part.dead_lettered
    total.rejections.extend(part.rejections)
    total.error = part.error
    total.retry_after = part.retry_after
    total.deferred_until = part.deferred_until
    total.policy_version = part.policy_version


def describe_next(next_due: Mapping[str, datetime]) -> list[str]:
    """Human lines: next due time → checks."""
    by_time: dict[datetime, list[str]] = {}
    for name, when in next_due.items():
        by_time.setdefault(when, []).append(name)
    return [f"{format_time(t)}  {', '.join(sorted(names))}"
            for t, names in sorted(by_time.items())]
