"""JWS compact serialization with EdDSA (Ed25519) only: RFC 7515 and RFC 8037.

Verification works on the exact bytes that were signed; parsing the payload happens
only after the signature checked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .errors import BadSignature, MalformedJWS, UnsupportedAlgorithm
from .keys import b64url, b64url_decode
from .strictjson import dumps_compact, loads_strict

__all__ = ["ALG", "Unverified", "dumps_compact", "loads_strict", "parse", "peek_kid", "sign",
           "verify", "verify_json"]

ALG = "EdDSA"
ALLOWED_HEADER_KEYS = frozenset({"alg", "kid", "typ", "jwk"})
MAX_HEADER_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Unverified:
    """A structurally valid JWS whose signature has not been checked yet."""

    header: dict[str, Any]
    signing_input: bytes
    payload_b64: str
    signature: bytes

    @property
    def kid(self) -> str | None:
        """The key id named by the header, if any."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def sign(payload: bytes, key: Ed25519PrivateKey, *, kid: str | None = None,
         typ: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """Sign ``payload`` bytes and return the compact serialization."""
    header: dict[str, Any] = {"alg": ALG}
    if kid is not None:
        header["kid"] = kid
    if typ is not None:
        header["typ"] = typ
    if extra:
        header.update(extra)
    signing_input = f"{b64url(dumps_compact(header))}.{b64url(payload)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(key.sign(signing_input))}"


def parse(token: str | bytes) -> Unverified:
    """Check a compact JWS's structure and header; the signature is not verified."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as e:
            msg = "JWS is not ASCII"
            raise MalformedJWS(msg) from e
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        msg = f"JWS compact serialization has 3 parts, got {len(parts)}"
        raise MalformedJWS(msg)
    header_b64, payload_b64, sig_b64 = parts
    if len(header_b64) > MAX_HEADER_BYTES:
        msg = "JWS header too large"
        raise MalformedJWS(msg)
    try:
        header = loads_strict(b64url_decode(header_b64))
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"JWS header is not base64url JSON: {e}"
        raise MalformedJWS(msg) from e
    if not isinstance(header, dict):
        msg = "JWS header is not a JSON object"
        raise MalformedJWS(msg)
    alg = header.get("alg")
    if alg != ALG:
        msg = f"unsupported JWS alg {alg!r}: only {ALG} (Ed25519) is accepted"
        raise UnsupportedAlgorithm(msg)
    unknown = set(header) - ALLOWED_HEADER_KEYS
    if unknown:
        msg = f"JWS header has unsupported parameters: {', '.join(sorted(unknown))}"
        raise MalformedJWS(msg)
    try:
        signature = b64url_decode(sig_b64)
    except ValueError as e:
        msg = f"JWS signature is not base64url: {e}"
        raise MalformedJWS(msg) from e
    if len(signature) != 64:
        msg = f"Ed25519 signature must be 64 bytes, got {len(signature)}"
        raise MalformedJWS(msg)
    return Unverified(
        header=header,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        payload_b64=payload_b64,
        signature=signature,
    )


def peek_kid(token: str | bytes) -> str | None:
    """The ``kid`` a token's header names, or None; nothing is checked (use :func:`parse`)."""
    try:
        if isinstance(token, bytes):
            token = token.decode("ascii")
        header_b64 = token.strip().split(".", 1)[0]
        if len(header_b64) > MAX_HEADER_BYTES:
            return None
        header = loads_strict(b64url_decode(header_b64))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def verify(unverified: Unverified, key: Ed25519PublicKey) -> bytes:
    """Verify the signature over the exact signed bytes; return the payload bytes."""
    try:
        key.verify(unverified.signature, unverified.signing_input)
    except InvalidSignature as e:
        msg = f"signature does not verify (kid {unverified.kid!r})"
        raise BadSignature(msg) from e
    try:
        return b64url_decode(unverified.payload_b64)
    except ValueError as e:
        msg = f"JWS payload is not base64url: {e}"
        raise MalformedJWS(msg) from e


def verify_json(token: str | bytes, key: Ed25519PublicKey) -> Any:
    """Parse, verify with ``key`` and decode the JSON payload in one call."""
    payload = verify(parse(token), key)
    try:
        return loads_strict(payload)
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"JWS payload is not JSON: {e}"
        raise MalformedJWS(msg) from e
