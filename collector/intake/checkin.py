"""checkin: signed policy and commands for agents, and what delivery answers carry.

Policy: ``hostpatrol.policy/1`` (typ ``hostpatrol.policy+jws``), content from
:func:`policy_feed.agent_policy`. Commands: ``hostpatrol.command/1`` (typ
``hostpatrol.command+jws``), one row each in ``agent_commands``; handed out with every
delivery answer to their agent until a report says it executed them (``meta.commands``)
or they expire. Both are signed with the collector key agents pinned at enrollment.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import jws
from hostpatrol.shared.keys import key_id
from hostpatrol.shared.report import format_time

from ..policy import loader
from ..store.schema import UTCDateTime, agent_commands, agents, host_profiles
from .policy_feed import PROFILE_BITS, agent_policy

log = logging.getLogger("hostpatrol.collector.checkin")
POLICY_FORMAT = "hostpatrol.policy/1"
POLICY_TYP = "hostpatrol.policy+jws"
COMMAND_FORMAT = "hostpatrol.command/1"
COMMAND_TYP = "hostpatrol.command+jws"
COMMAND_TTL = timedelta(hours=24)
MAX_COMMANDS = 20


def _sign(doc: dict[str, Any], key: Ed25519PrivateKey, typ: str) -> str:
    return jws.sign(jws.dumps_compact(doc), key, kid=key_id(key.public_key()), typ=typ)


def policy_token(conn: sa.Connection, agent_row: Any, key: Ed25519PrivateKey,
                 now: datetime) -> str:
    """The agent's policy as a JWS signed by the collector key."""
    content = agent_policy(conn, agent_row)
    doc = {"format": POLICY_FORMAT, "version": int(content["version"]),
           "issued_at": format_time(now), "agent_id": agent_row.id,
           "schedules": content.get("schedules", {}), "checks": content.get("checks", {}),
           "monitoring_level": content.get("monitoring_level", "normal")}
    return _sign(doc, key, POLICY_TYP)


def create_command(conn: sa.Connection, agent_id: str, checks: list[str], *, now: datetime,
                   created_by: str | None, ttl: timedelta = COMMAND_TTL) -> str:
    """Queue a ``run_now`` command for ``agent_id``; return its id."""
    cid = str(uuid.uuid4())
    conn.execute(agent_commands.insert().values(
        id=cid, agent_id=agent_id, kind="run_now", args={"checks": list(checks)},
        created_at=now, created_by=created_by, expires_at=now + ttl))
    return cid


def pending_commands(conn: sa.Connection, agent_id: str, key: Ed25519PrivateKey,
                     now: datetime) -> list[str]:
    """Signed, unexpired, not yet done commands for ``agent_id`` (marks them delivered)."""
    return pending_commands_many(conn, [agent_id], key, now)[agent_id]


def pending_commands_many(conn: sa.Connection, agent_ids: list[str], key: Ed25519PrivateKey,
                          now: datetime) -> dict[str, list[str]]:
    """:func:`pending_commands` for several agents with one query."""
    out: dict[str, list[str]] = {a: [] for a in agent_ids}
    rows: dict[str, list[Any]] = {}
    for r in conn.execute(_pending_query(), {"ids": list(agent_ids), "now": now,
                                                "cap": MAX_COMMANDS}):
        rows.setdefault(r.agent_id, []).append(r)
    if not rows:
        return out
    for agent_id, rs in rows.items():  # signed before marked: a failure marks nothing
        out[agent_id] = [_sign({
            "format": COMMAND_FORMAT, "id": r.id, "agent_id": agent_id, "kind": r.kind,
            "checks": list((r.args or {}).get("checks", [])),
            "issued_at": format_time(r.created_at), "expires_at": format_time(r.expires_at),
        }, key, COMMAND_TYP) for r in rs]
    # bookkeeping only (a command is handed out until done or expired): rows another
    # transaction holds (a report marking it done) are skipped, never waited for, so two
    # workers answering each other's agents cannot deadlock (SQLite: one writer anyway)
    unmarked = sa.select(agent_commands.c.id).where(
        agent_commands.c.id.in_([r.id for rs in rows.values() for r in rs]),
        agent_commands.c.delivered_at.is_(None)).with_for_update(skip_locked=True)
    conn.execute(agent_commands.update().where(agent_commands.c.id.in_(unmarked))
                 .values(delivered_at=now))
    return out


def mark_done(conn: sa.Connection, agent_id: str, command_ids: Iterable[Any],
              now: datetime) -> None:
    """A report said it executed these commands."""
    ids = [c for c in command_ids if isinstance(c, str)][:MAX_COMMANDS]
    if ids:
        conn.execute(agent_commands.update()
                     .where(agent_commands.c.agent_id == agent_id,
                            agent_commands.c.id.in_(ids), agent_commands.c.done_at.is_(None))
                     .values(done_at=now))


def response_extras_many(conn: sa.Connection, key: Ed25519PrivateKey,
                         deliveries: list[Iterable[str | None]],
                         now: datetime) -> list[dict[str, Any]]:
    """``policy_version`` and ``commands`` for each delivery's answer (only a delivery with
    one known sender gets them), for several deliveries at once, in the caller's
    transaction."""
    senders = []
    for agent_ids in deliveries:
        distinct = {a for a in agent_ids if a}
        senders.append(distinct.pop() if len(distinct) == 1 else None)
    wanted = sorted({a for a in senders if a})
    if not wanted:
        return [{"commands": []} for _ in deliveries]
    rows = {r.id: r for r in conn.execute(_sender_query(), {"ids": wanted})
            if r.status == "active"}
    # = agent_policy(...)["version"], without merging the content it is not asked for
    base = loader.current(conn).version << PROFILE_BITS if rows else 0
    commands = pending_commands_many(conn, sorted(rows), key, now)
    return [{"policy_version": base + (rows[a].revision or 0), "commands": commands[a]}
            if a in rows else {"commands": []} for a in senders]


@cache
def _sender_query() -> sa.Select:
    # built once: every delivery answer asks it
    return (sa.select(agents.c.id, agents.c.status, host_profiles.c.revision)
            .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
            .where(agents.c.id.in_(sa.bindparam("ids", expanding=True))))


@cache
def _pending_query() -> sa.Select:
    # the oldest MAX_COMMANDS of each agent: one agent's backlog never hides another's
    c = agent_commands.c
    ranked = (sa.select(agent_commands, sa.func.row_number().over(
        partition_by=c.agent_id, order_by=(c.created_at, c.id)).label("n"))
        .where(c.agent_id.in_(sa.bindparam("ids", expanding=True)), c.done_at.is_(None),
               c.expires_at > sa.bindparam("now", type_=UTCDateTime)).subquery())
    return (sa.select(*[ranked.c[col.name] for col in agent_commands.columns])
            .where(ranked.c.n <= sa.bindparam("cap", type_=sa.Integer))
            .order_by(ranked.c.agent_id, ranked.c.n))
