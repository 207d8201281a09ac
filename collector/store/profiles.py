"""Host profiles (criticality, tags, owners) and baselines in the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .schema import agents, baselines, host_profiles, host_tags
from .sql import upsert


def get_profile(conn: sa.Connection, agent_id: str) -> sa.Row | None:
    """A host's profile row, or None (not critical, no tags)."""
    return conn.execute(sa.select(host_profiles).where(host_profiles.c.agent_id == agent_id)
                        ).first()


def set_profile(conn: sa.Connection, agent_id: str, *, by: str, now: datetime,
                critical: bool | None = None, tags: list[str] | None = None,
                owner: str | None = None, backup_owner: str | None = None,
                group: str | None = None) -> sa.Row:
    """Change what is given; keep the rest. ``group`` moves the host to another group."""
    current = get_profile(conn, agent_id)
    row: dict[str, Any] = {
        "agent_id": agent_id,
        "critical": current.critical if current and critical is None else bool(critical),
        "tags": sorted(set(tags)) if tags is not None else (current.tags if current else []),
        "owner": owner if owner is not None else (current.owner if current else None),
        "backup_owner": backup_owner if backup_owner is not None else (
            current.backup_owner if current else None),
        "updated_at": now, "updated_by": by[:64],
        "revision": (current.revision if current else 0) + 1,
    }
    upsert(conn, host_profiles, [row], key=("agent_id",))
    if tags is not None:  # the indexed copy the host list filters on
        conn.execute(host_tags.delete().where(host_tags.c.agent_id == agent_id))
        indexed = sorted({str(t)[:64] for t in row["tags"]})  # the column's size
        if indexed:
            conn.execute(host_tags.insert(), [{"agent_id": agent_id, "tag": t}
                                              for t in indexed])
    if group is not None:
        conn.execute(agents.update().where(agents.c.id == agent_id)
                     .values(group_name=group or None))
    profile = get_profile(conn, agent_id)
    assert profile is not None  # noqa: S101 - just written
    return profile


def host_row(conn: sa.Connection, agent_id: str) -> sa.Row | None:
    """The agent joined with its profile."""
    return conn.execute(
        sa.select(agents.c.id, agents.c.hostname, agents.c.group_name, agents.c.last_seen_at,
                  agents.c.status, host_profiles.c.critical, host_profiles.c.tags,
                  host_profiles.c.owner, host_profiles.c.backup_owner)
        .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
        .where(agents.c.id == agent_id)).first()


def get_baselines(conn: sa.Connection, agent_id: str) -> dict[str, sa.Row]:
    """kind → baseline row for one host."""
    return {r.kind: r for r in conn.execute(sa.select(baselines).where(
        baselines.c.agent_id == agent_id)).all()}


def put_baseline(conn: sa.Connection, agent_id: str, kind: str, items: list[str], *,
                 by: str, now: datetime, result_id: int | None) -> None:
    """Set (or replace) a host's baseline of ``kind``."""
    upsert(conn, baselines, [{"agent_id": agent_id, "kind": kind, "items": sorted(items),
                              "taken_at": now, "approved_by": by[:64],
                              "result_id": result_id}], key=("agent_id", "kind"))
