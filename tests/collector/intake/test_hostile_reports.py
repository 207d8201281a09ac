"""Every way a report can be bad: each refused with the right status and text, none stored."""

from __future__ import annotations

import http.client
import json
import math
import ssl
import time
from datetime import timedelta

import pytest
from edges import edge_floats, edge_ints, edge_texts, edge_times, in_limits, put, wire_text
from forge import an_hour_ago, enroll_key, report_doc, sign
from harness import Collector
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import b64url, generate, key_id


@pytest.fixture(scope="module")
def enrolled(collector: Collector) -> dict:
    """Two active agents, one pending, one revoked."""
    token = collector.token("--uses", "3", "--auto-approve")
    a_id, a_key, answer = enroll_key(collector, token)
    b_id, b_key, _ = enroll_key(collector, token)
    r_id, r_key, _ = enroll_key(collector, token)
    collector.cli("agents", "revoke", r_id)
    p_id, p_key, p_answer = enroll_key(collector, collector.token())
    assert answer["status"] == "active"
    assert p_answer["status"] == "pending"
    return {"a": (a_id, a_key), "b": (b_id, b_key), "revoked": (r_id, r_key),
            "pending": (p_id, p_key)}


def _post_jose(collector: Collector, body: bytes | str):
    return collector.post("/api/v1/reports", body, "application/jose")


def _assert_refused(collector: Collector, body: bytes | str, status: int, text: str) -> None:
    before = collector.count("reports")
    resp = _post_jose(collector, body)
    assert resp.status_code == status, resp.text
    doc = resp.json()
    assert doc["ok"] is False
    assert doc["status"] == status
    assert text in doc["error"]
    assert collector.count("reports") == before
    assert collector.count("check_results") == collector.count(
        "check_results", "report_pk IN (SELECT id FROM reports)")


def test_valid_report_is_accepted_then_duplicate_stored_once(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    token = sign(report_doc(agent_id), key)
    first = _post_jose(collector, token)
    assert first.status_code == 201, first.text
    assert first.json()["result"] == "accepted"
    replay = _post_jose(collector, token)
    assert replay.status_code == 200
    assert replay.json()["result"] == "duplicate"
    report_id = json.loads(first.text)["report_id"]
    assert collector.count("reports", "report_id = ?", (report_id,)) == 1
    assert collector.stored_jws(agent_id).count(token) == 1  # byte for byte


def test_payload_byte_changed_after_signing(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    header, payload, sig = sign(report_doc(agent_id), key).split(".")
    doc = report_doc(agent_id)
    tampered_payload = b64url(json.dumps(doc).replace("forged-host", "forged-hosT").encode())
    _assert_refused(collector, f"{header}.{tampered_payload}.{sig}", 401,
                    "signature does not verify")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    _assert_refused(collector, f"{header}.{flipped}.{sig}", 401, "signature does not verify")


def test_signature_from_another_agents_key(collector, enrolled) -> None:
    a_id, a_key = enrolled["a"]
    _b_id, b_key = enrolled["b"]
    forged = sign(report_doc(a_id), b_key, kid=key_id(a_key.public_key()))
    _assert_refused(collector, forged, 401, "signature does not verify")


def test_report_claiming_another_agents_id(collector, enrolled) -> None:
    a_id, _ = enrolled["a"]
    _b_id, b_key = enrolled["b"]
    _assert_refused(collector, sign(report_doc(a_id), b_key), 403, f"claims agent {a_id}")


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "RS256"])
def test_algorithms_other_than_eddsa(collector, enrolled, alg: str) -> None:
    agent_id, key = enrolled["a"]
    _, payload, sig = sign(report_doc(agent_id), key).split(".")
    header = b64url(json.dumps({"alg": alg, "kid": key_id(key.public_key())}).encode())
    body = f"{header}.{payload}." + ("" if alg == "none" else sig)
    _assert_refused(collector, body, 400, f"unsupported JWS alg '{alg}'")


def test_unknown_agent(collector) -> None:
    stranger = generate()
    _assert_refused(collector, sign(report_doc("7d1e4c7e-93f3-4b8e-9b39-0c8b7a3c1f00"),
                                    stranger), 401, "unknown agent key")


def test_pending_agent(collector, enrolled) -> None:
    agent_id, key = enrolled["pending"]
    _assert_refused(collector, sign(report_doc(agent_id), key), 403, "pending approval")


def test_revoked_agent(collector, enrolled) -> None:
    agent_id, key = enrolled["revoked"]
    _assert_refused(collector, sign(report_doc(agent_id), key), 403, "is revoked")


def test_timestamp_far_in_the_future(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    doc = report_doc(agent_id, created_at=utcnow() + timedelta(days=2))
    _assert_refused(collector, sign(doc, key), 422, "is in the future")


def test_report_older_than_replay_horizon(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    doc = report_doc(agent_id, created_at=utcnow() - timedelta(days=45))
    _assert_refused(collector, sign(doc, key), 422, "older than the replay horizon")


def test_body_over_the_size_limit(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    doc = report_doc(agent_id)
    doc["meta"] = {"padding": "x" * (1024 * 1024 + 10)}
    _assert_refused(collector, sign(doc, key), 413, "the limit is 1048576")
    # A body declared larger than max_body_bytes is refused before it is read.
    before = collector.count("reports")
    conn = http.client.HTTPSConnection("127.0.0.1", collector.port, timeout=10,
                                       context=ssl._create_unverified_context())  # noqa: S323
    conn.putrequest("POST", "/api/v1/reports")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(5 << 20))
    conn.endheaders()
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 413
    assert body["error"] == "request body is larger than 4194304 bytes"
    assert collector.count("reports") == before


@pytest.mark.parametrize("body", ["not a jws", "a.b.c", "....", "e30.e30"])
def test_malformed_jws(collector, body: str) -> None:
    _assert_refused(collector, body, 400, "malformed JWS")


def test_non_utf8_bytes(collector) -> None:
    _assert_refused(collector, b"\xff\xfe\xfd.\x80\x81.\xc3\x28", 400, "non-ASCII")


def test_schema_invalid_report(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    doc = report_doc(agent_id)
    doc["results"][0]["status"] = "excellent"
    _assert_refused(collector, sign(doc, key), 422, "results[0].status: must be one of")
    doc = report_doc(agent_id)
    doc["results"][0]["data"]["filesystems"][0]["used_percent"] = 250
    _assert_refused(collector, sign(doc, key), 422, "results[0].data.filesystems[0].used_percent")
    doc = report_doc(agent_id)
    del doc["seq"]
    _assert_refused(collector, sign(doc, key), 422, "missing field(s): seq")


def test_payload_not_json_and_duplicate_keys(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    token = jws.sign(b"\xff not json", key, kid=key_id(key.public_key()))
    _assert_refused(collector, token, 400, "payload is not JSON")
    dup = b'{"format":"hostpatrol.report/1","format":"x"}'
    _assert_refused(collector, jws.sign(dup, key, kid=key_id(key.public_key())), 400,
                    "duplicate key")


def test_batch_reports_each_outcome(collector, enrolled) -> None:
    agent_id, key = enrolled["a"]
    good = sign(report_doc(agent_id, created_at=an_hour_ago()), key)
    bad = sign(report_doc(agent_id, created_at=utcnow() + timedelta(days=3)), key)
    before = collector.count("reports")
    resp = collector.post("/api/v1/reports", json.dumps({"reports": [good, bad, good]}),
                          "application/json")
    assert resp.status_code == 200
    body = resp.json()
    assert [r["result"] for r in body["results"]] == ["accepted", "rejected", "duplicate"]
    assert body["results"][1]["status"] == 422
    assert collector.count("reports") == before + 1


def test_wrong_content_type_and_batch_shape(collector) -> None:
    resp = collector.post("/api/v1/reports", "x", "application/xml")
    assert resp.status_code == 415
    assert resp.json() == {"ok": False, "status": 415,
                           "error": "expected Content-Type application/json, got application/xml"}
    resp = collector.post("/api/v1/reports", json.dumps({"reports": "x"}), "application/json")
    assert resp.status_code == 400
    assert "reports" in resp.json()["error"]


def test_rejections_are_counted_in_metrics(collector) -> None:
    _post_jose(collector, "garbage")
    text = collector.get("/metrics").text
    line = next(li for li in text.splitlines()
                if li.startswith('hostpatrol_reports_total{outcome="malformed"}'))
    assert float(line.split()[-1]) >= 1


def test_expired_and_used_up_tokens(collector) -> None:
    token = collector.token("--expires", "1s")
    time.sleep(1.5)
    before = collector.count("agents")
    with pytest.raises(Exception, match="expired") as info:
        enroll_key(collector, token)
    assert getattr(info.value, "status", None) == 401
    once = collector.token("--uses", "1")
    enroll_key(collector, once)
    with pytest.raises(Exception, match="no uses left") as info:
        enroll_key(collector, once)
    assert info.value.status == 401
    with pytest.raises(Exception, match="not valid") as info:
        enroll_key(collector, "made-up-token")
    assert info.value.status == 401
    assert collector.count("agents") == before + 1


def _jose_text(key, text: str) -> str:
    """A payload written by hand (values no encoder would write), signed as an agent does."""
    return jws.sign(text.encode("ascii"), key, kid=key_id(key.public_key()))


EDGE_FIELDS = {  # where each type sits in a report, and the edge values of that type
    "created_at": edge_times(), "results[0].started_at": edge_times(),
    "seq": [v for v in edge_ints() if not 0 <= v < 2**63],
    "results[0].data.filesystems[0].total_bytes": [v for v in edge_ints() if v >= 2**63],
    "results[0].data.filesystems[0].used_percent": [f for f in edge_floats()
                                                    if math.isinf(f)],
    "meta.x": [v for v in edge_ints() + edge_floats() + edge_texts() if not in_limits(v)],
    "host.hostname": [t for t in edge_texts() if not in_limits(t)],
    "results[0].error": [t for t in edge_texts() if not in_limits(t)],
}


@pytest.mark.parametrize(("where", "value"), [(w, v) for w, vs in EDGE_FIELDS.items()
                                              for v in vs], ids=repr)
def test_values_at_the_edges_of_their_types_are_refused_naming_the_field(
        collector, enrolled, where: str, value) -> None:
    agent_id, key = enrolled["a"]
    doc = report_doc(agent_id, meta={"x": 1})
    put(doc, where, value)
    resp = _post_jose(collector, _jose_text(key, wire_text(doc)))
    if where.endswith(("created_at", "started_at")) and resp.status_code == 422 and \
            "years 1 to 9999" not in resp.text:  # a calendar date, refused for its time
        assert "not within" in resp.text or "future" in resp.text or "replay" in resp.text
    else:
        assert resp.status_code == 422, resp.text
        assert f"{where}: " in resp.json()["error"], resp.text
    assert resp.json() == {"ok": False, "status": 422, "error": resp.json()["error"]}


def test_a_json_batch_stores_its_good_reports_and_refuses_only_the_bad(collector,
                                                                       enrolled) -> None:
    agent_id, key = enrolled["b"]
    bad = {"created_at": "0001-01-01T00:00:00+14:00", "host.hostname": "\ud800",
           "results[0].data.filesystems[0].total_bytes": 2**63, "meta.x": math.inf,
           "results[0].started_at": "9999-12-31T23:59:59-14:00"}
    batch = []
    for where, value in bad.items():
        batch.append(sign(report_doc(agent_id, created_at=an_hour_ago()), key))
        doc = report_doc(agent_id, meta={"x": 1})
        put(doc, where, value)
        batch.append(_jose_text(key, wire_text(doc)))
    before = collector.count("reports", "agent_id = ?", (agent_id,))
    resp = collector.post("/api/v1/reports", json.dumps({"reports": batch}),
                          "application/json")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == len(bad)
    assert body["rejected"] == len(bad)
    for where, refused in zip(bad, body["results"][1::2], strict=True):
        assert refused["status"] == 422
        assert refused["error"].startswith(f"report schema: {where}: "), refused
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == before + len(bad)


def test_enrolling_again_with_a_key_rotated_away_is_refused(collector) -> None:
    from hostpatrol.agent.rotation import announcement

    agent_id, old, _ = enroll_key(collector, collector.token("--auto-approve"))
    new = generate()
    resp = collector.post("/api/v1/agents/rotate", announcement(old, new, agent_id),
                          "application/jose")
    assert resp.status_code == 200, resp.text
    before = collector.count("agents")
    for key, text in ((old, "retired by a key rotation"), (new, "already enrolled")):
        with pytest.raises(Exception, match=text) as info:
            enroll_key(collector, collector.token("--auto-approve"), key)
        assert info.value.status == 409
    assert collector.count("agents") == before
