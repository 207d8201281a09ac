"""Agents and enrollment tokens in the store."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from . import hostfacts
from .schema import agent_keys, agents, enroll_tokens

STATUSES = ("pending", "active", "revoked")


def token_hash(token: str) -> str:
    """SHA-256 hex of an enrollment token; only the hash is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(conn: sa.Connection, token: str, *, now: datetime, expires_at: datetime,
                 max_uses: int, group: str | None, auto_approve: bool) -> int:
    """Store a new enrollment token (hashed); return its id."""
    return conn.execute(enroll_tokens.insert().values(
        token_hash=token_hash(token), created_at=now, expires_at=expires_at,
        max_uses=max_uses, uses=0, group_name=group, auto_approve=auto_approve,
    ).returning(enroll_tokens.c.id)).scalar_one()


def find_token(conn: sa.Connection, token: str) -> sa.Row | None:
    """The token's row, or None."""
    return conn.execute(
        sa.select(enroll_tokens).where(enroll_tokens.c.token_hash == token_hash(token))
    ).first()


def consume_token(conn: sa.Connection, token_id: int, now: datetime) -> bool:
    """Atomically take one use of a token that is unexpired and has uses left."""
    res = conn.execute(
        enroll_tokens.update()
        .where(enroll_tokens.c.id == token_id, enroll_tokens.c.uses < enroll_tokens.c.max_uses,
               enroll_tokens.c.expires_at > now)
        .values(uses=enroll_tokens.c.uses + 1)
    )
    return res.rowcount == 1


def create_agent(conn: sa.Connection, **values: Any) -> None:
    """Insert an agent row."""
    conn.execute(agents.insert().values(**values))


@cache
def _by_kid_query() -> sa.Select:
    return sa.select(agents).where(agents.c.kid == sa.bindparam("kid"))  # once: hot path


def by_kid(conn: sa.Connection, kid: str) -> sa.Row | None:
    """The agent owning key id ``kid``."""
    return conn.execute(_by_kid_query(), {"kid": kid}).first()


def kid_used(conn: sa.Connection, kid: str) -> str | None:
    """``"current"`` or ``"retired"`` when key id ``kid`` belongs or belonged to an agent
    (a key rotated away stays spent), None when it was never seen."""
    if by_kid(conn, kid) is not None:
        return "current"
    retired = conn.execute(sa.select(agent_keys.c.id).where(agent_keys.c.kid == kid)).first()
    return "retired" if retired is not None else None


@cache
def _by_kids_query() -> sa.Select:
    return sa.select(agents).where(agents.c.kid.in_(sa.bindparam("kids", expanding=True)))


def by_kids(conn: sa.Connection, kids: list[str]) -> dict[str, sa.Row]:
    """The agents owning these key ids, by key id (unknown ids are absent)."""
    if len(kids) == 1:
        row = by_kid(conn, kids[0])
        return {} if row is None else {row.kid: row}
    return {row.kid: row for row in conn.execute(_by_kids_query(), {"kids": kids})}


def get(conn: sa.Connection, agent_id: str) -> sa.Row | None:
    """One agent by id."""
    return conn.execute(sa.select(agents).where(agents.c.id == agent_id)).first()


def find(conn: sa.Connection, ref: str) -> sa.Row | None:
    """An agent by full id, unique id prefix (8+ chars) or exact hostname."""
    row = get(conn, ref)
    if row is not None:
        return row
    rows = conn.execute(sa.select(agents).where(
        sa.or_(agents.c.hostname == ref,
               agents.c.id.startswith(ref) if len(ref) >= 8 else sa.false())
    ).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def set_status(conn: sa.Connection, agent_id: str, status: str, now: datetime) -> bool:
    """Approve or revoke an agent; True when a row changed."""
    values: dict[str, Any] = {"status": status}
    if status == "active":
        values["approved_at"] = now
    elif status == "revoked":
        values["revoked_at"] = now
        hostfacts.forget(conn, agent_id)
    res = conn.execute(agents.update().where(agents.c.id == agent_id).values(**values))
    return res.rowcount == 1


def list_agents(conn: sa.Connection, *, limit: int = 100, offset: int = 0,
                search: str | None = None, status: str | None = None) -> list[sa.Row]:
    """Agents ordered by hostname, paginated."""
    q = sa.select(agents).order_by(agents.c.hostname, agents.c.id).limit(limit).offset(offset)
    if search:
        like = f"%{search.replace('%', '').replace('_', '')}%"
        q = q.where(sa.or_(agents.c.hostname.ilike(like), agents.c.id.ilike(like)))
    if status:
        q = q.where(agents.c.status == status)
    return list(conn.execute(q).all())


def count_agents(conn: sa.Connection) -> int:
    """How many agents are enrolled in any state."""
    return conn.execute(sa.select(sa.func.count()).select_from(agents)).scalar_one()
