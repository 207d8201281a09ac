"""schemathesis against a live collector: every operation of /openapi.json, valid and
invalid input, with a bearer token — no 500, every answer in the documented schema.

Bounded: a fixed number of examples per operation, derandomized (the same cases every
run), so it fits in the suite's time budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from forge import enroll_key, report_doc, sign
from harness import Collector, free_port
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


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[Collector, str, dict[str, Any]]]:
    """A collector with a host whose report opened findings, and an admin API token."""
    c = Collector(tmp_path_factory.mktemp("fuzz") / "data", free_port())
    c.init()
    c.start()
    try:
        agent_id, key, _ = enroll_key(c, c.token("--auto-approve"))
        doc = report_doc(agent_id)
        fs = doc["results"][0]["data"]["filesystems"][0]
        fs.update(used_bytes=990, free_bytes=10, used_percent=99.0, status="fail")
        assert c.post("/api/v1/reports", sign(doc, key), "application/jose").status_code == 201
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


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_fuzz_operation(live, operation) -> None:
    c, token, known = live
    strategy = (operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
                | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    client = c.client()
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
        resp = case.call(base_url=c.url, session=client.session, verify=False, timeout=20,
                         headers={"Authorization": f"Bearer {token}"})
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        case.validate_response(resp, checks=CHECKS)

    try:
        run()
    finally:
        client.session.close()
    assert seen, "no request was made"
    assert not any(code >= 500 and code != 503 for code in seen), seen
