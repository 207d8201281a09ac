"""policy: the collector's signed policy — verify with the pinned key, cache, apply.

The policy (``hostpatrol.policy/1``) arrives as a JWS signed by the collector key the
agent pinned at enrollment. Refused: another key, another ``typ``, another agent's id,
and a version older than the cached one (a replayed old policy). The accepted token is
cached as received (``policy.jws``) and verified again on every load.

Applying it: the policy overrides agent.yaml for what it names — named schedules,
per-check schedules, the monitoring level, check options. Either side can switch a
check off; the policy cannot switch on a check that agent.yaml disabled (the host's
admin knows what cannot run here).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hostpatrol.shared import jws
from hostpatrol.shared.configfile import ConfigError, validate
from hostpatrol.shared.errors import JWSError, KeyFileError, SchemaError
from hostpatrol.shared.keys import key_id, public_from_b64
from hostpatrol.shared.report import parse_time

from .client import ClientError
from .config import AgentConfig, check_spec
from .state import write_atomic

FORMAT = "hostpatrol.policy/1"
TYP = "hostpatrol.policy+jws"
LEVELS = ("normal", "raised")


class PolicyRefused(ClientError):
    """A policy that is not signed by the pinned key, not for us, or older than ours."""


def verify_policy(token: str, collector_key: str, agent_id: str,
                  cached_version: int = -1) -> dict[str, Any]:
    """Verify ``token`` and return the policy document; raise PolicyRefused."""
    try:
        key = public_from_b64(collector_key)
        unverified = jws.parse(token)
        if unverified.header.get("typ") != TYP:
            msg = f"policy JWS typ is {unverified.header.get('typ')!r}, expected {TYP}"
            raise PolicyRefused(msg)
        if unverified.kid not in (None, key_id(key)):
            msg = "policy is signed by another key than the collector key pinned at enrollment"
            raise PolicyRefused(msg)
        doc = jws.loads_strict(jws.verify(unverified, key))
    except (JWSError, KeyFileError, ValueError, UnicodeDecodeError) as e:
        msg = f"policy refused: not signed by the pinned collector key ({e})"
        raise PolicyRefused(msg) from e
    _check_shape(doc, agent_id)
    if doc["version"] < cached_version:
        msg = (f"policy version {doc['version']} is older than the cached version "
               f"{cached_version}: refused (replayed old policy)")
        raise PolicyRefused(msg)
    return doc


def _check_shape(doc: Any, agent_id: str) -> None:
    problem = _shape_problem(doc, agent_id)
    if problem:
        msg = f"policy refused: {problem}"
        raise PolicyRefused(msg)


def _shape_problem(doc: Any, agent_id: str) -> str | None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return f"format is not {FORMAT}"
    if doc.get("agent_id") != agent_id:
        return f"it is for agent {doc.get('agent_id')!r}, not {agent_id}"
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        return "version must be a non-negative integer"
    try:
        parse_time(doc.get("issued_at"), "issued_at")
    except (SchemaError, OverflowError) as e:  # OverflowError: a time at the calendar's end
        return str(e)
    schedules = doc.get("schedules", {})
    if not isinstance(schedules, dict) or not all(
            isinstance(v, str) for v in schedules.values()):
        return "schedules must map names to cron text"
    checks = doc.get("checks", {})
    if not isinstance(checks, dict) or not all(isinstance(v, dict) for v in checks.values()):
        return "checks must map check names to objects"
    if doc.get("monitoring_level", "normal") not in LEVELS:
        return f"monitoring_level must be one of {', '.join(LEVELS)}"
    return None


def apply_policy(config: AgentConfig, policy: Mapping[str, Any] | None,
                 registry: Mapping[str, type[Any]]) -> AgentConfig:
    """``config`` with the policy's check settings applied; PolicyRefused if invalid."""
    if not policy:
        return config
    checks = {name: dict(opts) for name, opts in config.checks.items()}
    for name, spec in (policy.get("checks") or {}).items():
        if name not in registry or name not in checks:
            continue  # a check this agent version does not have
        merged = dict(checks[name])
        merged.update(spec.get("options") or {})
        if spec.get("enabled") is False:
            merged["enabled"] = False
        try:
            checks[name] = validate(merged, check_spec(registry[name]),
                                    source="policy", prefix=f"checks.{name}")
        except ConfigError as e:
            msg = f"policy refused: {e}"
            raise PolicyRefused(msg) from e
    settings = dict(config.settings, checks=checks)
    return dataclasses.replace(config, settings=settings, checks=checks)


class PolicyCache:
    """The last accepted policy, kept as the signed token (``policy.jws``)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "policy.jws"

    def load(self, collector_key: str, agent_id: str) -> dict[str, Any] | None:
        """The cached policy, verified again; None when there is none (or it is bad)."""
        try:
            token = self.path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        try:
            return verify_policy(token, collector_key, agent_id)
        except PolicyRefused:
            return None

    def version(self, collector_key: str, agent_id: str) -> int:
        """The cached policy's version, -1 when none."""
        doc = self.load(collector_key, agent_id)
        return int(doc["version"]) if doc else -1

    def save(self, token: str) -> None:
        """Keep an accepted token."""
        write_atomic(self.path, token.encode("ascii") + b"\n")


def describe_version(version: int) -> str:
    """A feed version as an admin reads it: the collector's policy version and this host's
    profile revision (the feed version is ``policy * 2**32 + revision``)."""
    return f"{version} (policy {version >> 32}, host profile revision {version & 0xFFFFFFFF})"


def summary(doc: Mapping[str, Any] | None) -> str:
    """One line for ``status``."""
    if not doc:
        return "none (agent.yaml only)"
    return (f"version {describe_version(doc['version'])} issued {doc['issued_at']}, monitoring "
            f"{doc.get('monitoring_level', 'normal')}, "
            f"{len(doc.get('checks') or {})} check setting(s): "
            f"{json.dumps(doc.get('schedules') or {}, sort_keys=True)}")
