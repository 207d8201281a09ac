"""Enrollment: an agent proves possession of a fresh key and spends a token.

The agent sends ``{"token": T, "proof": JWS}``; the proof is signed by the new key,
carries that key as ``jwk`` in its header, and its payload names the token's SHA-256,
the host and the time. The collector answers with the agent id, its state and the
collector's own public key, which the agent pins for policies and commands.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared import jws
from hostpatrol.shared.errors import JWSError, KeyFileError
from hostpatrol.shared.keys import key_id, public_b64, public_from_b64

from ..errors import Rejected
from ..metrics import ENROLLMENTS
from ..store import agents as agent_store

ENROLL_FORMAT = "hostpatrol.enroll/1"
MAX_PROOF_AGE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The answer to a successful enrollment."""

    agent_id: str
    status: str
    kid: str


def _reject(message: str, status: int, reason: str) -> Rejected:
    ENROLLMENTS.labels(outcome=reason).inc()
    return Rejected(message, status=status, reason=reason)


def _proof(body: Any, now: datetime) -> tuple[str, Any, dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("token"), str) \
            or not isinstance(body.get("proof"), str):
        msg = 'enrollment body must be {"token": "...", "proof": "<JWS>"}'
        raise _reject(msg, 400, "malformed")
    token, proof = body["token"], body["proof"]
    try:
        unverified = jws.parse(proof)
        jwk = unverified.header.get("jwk")
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            msg = "proof header must carry the new key as an Ed25519 jwk"
            raise _reject(msg, 400, "malformed")
        public = public_from_b64(jwk.get("x", ""))
        claims = jws.loads_strict(jws.verify(unverified, public))
    except (JWSError, KeyFileError, ValueError) as e:
        msg = f"proof of possession does not verify: {e}"
        raise _reject(msg, 400, "bad_proof") from e
    if not isinstance(claims, dict) or claims.get("format") != ENROLL_FORMAT:
        msg = f"proof payload must be a {ENROLL_FORMAT} document"
        raise _reject(msg, 400, "bad_proof")
    if claims.get("token_sha256") != hashlib.sha256(token.encode()).hexdigest():
        msg = "proof was made for another token"
        raise _reject(msg, 400, "bad_proof")
    try:
        created = datetime.fromisoformat(str(claims.get("created_at")))
    except ValueError as e:
        msg = "proof created_at is not a timestamp"
        raise _reject(msg, 400, "bad_proof") from e
    if created.tzinfo is None or abs(now - created) > MAX_PROOF_AGE:
        msg = "proof is too old or from the future: check the host clock"
        raise _reject(msg, 400, "bad_proof")
    return token, public, claims


def _short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return "".join(c for c in value if c.isprintable())[:limit] or None


def enroll(conn: sa.Connection, body: Any, now: datetime, ip: str | None = None) -> Enrolled:
    """Register a new agent key against a token, in the caller's transaction (``ip``: the
    address it came from, shown to the admin who approves it)."""
    token, public, claims = _proof(body, now)
    row = agent_store.find_token(conn, token)
    if row is None:
        msg = "enrollment token is not valid"
        raise _reject(msg, 401, "bad_token")
    if row.expires_at <= now:
        msg = "enrollment token has expired"
        raise _reject(msg, 401, "token_expired")
    if row.uses >= row.max_uses:
        msg = "enrollment token has no uses left"
        raise _reject(msg, 401, "token_used_up")
    kid = key_id(public)
    used = agent_store.kid_used(conn, kid)
    if used == "current":
        msg = "this key is already enrolled"
        raise _reject(msg, 409, "key_exists")
    if used == "retired":  # rotated away: it may be the one that leaked
        msg = "this key was retired by a key rotation; enroll with a fresh key"
        raise _reject(msg, 409, "key_exists")
    if not agent_store.consume_token(conn, row.id, now):
        msg = "enrollment token has no uses left"
        raise _reject(msg, 401, "token_used_up")
    agent_id = str(uuid.uuid4())
    status = "active" if row.auto_approve else "pending"
    agent_store.create_agent(
        conn, id=agent_id, kid=kid, public_key=public_b64(public), status=status,
        hostname=_short(claims.get("hostname"), 255) or "unknown",
        machine_id=_short(claims.get("machine_id"), 128), group_name=row.group_name,
        token_id=row.id, agent_version=_short(claims.get("agent_version"), 64),
        os_name=_short(claims.get("os"), 255), enrolled_at=now,
        approved_at=now if status == "active" else None, enroll_ip=_short(ip, 64),
    )
    ENROLLMENTS.labels(outcome="accepted").inc()
    return Enrolled(agent_id=agent_id, status=status, kid=kid)
