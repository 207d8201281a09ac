"""schemathesis against a live collector: every operation of /openapi.json, valid and
invalid input, with a bearer token and again with a signed-in dashboard session — no
500, every answer in the documented schema; and what the session may write.

Bounded: a fixed number of examples per operation, derandomized (the same cases every
run), so it fits in the suite's time budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from forge import enroll_key, report_doc, sign
from harness import PASSWORD, Collector, free_port
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          negative_data_rejection, response_headers_conformance,
          response_schema_conformance]


@schemathesis.serializer("application/jose")
def _jose(_ctx: Any, value: Any) -> dict[str, Any]:
    """JWS bodies go on the wire as text (any generated value, as a client could send)."""
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8", "surrogatepass")}


def _full_disk(agent_id: str) -> dict[str, Any]:
    """A report whose root filesystem is 99 % full (it opens a finding)."""
    doc = report_doc(agent_id)
    fs = doc["results"][0]["data"]["filesystems"][0]
    fs.update(used_bytes=990, free_bytes=10, used_percent=99.0, status="fail")
    return doc


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[Collector, str, dict[str, Any]]]:
    """A collector with a host whose report opened findings, and an admin API token."""
    c = Collector(tmp_path_factory.mktemp("fuzz") / "data", free_port())
    c.init()
    c.start()
    try:
        agent_id, key, _ = enroll_key(c, c.token("--auto-approve"))
        assert c.post("/api/v1/reports", sign(_full_disk(agent_id), key),
                      "application/jose").status_code == 201
        token = c.api_token("admin")
        findings = c.get("/api/v1/findings", token).json()["findings"]
        assert findings, "the seeded report should open a finding"
        yield c, token, {"agent_id": agent_id, "finding_id": findings[0]["id"]}
    finally:
        c.stop()


def _operations() -> list[Any]:
    from hostpatrol.collector.api.openapi import document

    schema = schemathesis.openapi.from_dict(document())
    return [result.ok() for result in schema.get_all_operations()]


def test_openapi_document_is_valid_and_covers_every_api_route(live) -> None:
    from hostpatrol.collector.api.openapi import document

    c, _, _ = live
    served = c.get("/openapi.json").json()
    assert served == document()
    schemathesis.openapi.from_dict(served).validate()
    from hostpatrol.collector.app import create_app
    from hostpatrol.collector.config import load_config

    app = create_app(load_config(c.data_dir))
    try:
        documented = {(path, m.upper()) for path, ops in served["paths"].items() for m in ops}
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith(("/api/", "/healthz", "/metrics", "/openapi")):
                continue
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, f"{method} {path} is not documented"
    finally:
        app.extensions["hostpatrol.engine"].dispose()


def _signed_in(c: Collector) -> tuple[requests.Session, str]:
    """A dashboard session of an admin (as a browser holds it) and a CSRF token of its
    pages (what the dashboard's own scripts would send as X-CSRFToken)."""
    c.api_token("webadmin")  # creates the user (an admin); its token is not used
    s = c.client().session
    s.headers["Referer"] = f"{c.url}/login"
    page = s.get(f"{c.url}/login", verify=False, timeout=10)
    resp = s.post(f"{c.url}/login", verify=False, timeout=10, data={
        "username": "webadmin", "password": PASSWORD, "csrf_token": _csrf(page.text)})
    assert resp.status_code == 200, resp.text
    del s.headers["Referer"]
    return s, _csrf(s.get(f"{c.url}/findings", verify=False, timeout=10).text)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _fuzz(live: Any, operation: Any, session: requests.Session,
          headers: dict[str, str]) -> None:
    c, _, known = live
    strategy = (operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
                | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, real=st.booleans())
    def run(case: Any, real: bool) -> None:
        if real and case.path_parameters:  # half the time, aim at records that exist
            for name in ("agent_id", "finding_id"):
                if name in case.path_parameters:
                    case.path_parameters[name] = known[name]
        resp = case.call(base_url=c.url, session=session, verify=False, timeout=20,
                         headers=headers)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        case.validate_response(resp, checks=CHECKS)

    try:
        run()
    finally:
        session.close()
    assert seen, "no request was made"
    assert not any(code >= 500 and code != 503 for code in seen), seen


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_fuzz_operation(live, operation) -> None:
    c, token, _ = live
    _fuzz(live, operation, c.client().session, {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_fuzz_operation_with_a_dashboard_session(live, operation) -> None:
    """The same, authenticated as a browser is: the session cookie, the page's CSRF token
    and a same-origin Referer (every write then passes the CSRF check and goes on)."""
    c, _, _ = live
    session, csrf = _signed_in(c)
    _fuzz(live, operation, session, {"X-CSRFToken": csrf, "Referer": f"{c.url}/findings"})


def test_api_writes_with_the_dashboard_session_need_its_token_and_same_origin(live) -> None:
    c, token, _ = live
    agent_id, key, _ = enroll_key(c, c.token("--auto-approve"))  # a finding of its own
    assert c.post("/api/v1/reports", sign(_full_disk(agent_id), key),
                  "application/jose").status_code == 201
    finding = c.get(f"/api/v1/findings?host={agent_id}", token).json()["findings"][0]["id"]
    requester = c.api_token("requester")
    waiver = c.client().session.post(
        f"{c.url}/api/v1/findings/{finding}/waivers", verify=False, timeout=10,
        json={"justification": "change window next week", "days": 3},
        headers={"Authorization": f"Bearer {requester}"})
    assert waiver.status_code == 201, waiver.text
    wid = waiver.json()["waiver"]["id"]
    session, csrf = _signed_in(c)
    writes = [f"/api/v1/waivers/{wid}/approve",
              f"/api/v1/hosts/{agent_id}/baseline/ports/approve"]
    other = f"https://127.0.0.1:{c.port + 1}/"  # same site, another origin
    forged = [{},  # the cookie alone, as a page elsewhere on the site sends it
              {"Referer": f"{c.url}/findings"},  # same origin, no token
              {"X-CSRFToken": "forged", "Referer": f"{c.url}/findings"},
              {"X-CSRFToken": csrf, "Referer": other, "Origin": other.rstrip("/")},
              {"X-CSRFToken": csrf}]  # no Referer at all
    for path in writes:
        for headers in forged:
            resp = session.post(f"{c.url}{path}", verify=False, timeout=10, headers=headers)
            assert resp.status_code == 403, (path, headers, resp.text)
            assert resp.json()["status"] == 403
            assert "CSRF" in resp.json()["error"]
    state = c.get(f"/api/v1/findings/{finding}", token).json()["waivers"]
    assert [w["state"] for w in state if w["id"] == wid] == ["requested"]  # nothing changed
    assert session.get(f"{c.url}/api/v1/findings", verify=False, timeout=10).status_code == 200
    same = {"X-CSRFToken": csrf, "Referer": f"{c.url}/findings"}  # as the dashboard sends
    approved = session.post(f"{c.url}{writes[0]}", verify=False, timeout=10, headers=same)
    assert approved.status_code == 200, approved.text
    assert approved.json()["waiver"]["state"] == "approved"
    # past the check, the route itself answers (this host has no ports result yet)
    baseline = session.post(f"{c.url}{writes[1]}", verify=False, timeout=10, headers=same)
    assert baseline.status_code == 409, baseline.text
    assert "no ports result yet" in baseline.json()["error"]
    bearer = c.client().session.post(  # a script's bearer token needs no CSRF token
        f"{c.url}{writes[1]}", verify=False, timeout=10,
        headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 409, bearer.text
