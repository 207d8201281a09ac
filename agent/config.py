"""Agent configuration (``/etc/hostpatrol/agent.yaml``): strict, with per-check options."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostpatrol.shared.configfile import ConfigError, Field, load_yaml, validate

from .checks.base import Check

DEFAULT_CONFIG = Path("/etc/hostpatrol/agent.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/hostpatrol")


def platform_defaults(platform: str | None = None,
                      environ: dict[str, str] | None = None) -> tuple[Path, Path]:
    """The default config file and state dir: /etc and /var/lib, or %ProgramData% on Windows."""
    if (platform or sys.platform) != "win32":
        return DEFAULT_CONFIG, DEFAULT_STATE_DIR
    env = os.environ if environ is None else environ
    base = Path(env.get("ProgramData") or env.get("PROGRAMDATA") or r"C:\ProgramData")
    return base / "hostpatrol" / "agent.yaml", base / "hostpatrol" / "state"

BASE_SPEC: dict[str, Field] = {
    "state_dir": Field((str, type(None)), None,
                       "key, sequence counter, spool and log cursors "
                       "(default /var/lib/hostpatrol, on Windows %ProgramData%\\hostpatrol\\state; "
                       "$HOSTPATROL_STATE_DIR wins)"),
    "delivery": Field(dict, doc="how reports reach the collector", children={
        "timeout_seconds": Field((int, float), 20, "HTTP timeout for one request"),
        "batch_size": Field(int, 50, "most reports sent in one request"),
        "max_batch_bytes": Field(int, 4 * 1024 * 1024,
                                 "largest request body sent (the collector's own stated "
                                 "limit wins when lower)"),
        "backoff_initial_seconds": Field((int, float), 30,
                                         "daemon: first wait after a failed delivery"),
        "backoff_max_seconds": Field((int, float), 3600,
                                     "daemon: longest wait between delivery attempts"),
    }),
    "spool": Field(dict, doc="the durable outbox", children={
        "max_bytes": Field(int, 64 * 1024 * 1024, "spool size cap in bytes"),
        "max_age_days": Field(int, 30, "reports older than this are dropped (gap marker)"),
    }),
    "schedule": Field(dict, doc="when checks run (the collector's policy may override)",
                      children={
        "heartbeat": Field(str, "*/15 * * * *", "cron for heartbeat checks"),
        "daily": Field(str, "0 2 * * *", "cron for daily checks (UTC)"),
        "weekly": Field(str, "0 3 * * 5", "cron for the weekly full inspection (UTC)"),
        "splay_seconds": Field(int, 900, "most seconds this host shifts the heartbeat "
                                         "and cron-text schedules (fixed per host, from "
                                         "the agent id)"),
        "daily_splay_seconds": Field(int, 3600, "most seconds this host shifts the daily "
                                                "run"),
        "weekly_splay_seconds": Field(int, 14400, "most seconds this host shifts the "
                                                  "weekly full inspection (4 h: a large "
                                                  "fleet's reports spread over Friday "
                                                  "morning)"),
        "monitoring_level": Field(str, "normal", "normal | raised (shorter intervals)",
                                  choices=("normal", "raised")),
        "checks": Field(dict, dict, "per-check schedule: a name above or cron text"),
    }),
    "run": Field(dict, doc="how a run treats the host", children={
        "nice": Field(int, 10, "CPU niceness added for the run (0: none)"),
        "io_idle": Field(bool, True, "idle I/O priority class where the OS has one"),
    }),
}


def check_spec(check: type[Check]) -> dict[str, Field]:
    """The config schema of one check: ``enabled`` plus its own options."""
    spec = {"enabled": Field(bool, True, "run this check")}
    for name, opt in check.options.items():
        default = opt.default
        spec[name] = Field(opt.type, (lambda d=default: list(d)) if isinstance(default, list)
                           else default, opt.doc)
    return spec


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Validated agent settings."""

    settings: dict[str, Any]
    checks: dict[str, dict[str, Any]]
    source: str

    @property
    def state_dir(self) -> Path:
        """Where the agent keeps its state."""
        env = os.environ.get("HOSTPATROL_STATE_DIR")
        return Path(env or self.settings["state_dir"] or platform_defaults()[1]).absolute()

    def check_options(self, name: str) -> dict[str, Any]:
        """The options for check ``name`` without ``enabled``."""
        return {k: v for k, v in self.checks[name].items() if k != "enabled"}

    def enabled(self, name: str) -> bool:
        """Whether check ``name`` runs."""
        return bool(self.checks[name]["enabled"])


def load_agent_config(path: Path | None, checks: Iterable[type[Check]]) -> AgentConfig:
    """Load ``path`` (or the default file when it exists) and validate every section."""
    checks = list(checks)
    spec = dict(BASE_SPEC)
    spec["checks"] = Field(dict, doc="per-check options", children={
        c.name: Field(dict, doc=f"options of the {c.name} check", children=check_spec(c))
        for c in checks
    })
    default = platform_defaults()[0]
    if path is None and default.exists():
        path = default
    if path is None:
        settings = validate({}, spec, source="(defaults)")
        source = "(defaults)"
    else:
        if not Path(path).exists():
            msg = f"{path}: config file not found"
            raise ConfigError(msg)
        data, lines = load_yaml(Path(path))
        settings = validate(data, spec, source=str(path), lines=lines)
        source = str(path)
    return AgentConfig(settings=settings, checks=settings["checks"], source=source)
