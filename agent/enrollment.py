"""Enrolling this host: make a key here, prove possession, pin the collector."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import (
    generate,
    public_from_b64,
    public_jwk,
    save_private_key,
)
from hostpatrol.shared.report import format_time

from .client import Client
from .runner import host_identity
from .state import Enrollment, State

ENROLL_FORMAT = "hostpatrol.enroll/1"


def make_proof(key: Ed25519PrivateKey, token: str, now: datetime | None = None) -> str:
    """A JWS signed by the new key, carrying it as ``jwk``, bound to ``token``, made ``now``."""
    ident = host_identity()
    claims = {
        "format": ENROLL_FORMAT,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "created_at": format_time(now or utcnow()),
        **{k: ident[k] for k in ("hostname", "machine_id", "agent_version", "os") if k in ident},
    }
    return jws.sign(jws.dumps_compact(claims), key, typ="hostpatrol.enroll+jws",
                    extra={"jwk": public_jwk(key.public_key())})


def enroll(state: State, server: str, token: str, fingerprint: str,
           timeout: float = 20.0) -> Enrollment:
    """Generate the key, register it, and record the enrollment."""
    state.ensure()
    client = Client(server, fingerprint, timeout=timeout)
    key = generate()
    answer = client.enroll(token, make_proof(key, token))
    collector_key = answer["collector_key"]["x"]
    public_from_b64(collector_key)  # refuse a malformed key now, not at first policy
    save_private_key(state.key_path, key)
    enrollment = Enrollment(server=client.server, fingerprint=f"sha256:{client.fingerprint}",
                            agent_id=answer["agent_id"], status=answer["status"],
                            collector_key=collector_key)
    state.save_enrollment(enrollment)
    return enrollment
