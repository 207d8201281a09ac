"""policy_feed: what the signed policy for one agent contains (the content, not the signing).

Contract (stable)::

    agent_policy(conn, agent_row) -> {
        "version": int,            # grows whenever the content for this agent changes
        "schedules": {name: cron}, # heartbeat/daily/weekly; a missing key keeps the agent's
        "checks": {check: {"enabled": bool, "schedule": name-or-cron, "options": {...}}},
        "monitoring_level": "normal" | "raised",
    }

The content is the ``agents:`` section of the current policy (configs/policy.yaml):
``schedules`` and ``checks``, then the host's group's entry in ``agents.groups`` and
each of its tags' entries in ``agents.tags`` laid over them (later wins, check options
merged). ``monitoring_level`` is "raised" when the host has a tag in
``agents.raised_tags`` or its group is in ``agents.raised_groups``. ``version`` is
``policy_version * 2**32 + profile_revision``: it grows with a new policy version and
with every change to the host's tags, criticality or group (``hosts set``), so the
agent refetches exactly when its content may have changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ..policy import loader
from ..store.profiles import get_profile

PROFILE_BITS = 32


def _lay(out: dict[str, Any], layer: Mapping[str, Any]) -> None:
    out["schedules"].update(layer.get("schedules") or {})
    for check, spec in (layer.get("checks") or {}).items():
        merged = dict(out["checks"].get(check, {}))
        options = {**merged.get("options", {}), **(spec.get("options") or {})}
        merged.update({k: v for k, v in spec.items() if k != "options"})
        if options:
            merged["options"] = options
        out["checks"][check] = merged


def agent_policy(conn: sa.Connection, agent_row: Any) -> dict[str, Any]:
    """The policy content for ``agent_row`` from the current policy and the host profile."""
    policy = loader.current(conn)
    section = policy.agents
    profile = get_profile(conn, agent_row.id)
    tags = sorted(profile.tags) if profile is not None else []
    group = agent_row.group_name
    out: dict[str, Any] = {"schedules": {}, "checks": {}}
    _lay(out, {"schedules": section["schedules"], "checks": section["checks"]})
    if group and group in section["groups"]:
        _lay(out, section["groups"][group])
    for tag in tags:
        if tag in section["tags"]:
            _lay(out, section["tags"][tag])
    raised = bool(set(tags) & set(section["raised_tags"])) or group in section["raised_groups"]
    revision = profile.revision if profile is not None else 0
    return {"version": (policy.version << PROFILE_BITS) + revision,
            "schedules": {k: str(v) for k, v in out["schedules"].items()},
            "checks": out["checks"], "monitoring_level": "raised" if raised else "normal"}
