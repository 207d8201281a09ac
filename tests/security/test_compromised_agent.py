"""A compromised agent (enrolled, valid key) sends crafted reports: each is bounded and
refused cleanly or stored safely; its flood is rate limited without hurting other agents.

Forged signatures, other agents' ids, bad algorithms and timestamps are covered in
tests/collector/intake/test_hostile_reports.py; reused sequence numbers (clone signal) in
tests/e2e/test_checkin.py.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from forge import enroll_key, report_doc, sign
from harness import PASSWORD, Collector, free_port
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time
from webapp import hostile_results

BURST, PER_MINUTE = 30, 6
HOSTILE = "'; DROP TABLE reports; -- <script>window.__pwned=1</script>\u202e\u0007\u001b[31m\u0000"
HTMLSQL = "\" OR 1=1 -- <img src=x onerror=alert(1)> </td></table><iframe src=//evil>"


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[Collector]:
    """A collector with a small per-agent rate limit, one worker (one bucket table)."""
    c = Collector(tmp_path_factory.mktemp("compromised") / "data", free_port())
    c.init()
    with open(c.data_dir / "collector.yaml", "a", encoding="utf-8") as f:
        f.write(f"ingest:\n  agent_burst: {BURST}\n  agent_rate_per_minute: {PER_MINUTE}\n")
    c.start(workers=1)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def fleet(limited: Collector) -> dict[str, tuple]:
    """Agents: the flooder, a bystander, and one for crafted content."""
    token = limited.token("--uses", "4", "--auto-approve")
    return {name: enroll_key(limited, token)[:2]
            for name in ("flood", "other", "crafty", "skewed")}


def _jose(c: Collector, body: str | bytes):
    return c.post("/api/v1/reports", body, "application/jose")


def _session(c: Collector):
    """A signed-in dashboard session (requests) as admin."""
    c.api_token("admin")
    s = c.client().session
    s.headers["Referer"] = f"{c.url}/login"
    page = s.get(f"{c.url}/login", verify=False, timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    ok = s.post(f"{c.url}/login", data={"username": "admin", "password": PASSWORD,
                                          "csrf_token": csrf}, verify=False, timeout=10)
    assert ok.status_code == 200
    return s


def test_millions_of_log_samples_are_stopped_by_the_size_limits(limited, fleet) -> None:
    agent_id, key = fleet["crafty"]
    now = format_time(utcnow())
    template = {"source": "sshd", "priority": "err", "template": "x #", "count": 1,
                "samples": ["failed password for root from 10.0.0.1"] * 40}
    logs = {"errors": {"templates": [template] * 1000}}
    doc = report_doc(agent_id, results=[{"check": "logs", "status": "fail",
                                         "started_at": now, "duration_ms": 1, "error": None,
                                         "data": logs}])
    big = sign(doc, key)  # 40,000 samples: ~2.4 MB signed
    before = limited.count("reports")
    resp = _jose(limited, big)
    assert resp.status_code == 413
    assert resp.json()["error"].startswith("report is ")
    # a batch of them: each refused on its own size (a body over max_body_bytes is refused
    # before it is read: tests/collector/intake/test_hostile_reports.py)
    resp = limited.post("/api/v1/reports", json.dumps({"reports": [big]}), "application/json")
    assert resp.status_code == 200
    assert resp.json()["results"][0]["status"] == 413
    # under the size limit, the logs schema bounds samples per template (20)
    results = hostile_results(now)
    results[0]["data"]["errors"]["templates"][0]["samples"] = template["samples"]
    doc = report_doc(agent_id, results=results)
    resp = _jose(limited, sign(doc, key))
    assert resp.status_code == 422
    assert "samples" in resp.json()["error"]
    assert limited.count("reports") == before


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_deeply_nested_json_is_refused_cleanly(limited, fleet, depth: int) -> None:
    agent_id, key = fleet["crafty"]
    doc = report_doc(agent_id)
    raw = json.dumps(doc).replace('"meta": {}', '"meta": {"x": ' + "[" * depth
                                  + "]" * depth + "}")
    from hostpatrol.shared import jws
    from hostpatrol.shared.keys import key_id

    token = jws.sign(raw.encode(), key, kid=key_id(key.public_key()))
    before = limited.count("reports")
    resp = _jose(limited, token)
    assert resp.status_code == 400, resp.text
    assert "nested too deeply" in resp.json()["error"]
    assert limited.count("reports") == before
    # the same nesting as an unauthenticated JSON body
    resp = limited.post("/api/v1/enroll", "[" * depth + "]" * depth, "application/json")
    assert resp.status_code == 400
    assert "nested too deeply" in resp.json()["error"]


def test_nesting_under_the_parser_limit_is_stored_and_served(limited, fleet) -> None:
    agent_id, key = fleet["crafty"]
    nested: object = "bottom"
    for _ in range(300):
        nested = {"n": [nested]}
    doc = report_doc(agent_id, meta={"deep": nested})
    doc["results"].append({"check": "zz_unknown", "status": "ok", "duration_ms": 1,
                           "started_at": doc["created_at"], "error": None,
                           "data": {"deep": nested}})
    resp = _jose(limited, sign(doc, key))
    assert resp.status_code == 201, resp.text
    token = limited.api_token("admin")
    host = limited.get(f"/api/v1/hosts/{agent_id}", token)
    assert host.status_code == 200
    unknown = next(r for r in host.json()["results"] if r["check"] == "zz_unknown")
    assert unknown["data"] == {"deep": nested}
    page = _session(limited).get(f"{limited.url}/hosts/{agent_id}", verify=False, timeout=20)
    assert page.status_code == 200


def test_control_characters_html_and_sql_in_every_field(limited, fleet) -> None:
    agent_id, key = fleet["crafty"]
    now = format_time(utcnow())
    # host fields refuse control characters outright
    doc = report_doc(agent_id)
    doc["host"]["hostname"] = HOSTILE
    resp = _jose(limited, sign(doc, key))
    assert resp.status_code == 422
    assert "control characters" in resp.json()["error"]
    # everywhere else they are data: stored as sent, returned as sent, shown escaped
    doc = report_doc(agent_id, meta={HTMLSQL: HOSTILE, "list": [HOSTILE, HTMLSQL]})
    doc["host"].update(hostname=HTMLSQL, os=HTMLSQL, agent_version=HTMLSQL[:60])
    fs = doc["results"][0]["data"]["filesystems"][0]
    fs.update(device=HOSTILE, mount=HTMLSQL, fstype=HTMLSQL[:30])
    doc["results"].append({"check": "zz_custom", "status": "error", "started_at": now,
                           "duration_ms": 1, "error": HOSTILE,
                           "data": {HOSTILE: HTMLSQL, "k": HOSTILE}})
    token = sign(doc, key)
    resp = _jose(limited, token)
    assert resp.status_code == 201, resp.text
    assert limited.stored_jws(agent_id).count(token) == 1  # evidence byte-exact
    api = limited.get(f"/api/v1/hosts/{agent_id}", limited.api_token("admin")).json()
    assert api["host"]["hostname"] == HTMLSQL
    results = {r["check"]: r for r in api["results"]}
    assert results["zz_custom"]["error"] == HOSTILE
    assert results["zz_custom"]["data"] == {HOSTILE: HTMLSQL, "k": HOSTILE}
    assert results["disk"]["data"]["filesystems"][0]["device"] == HOSTILE
    s = _session(limited)
    for path in (f"/hosts/{agent_id}", "/hosts", "/", f"/hosts?q={HTMLSQL[:40]}"):
        page = s.get(f"{limited.url}{path}", verify=False, timeout=20)
        assert page.status_code == 200, path
        assert "<script>window.__pwned" not in page.text
        assert "<img src=x onerror" not in page.text
        assert "<iframe" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in s.get(
        f"{limited.url}/hosts/{agent_id}", verify=False, timeout=20).text
    for table in ("reports", "agents", "check_results"):
        assert limited.count(table) > 0  # the SQL in the strings stayed data


def test_flood_is_rate_limited_per_agent_and_others_are_not_hurt(limited, fleet) -> None:
    flood_id, flood_key = fleet["flood"]
    other_id, other_key = fleet["other"]
    batch = [sign(report_doc(flood_id, seq=i), flood_key) for i in range(100)]
    resp = limited.post("/api/v1/reports", json.dumps({"reports": batch}), "application/json")
    assert resp.status_code == 200
    body = resp.json()
    assert BURST <= body["accepted"] <= BURST + 2  # the bucket, plus what refilled meanwhile
    limited_items = [r for r in body["results"] if r["result"] == "rejected"]
    assert len(limited_items) == 100 - body["accepted"]
    assert {r["status"] for r in limited_items} == {429}
    assert all(r["retry_after"] >= 1 for r in limited_items)
    # single reports in parallel: every one refused with 429 + Retry-After
    answers: list = []

    def send() -> None:
        answers.append(_jose(limited, sign(report_doc(flood_id), flood_key)))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for t in threads:
        t.start()
    other = _jose(limited, sign(report_doc(other_id), other_key))  # meanwhile, a bystander
    for t in threads:
        t.join(30)
    assert other.status_code == 201, other.text
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 18
    for a in refused:
        assert int(a.headers["Retry-After"]) >= 1
        assert a.json()["status"] == 429
        assert "rate limit" in a.json()["error"]
    stored = limited.count("reports", "agent_id = ?", (flood_id,))
    assert stored == body["accepted"] + len(answers) - len(refused)
    metrics = limited.get("/metrics").text
    assert re.search(r'hostpatrol_reports_total\{outcome="rate_limited"\} [1-9]', metrics)
    # the bystander keeps its whole budget
    more = [sign(report_doc(other_id), other_key) for _ in range(BURST - 1)]
    resp = limited.post("/api/v1/reports", json.dumps({"reports": more}), "application/json")
    assert resp.json()["accepted"] == BURST - 1


def test_a_batch_wholly_over_the_limit_is_a_429(limited, fleet) -> None:
    flood_id, flood_key = fleet["flood"]
    batch = [sign(report_doc(flood_id), flood_key) for _ in range(5)]
    resp = limited.post("/api/v1/reports", json.dumps({"reports": batch}), "application/json")
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.json()["ok"] is False


def test_a_flood_of_refused_future_reports_costs_at_most_its_rate(limited, fleet) -> None:
    agent_id, key = fleet["skewed"]
    ahead = utcnow() + timedelta(hours=6)
    batch = [sign(report_doc(agent_id, created_at=ahead), key) for _ in range(50)]
    for token in batch:  # one request each: each may note the clock refusal
        assert _jose(limited, token).status_code == 422
    api = limited.api_token("admin")
    [finding] = [f for f in limited.get(f"/api/v1/findings?host={agent_id}", api
                                        ).json()["findings"] if f["subject"] == "collector-time"]
    assert BURST <= finding["occurrences"] <= BURST + 2  # the rest were not even written
