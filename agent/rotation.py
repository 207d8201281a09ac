"""rotation: replace the agent key — announced by the old key, proven by the new one.

The announcement (``hostpatrol.rotate/1``) is a JWS signed by the current key; inside it
the new public key and a proof (``hostpatrol.rotate-proof/1``) signed by the new key.
The new key waits in ``agent.key.new`` until the collector confirmed; an interrupted
rotation is finished by running ``rotate-key`` again (the collector answers the same
announcement idempotently). The spool must be empty first: its reports are signed by
the old key, which the collector retires.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate, key_id, load_private_key, public_jwk, save_private_key
from hostpatrol.shared.report import format_time

from .client import Client
from .state import State, StateError, fsync_dir

FORMAT = "hostpatrol.rotate/1"
PROOF_FORMAT = "hostpatrol.rotate-proof/1"


def announcement(old: Ed25519PrivateKey, new: Ed25519PrivateKey, agent_id: str) -> str:
    """The signed message that moves ``agent_id`` from ``old`` to ``new``."""
    now = format_time(utcnow())
    old_kid, new_kid = key_id(old.public_key()), key_id(new.public_key())
    proof = jws.sign(jws.dumps_compact({"format": PROOF_FORMAT, "agent_id": agent_id,
                                        "old_kid": old_kid, "iat": now}),
                     new, kid=new_kid, typ="hostpatrol.rotate-proof+jws",
                     extra={"jwk": public_jwk(new.public_key())})
    return jws.sign(jws.dumps_compact({"format": FORMAT, "agent_id": agent_id,
                                       "new_key": public_jwk(new.public_key()),
                                       "new_kid": new_kid, "proof": proof, "iat": now}),
                    old, kid=old_kid, typ="hostpatrol.rotate+jws")


def rotate(state: State, client: Client, agent_id: str, spool_pending: int) -> str:
    """Rotate the key; return the new key id. Call under the run lock."""
    if spool_pending:
        msg = (f"{spool_pending} report(s) signed by the current key wait in the spool; "
               f"deliver them first (run --once) and rotate again")
        raise StateError(msg)
    pending = state.key_path.with_name("agent.key.new")
    old = load_private_key(state.key_path)
    if pending.exists():
        new = load_private_key(pending)  # finish an interrupted rotation
    else:
        new = generate()
        save_private_key(pending, new)
    client.rotate(announcement(old, new, agent_id))
    os.replace(pending, state.key_path)
    fsync_dir(state.root)
    return key_id(new.public_key())
