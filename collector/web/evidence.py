"""Re-verify stored evidence: the JWS as received against the key that signed it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from hostpatrol.shared import jws
from hostpatrol.shared.errors import SharedError
from hostpatrol.shared.keys import public_from_b64, public_jwk

from ..store.dictionaries import EVIDENCE_COLUMNS, Codecs, evidence_text
from ..store.packing import PackError
from ..store.schema import agent_keys, agents, reports


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    """What re-verifying one stored report found."""

    ok: bool
    kid: str | None
    sha256: str
    sha256_matches: bool | None  # None: packed evidence keeps no hash of its own
    message: str


def signing_keys(conn: sa.Connection, agent_id: str) -> dict[str, str]:
    """Every key the agent has used, kid → base64url public key (current one included)."""
    keys = {row.kid: row.public_key for row in conn.execute(
        sa.select(agent_keys.c.kid, agent_keys.c.public_key)
        .where(agent_keys.c.agent_id == agent_id))}
    current = conn.execute(sa.select(agents.c.kid, agents.c.public_key)
                           .where(agents.c.id == agent_id)).first()
    if current is not None:
        keys[current.kid] = current.public_key
    return keys


def public_jwks(conn: sa.Connection, agent_id: str) -> dict[str, list[dict[str, str]]]:
    """The agent's public keys as a JWK Set (for any JOSE tool)."""
    return {"keys": [{**public_jwk(public_from_b64(pub)), "kid": kid, "alg": "EdDSA",
                      "use": "sig"}
                     for kid, pub in sorted(signing_keys(conn, agent_id).items())]}


def verify_stored(conn: sa.Connection, agent_id: str, report_id: str) -> EvidenceCheck | None:
    """Verify one stored report again; None when there is no such report.

    Rows stored before migration 0015 carry the SHA-256 taken on receipt (packed since or
    not), checked here (``sha256_matches``); rows packed on receipt carry none (None):
    zstd's checksum guards their body, and the signature the bytes."""
    row = conn.execute(sa.select(reports.c.sha256, *EVIDENCE_COLUMNS).where(
        reports.c.agent_id == agent_id, reports.c.report_id == report_id)).first()
    if row is None:
        return None
    try:
        text = evidence_text(Codecs(conn), row)
    except PackError as e:
        return EvidenceCheck(False, None, "", None, f"the stored evidence cannot be read: {e}")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    matches = None if row.sha256 is None else digest == row.sha256
    try:
        unverified = jws.parse(text)
    except SharedError as e:
        return EvidenceCheck(False, None, digest, matches, f"not a valid JWS: {e}")
    pub = signing_keys(conn, agent_id).get(unverified.kid or "")
    if pub is None:
        return EvidenceCheck(False, unverified.kid, digest, matches,
                             "signed by a key this agent never had")
    try:
        jws.verify(unverified, public_from_b64(pub))
    except SharedError as e:
        return EvidenceCheck(False, unverified.kid, digest, matches,
                             f"signature does not verify: {e}")
    if matches is False:
        return EvidenceCheck(False, unverified.kid, digest, matches,
                             "signature verifies but the stored SHA-256 differs")
    return EvidenceCheck(True, unverified.kid, digest, matches, "signature verifies")
