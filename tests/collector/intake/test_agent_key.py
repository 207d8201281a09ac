"""Report signatures are checked by libsodium for small reports and OpenSSL for large
ones: both paths accept exactly the agent's own signatures."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from hostpatrol.collector.intake.trust import SODIUM_MAX_BYTES, _AgentKey
from hostpatrol.shared.keys import b64url, generate


def _text(key) -> str:
    return b64url(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw))


@pytest.mark.parametrize("size", [0, 4000, SODIUM_MAX_BYTES, SODIUM_MAX_BYTES + 1, 120_000])
def test_both_paths_accept_the_agents_signature_and_nothing_else(size: int) -> None:
    key, other = generate(), generate()
    agent = _AgentKey(_text(key))
    data = os.urandom(size)
    signature = key.sign(data)
    agent.verify(signature, data)  # no exception
    tampered = bytes([data[0] ^ 1]) + data[1:] if data else b"x"
    for sig, body in ((signature, tampered), (other.sign(data), data),
                      (signature[:63] + bytes([signature[63] ^ 0x40]), data),
                      (b"\0" * 64, data)):
        with pytest.raises(InvalidSignature):
            agent.verify(sig, body)
