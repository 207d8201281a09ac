"""Verify a signed report before anything is parsed or stored.

Order matters: size, structure and algorithm; key lookup by ``kid``; the signature over
the exact received bytes; then the agent's state; then JSON, schema, identity and time.
Every refusal is a :class:`Rejected` with a status code and a counted reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from hostpatrol.shared import jws
from hostpatrol.shared.errors import (
    BadSignature,
    KeyFileError,
    MalformedJWS,
    SchemaError,
    UnsupportedAlgorithm,
)
from hostpatrol.shared.keys import public_from_b64
from hostpatrol.shared.report import MAX_RESULT_LEAD, Report, validate_report
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from ..errors import Rejected
from ..store import agents as agent_store
from ..store import resultdata


@dataclass(frozen=True, slots=True)
class Verified:
    """A report whose signature, sender and schema all checked out."""

    report: Report
    jws: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Limits:
    """Ingest limits from the collector config."""

    max_report_bytes: int
    clock_skew: timedelta
    replay_horizon: timedelta

    def latest_result(self, now: datetime) -> datetime:
        """The latest a result accepted at ``now`` can be dated (a report may be ahead by
        the clock skew, its results by their lead over it)."""
        return now + self.clock_skew + MAX_RESULT_LEAD

    @classmethod
    def from_config(cls, ingest: dict[str, int]) -> Limits:
        """Build from the ``ingest`` config section."""
        return cls(
            max_report_bytes=ingest["max_report_bytes"],
            clock_skew=timedelta(seconds=ingest["clock_skew_seconds"]),
            replay_horizon=timedelta(days=ingest["replay_horizon_days"]),
        )


def warm_up() -> None:
    """Compile the data schemas now rather than on the first report."""
    resultdata.validators()


def validate_data(report: Report) -> None:
    """Check each result's ``data`` against its check's schema, whatever its status."""
    for i, result in enumerate(report.results):
        problem = resultdata.data_problem(result.check, result.status, result.data)
        if problem is not None:
            msg = f"results[{i}].{problem[0]}: {problem[1]}"
            raise Rejected(msg, status=422, reason="schema")


SODIUM_MAX_BYTES = 32 * 1024


class _AgentKey:
    """An agent's Ed25519 public key, verified by libsodium up to ``SODIUM_MAX_BYTES``.

    On this project's benchmark VM libsodium verifies a 4 KB report in 66 µs against
    OpenSSL's 133 (heartbeats are most of what a fleet sends); above 32 KB OpenSSL's
    SHA-512 is the faster, so large reports go to it. Both refuse every invalid signature;
    libsodium is the stricter about non-canonical encodings.
    """

    __slots__ = ("openssl", "raw")

    def __init__(self, text: str) -> None:
        self.openssl = public_from_b64(text)  # KeyFileError for a malformed stored key
        self.raw = self.openssl.public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise InvalidSignature unless ``signature`` is this key's over ``data``."""
        if len(data) > SODIUM_MAX_BYTES:
            self.openssl.verify(signature, data)
            return
        try:
            crypto_sign_open(signature + data, self.raw)
        except (BadSignatureError, ValueError) as e:
            raise InvalidSignature from e


@lru_cache(maxsize=8192)
def _public_key(text: str) -> Any:
    """The key object for an agent's stored public key (parsing it costs as much as a
    verification; the text is the key, so caching by it is safe)."""
    return _AgentKey(text)


def senders_by_kid(conn: sa.Connection, tokens: list[str | bytes]) -> dict[str, Any]:
    """The agents whose key ids the tokens' headers name, read in one query.

    Only a lookup: a token whose header cannot be read is left to :func:`verify_report`
    to refuse with the precise reason.
    """
    kids = set()
    for token in tokens:
        kid = jws.peek_kid(token)
        if kid:
            kids.add(kid)
    return agent_store.by_kids(conn, sorted(kids)) if kids else {}


def verify_report(conn: sa.Connection, token: str | bytes, *, now: datetime,
                  limits: Limits, known: dict[str, Any] | None = None) -> Verified:
    """Verify one JWS report against the sending agent's key; raise Rejected.

    ``known`` holds agents already read by key id (:func:`senders_by_kid`); a key id not
    in it is looked up.
    """
    if len(token) > limits.max_report_bytes:
        msg = f"report is {len(token)} bytes; the limit is {limits.max_report_bytes}"
        raise Rejected(msg, status=413, reason="too_large")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as e:
            msg = "report is not a JWS compact serialization (non-ASCII bytes)"
            raise Rejected(msg, status=400, reason="malformed") from e
    token = token.strip()
    try:
        unverified = jws.parse(token)
    except UnsupportedAlgorithm as e:
        raise Rejected(str(e), status=400, reason="bad_alg") from e
    except MalformedJWS as e:
        msg = f"malformed JWS: {e}"
        raise Rejected(msg, status=400, reason="malformed") from e
    kid = unverified.kid
    if not kid:
        msg = "JWS header has no kid: cannot tell which agent signed it"
        raise Rejected(msg, status=400, reason="malformed")
    agent = known.get(kid) if known is not None and kid in known else \
        agent_store.by_kid(conn, kid)
    if agent is None:
        msg = f"unknown agent key {kid[:64]!r}: enroll the agent first"
        raise Rejected(msg, status=401, reason="unknown_agent")
    try:
        payload = jws.verify(unverified, _public_key(agent.public_key))
    except (BadSignature, KeyFileError) as e:
        msg = f"signature does not verify with the key of agent {agent.id}"
        raise Rejected(msg, status=401, reason="bad_signature") from e
    except MalformedJWS as e:
        msg = f"malformed JWS: {e}"
        raise Rejected(msg, status=400, reason="malformed") from e
    if agent.status == "revoked":
        msg = f"agent {agent.id} is revoked"
        raise Rejected(msg, status=403, reason="revoked")
    if agent.status != "active":
        msg = f"agent {agent.id} is pending approval (hostpatrol-collector agents approve)"
        raise Rejected(msg, status=403, reason="pending")
    return Verified(report=_parse(payload, agent, now, limits), jws=token,
                    sha256=hashlib.sha256(token.encode("ascii")).hexdigest())


def _timed(error: Rejected, report: Report) -> Rejected:
    """A refusal for time from a verified sender: say who and when (for the clock finding)."""
    error.agent_id, error.created_at = report.agent_id, report.created_at
    return error


def _parse(payload: bytes, agent: Any, now: datetime, limits: Limits) -> Report:
    try:
        doc = jws.loads_strict(payload)
    except SchemaError as e:  # a value beyond the wire's limits, named by its path
        msg = f"report schema: {e}"
        raise Rejected(msg, status=422, reason="schema") from e
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"report payload is not JSON: {str(e)[:200]}"
        raise Rejected(msg, status=400, reason="malformed") from e
    try:
        report = validate_report(doc)
    except SchemaError as e:
        msg = f"report schema: {e}"
        raise Rejected(msg, status=422, reason="schema") from e
    if report.agent_id != agent.id:
        msg = f"report claims agent {report.agent_id} but is signed by agent {agent.id}"
        raise Rejected(msg, status=403, reason="agent_mismatch")
    if report.created_at > now + limits.clock_skew:
        msg = (f"report created_at {report.created_at.isoformat()} is in the future "
               f"(collector time {now.isoformat()}, allowed skew {limits.clock_skew})")
        raise _timed(Rejected(msg, status=422, reason="future"), report)
    if report.created_at < now - limits.replay_horizon:
        msg = (f"report created_at {report.created_at.isoformat()} is older than the replay "
               f"horizon ({limits.replay_horizon.days} days)")
        raise _timed(Rejected(msg, status=422, reason="too_old"), report)
    validate_data(report)
    return report
