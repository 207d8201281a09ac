"""Property-based tests: the JWS parser and the report validator never crash on any input."""

from __future__ import annotations

import json

from forge import report_doc
from hostpatrol.shared import jws
from hostpatrol.shared.errors import JWSError, SchemaError
from hostpatrol.shared.keys import b64url, generate
from hostpatrol.shared.report import validate_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEY = generate()
AGENT = "0b4f7e1c-5d2a-4d44-9a0e-3f0f2a8c1b11"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.binary(max_size=600) | st.text(max_size=600))
@settings(max_examples=400)
def test_parse_only_raises_jws_errors(token) -> None:
    try:
        jws.parse(token)
    except JWSError:
        pass


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.binary(max_size=200))
@settings(max_examples=300)
def test_arbitrary_headers_are_parsed_or_refused_cleanly(header, payload) -> None:
    token = ".".join([b64url(json.dumps(header).encode()), b64url(payload),
                      b64url(bytes(64))])
    try:
        parsed = jws.parse(token)
    except JWSError:
        return
    assert parsed.header["alg"] == "EdDSA"
    try:
        jws.verify(parsed, KEY.public_key())
    except JWSError:
        return
    raise AssertionError("a zero signature verified")


@given(st.binary(min_size=0, max_size=300))
@settings(max_examples=200)
def test_sign_verify_round_trip_any_payload(payload) -> None:
    token = jws.sign(payload, KEY, kid="k")
    assert jws.verify(jws.parse(token), KEY.public_key()) == payload


@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=7))
@settings(max_examples=200)
def test_any_single_bit_flip_breaks_the_signature(pos, bit) -> None:
    token = jws.sign(b'{"a":"' + b"x" * 100 + b'"}', KEY, kid="k").encode()
    i = pos % len(token)
    flipped = bytearray(token)
    flipped[i] ^= 1 << bit
    try:
        jws.verify(jws.parse(bytes(flipped)), KEY.public_key())
    except JWSError:
        return
    # Even a flip in base64 padding bits must be refused (canonical base64url only).
    raise AssertionError(f"flipping bit {bit} of byte {i} still verified")


@given(json_values)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_validator_only_raises_schema_errors(doc) -> None:
    try:
        validate_report(doc)
    except SchemaError:
        pass


@given(st.sampled_from(["format", "agent_id", "report_id", "seq", "created_at", "schedule",
                        "host", "meta", "results"]), json_values)
@settings(max_examples=300)
def test_replacing_any_field_is_validated_or_refused(field, value) -> None:
    doc = report_doc(AGENT)
    doc[field] = value
    try:
        report = validate_report(doc)
    except SchemaError as e:
        where = e.path.split(".")[0].split("[")[0]
    else:
        assert report.agent_id == doc["agent_id"]
        return
    assert where in (field, "")
