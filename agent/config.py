"""Agent configuration (``/etc/hostpatrol/agent.yaml``): strict, with per-check options."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostpatrol.shared.configfile import ConfigError, Field, load_yaml, validate

from .checks.base import Check

DEFAULT_CONFIG = Path("/etc/hostpatrol/agent.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/hostpatrol")

BASE_SPEC: dict[str, Field] = {
    "state_dir": Field((str, type(None)), None,
                       "key, sequence counter, spool and log cursors "
                       "(default /var/lib/hostpatrol; $HOSTPATROL_STATE_DIR wins)"),
    "delivery": Field(dict, doc="how reports reach the collector", children={
        "timeout_seconds": Field((int, float), 20, "HTTP timeout for one request"),
        "batch_size": Field(int, 50, "most reports sent in one request"),
    }),
    "spool": Field(dict, doc="the durable outbox", children={
        "max_bytes": Field(int, 64 * 1024 * 1024, "spool size cap in bytes"),
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
        return Path(env or self.settings["state_dir"] or DEFAULT_STATE_DIR).absolute()

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
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
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
