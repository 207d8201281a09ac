"""JWS (EdDSA only, exact bytes) and key storage."""

from __future__ import annotations

import json
import os

import pytest
from hostpatrol.shared import jws
from hostpatrol.shared.errors import BadSignature, KeyFileError, MalformedJWS, UnsupportedAlgorithm
from hostpatrol.shared.keys import (
    b64url,
    b64url_decode,
    generate,
    key_id,
    load_private_key,
    public_jwk,
    save_private_key,
)


def test_sign_verify_round_trip_and_header() -> None:
    key = generate()
    token = jws.sign(b'{"a":1}', key, kid="k1", typ="t")
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "EdDSA", "kid": "k1", "typ": "t"}
    assert jws.verify(jws.parse(token), key.public_key()) == b'{"a":1}'


def test_signature_covers_exact_bytes() -> None:
    key = generate()
    h, p, s = jws.sign(b'{"a":1}', key).split(".")
    tampered = ".".join([h, b64url(b'{"a":2}'), s])
    with pytest.raises(BadSignature):
        jws.verify(jws.parse(tampered), key.public_key())


def test_other_key_fails() -> None:
    token = jws.sign(b"x", generate())
    with pytest.raises(BadSignature):
        jws.verify(jws.parse(token), generate().public_key())


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES256", None])
def test_only_eddsa_is_accepted(alg: str | None) -> None:
    header = b64url(json.dumps({"alg": alg} if alg else {}).encode())
    token = f"{header}.{b64url(b'{}')}.{b64url(bytes(64))}"
    with pytest.raises(UnsupportedAlgorithm, match="only EdDSA"):
        jws.parse(token)


SIG = b64url(bytes(64))
EDDSA = b64url(b'{"alg":"EdDSA"}')


@pytest.mark.parametrize("token", [
    "", "a.b", "a.b.c.d", "!!!.e30.AA",
    ".".join([b64url(b"[1]"), "e30", SIG]),
    ".".join([b64url(b'{"alg":"EdDSA","alg":"EdDSA"}'), "e30", SIG]),
    ".".join([b64url(b'{"alg":"EdDSA","crit":["b64"]}'), "e30", SIG]),
    ".".join([EDDSA, "e30", b64url(bytes(10))]),
    ".".join([EDDSA, "e30", SIG + "="]),
])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(MalformedJWS):
        jws.parse(token)


def test_non_ascii_token_is_malformed() -> None:
    with pytest.raises(MalformedJWS, match="ASCII"):
        jws.parse("é.e30.AA".encode())


def test_strict_json_rejects_duplicates_nan_and_deep_nesting() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        jws.loads_strict('{"a":1,"a":2}')
    with pytest.raises(ValueError, match="NaN"):
        jws.loads_strict('{"a":NaN}')
    with pytest.raises(ValueError, match="deep"):
        jws.loads_strict("[" * 100000 + "]" * 100000)


def test_key_id_is_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    from hostpatrol.shared.keys import public_from_b64

    pub = public_from_b64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    assert public_jwk(pub)["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert key_id(pub) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_private_key_file_is_0600_and_reloads(tmp_path) -> None:
    key = generate()
    path = tmp_path / "sub" / "agent.key"
    save_private_key(path, key)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert key_id(load_private_key(path).public_key()) == key_id(key.public_key())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_open_key_file_is_refused(tmp_path, mode: int) -> None:
    path = tmp_path / "agent.key"
    save_private_key(path, generate())
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(path)


def test_missing_and_garbage_key_files(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        load_private_key(tmp_path / "nope.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    os.chmod(bad, 0o600)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(bad)
