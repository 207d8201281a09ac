"""rotation: an agent replaces its key (``POST /api/v1/agents/rotate``).

The announcement is a JWS signed by the agent's current key carrying ``{"format":
"hostpatrol.rotate/1", "agent_id", "new_key": JWK, "new_kid", "proof", "iat"}``; the
proof is a JWS signed by the new key (``hostpatrol.rotate-proof/1`` naming the old kid).
The old key moves to ``agent_keys`` with ``retired_at``; the new one becomes active. The
same announcement sent again after success answers the same (the agent may have crashed
before it saved its new key).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared import jws
from hostpatrol.shared.errors import JWSError, KeyFileError, SchemaError
from hostpatrol.shared.keys import key_id, public_from_b64
from hostpatrol.shared.report import parse_time

from ..errors import ApiError
from ..store import agents as agent_store
from ..store.schema import agent_keys, agents

log = logging.getLogger("hostpatrol.collector.rotation")
FORMAT = "hostpatrol.rotate/1"
PROOF_FORMAT = "hostpatrol.rotate-proof/1"


def _bad(message: str, status: int = 400) -> ApiError:
    return ApiError(message, status=status, reason="rotate")


def _signer(conn: sa.Connection, kid: str) -> tuple[Any, Any]:
    """(agent row, retired key row or None) for the announcement's kid."""
    agent = agent_store.by_kid(conn, kid)
    if agent is not None:
        return agent, None
    retired = conn.execute(sa.select(agent_keys).where(agent_keys.c.kid == kid)).first()
    if retired is None:
        msg = f"unknown agent key {kid[:64]!r}"
        raise _bad(msg, 401)
    return agent_store.get(conn, retired.agent_id), retired


def _decode(token: str, key_b64: str, what: str) -> dict[str, Any]:
    try:
        doc = jws.loads_strict(jws.verify(jws.parse(token), public_from_b64(key_b64)))
    except (JWSError, KeyFileError, ValueError, UnicodeDecodeError) as e:
        msg = f"{what} does not verify: {e}"
        raise _bad(msg, 401) from e
    if not isinstance(doc, dict):
        msg = f"{what} is not a JSON object"
        raise _bad(msg)
    return doc


def rotate_key(conn: sa.Connection, token: str, *, now: datetime,
               skew: timedelta) -> dict[str, Any]:
    """Verify an announcement and switch keys; return the JSON answer."""
    try:
        kid = jws.parse(token).kid or ""
    except JWSError as e:
        msg = f"malformed announcement: {e}"
        raise _bad(msg) from e
    agent, retired = _signer(conn, kid)
    doc = _decode(token, retired.public_key if retired else agent.public_key, "announcement")
    if agent.status != "active":
        msg = f"agent {agent.id} is {agent.status}"
        raise _bad(msg, 403)
    if doc.get("format") != FORMAT or doc.get("agent_id") != agent.id:
        msg = f"announcement must be {FORMAT} for agent {agent.id}"
        raise _bad(msg, 403)
    try:
        iat = parse_time(doc.get("iat"), "iat")
    except SchemaError as e:
        raise _bad(str(e)) from e
    if abs(now - iat) > skew:
        msg = "announcement iat is outside the allowed clock skew"
        raise _bad(msg, 401)
    new = doc.get("new_key") or {}
    new_x = new.get("x") if isinstance(new, dict) else None
    try:
        new_kid = key_id(public_from_b64(str(new_x)))
    except KeyFileError as e:
        msg = f"new_key is not an Ed25519 JWK: {e}"
        raise _bad(msg) from e
    if doc.get("new_kid") != new_kid:
        msg = "new_kid is not the thumbprint of new_key"
        raise _bad(msg)
    proof = _decode(str(doc.get("proof", "")), new_x, "proof of possession of the new key")
    if proof.get("format") != PROOF_FORMAT or proof.get("agent_id") != agent.id or \
            proof.get("old_kid") != kid:
        msg = f"proof must be {PROOF_FORMAT} naming this agent and its current key"
        raise _bad(msg)
    answer = {"ok": True, "agent_id": agent.id, "kid": new_kid}
    if retired is not None:
        if agent.kid == new_kid:
            return {**answer, "status": "already rotated"}
        msg = "announcement signed by a retired key"
        raise _bad(msg, 401)
    if agent_store.kid_used(conn, new_kid) is not None:
        msg = "the new key was used before; generate a fresh one"
        raise _bad(msg, 409)
    conn.execute(agent_keys.insert().values(
        agent_id=agent.id, kid=agent.kid, public_key=agent.public_key,
        created_at=agent.approved_at or agent.enrolled_at, retired_at=now))
    changed = conn.execute(agents.update().where(agents.c.id == agent.id,
                                                 agents.c.kid == agent.kid)
                           .values(kid=new_kid, public_key=new_x)).rowcount
    if changed != 1:
        msg = "the key changed concurrently; retry"
        raise _bad(msg, 409)
    log.info("agent key rotated agent=%s old_kid=%s new_kid=%s", agent.id, kid, new_kid)
    return {**answer, "status": "rotated"}
