"""Rows an older version stored before the typed boundary (schema-breaking data, numbers
beyond 64 bits or beyond a double, results dated years ahead) on SQLite and PostgreSQL:
pages and the API show each as an unreadable result, in English and Chinese, and never
fail; histories, forecasts, rules and baselines skip them, so later good reports heal.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from forge import disk
from hostpatrol.collector.findings.fleet import sweep_fleet
from hostpatrol.collector.store import intake
from hostpatrol.collector.store.schema import check_results, findings
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import CheckResult, Report
from sitekit import API_TOKEN, BASE, Site, make_site, real_results, result
from webapp import hostile_results

CHECKS = ("disk", "inventory", "patches", "antivirus", "logs")


@pytest.fixture
def site(engine, tmp_path) -> Site:
    """The app on this backend's store, one agent, a signed-in admin."""
    return make_site(engine, tmp_path)


def _store_as_an_older_version(site: Site, check: str, status: str, data: Any, *,
                               at: Any = None) -> None:
    """Store a result the way versions before the typed boundary did: unchecked, its data
    in the result row (as before migration 0015; such rows are read as they were)."""
    now = utcnow()
    site.seq += 1
    report = Report(agent_id=site.agent_id, report_id=str(uuid.uuid4()), seq=site.seq,
                    created_at=now, schedule="manual", results=(CheckResult(
                        check, status, at or now, 3, data, None),))
    with site.engine.begin() as conn:
        [stored] = intake.store_batch(conn, [intake.Incoming(report, "x.y.z", "0" * 64)],
                                      now=now, source="test")
        conn.execute(check_results.update().where(check_results.c.report_pk == stored.pk)
                     .values(data=data))


def _poison(site: Site) -> list[str]:
    """What the issue found an agent could store, one check each; the checks poisoned."""
    for check in CHECKS:
        _store_as_an_older_version(site, check, "skipped", {"filesystems": "nope"})
    huge = disk(50.0)
    huge["filesystems"][0]["total_bytes"] = 10**300
    _store_as_an_older_version(site, "disk", "ok", huge)
    if site.engine.dialect.name == "sqlite":  # PostgreSQL's jsonb never held Infinity
        infinite = disk(50.0)
        infinite["filesystems"][0]["used_percent"] = float("inf")
        _store_as_an_older_version(site, "disk", "ok", infinite)
        logs = hostile_results(utcnow().isoformat())[0]["data"]
        logs["errors"]["total"] = float("inf")
        _store_as_an_older_version(site, "logs", "fail", logs)
    _store_as_an_older_version(site, "ports", "ok", real_results()["ports"]["data"],
                               at=utcnow().replace(year=9999))
    return [*CHECKS, "ports"]


def test_each_unreadable_row_is_shown_as_such_and_never_takes_a_page_down(site: Site) -> None:
    poisoned = _poison(site)
    for lang, words in (("en", "Unreadable result"), ("zh_CN", "无法读取的结果")):
        page = site.page(f"/hosts/{site.agent_id}", lang)
        assert page.status_code == 200, page.data[-3000:]
        text = page.get_data(as_text=True)
        for check in poisoned:
            section = text.split(f'id="check-{check}"', 1)[1].split("</section>", 1)[0]
            assert words in section, (lang, check)
    status, body = site.api(f"/api/v1/hosts/{site.agent_id}")  # strict JSON: no Infinity
    assert status == 200
    shown = {r["check"]: r for r in body["results"]}
    for check in poisoned:
        assert shown[check]["data"] is None, check
        assert shown[check]["unreadable"], check
    assert "after any time the collector accepts" in shown["ports"]["unreadable"]
    for page in ("/hosts", "/", "/findings", "/reports"):
        assert site.page(page).status_code == 200, page


def test_later_good_reports_heal_the_disk_history_and_forecast(site: Site) -> None:
    _poison(site)
    assert b'id="forecast"' not in site.page(f"/hosts/{site.agent_id}").data
    now = utcnow()
    for days, percent in ((3, 40.0), (2, 45.0), (1, 50.0)):
        at = now - timedelta(days=days)
        [ok] = site.send(site.doc(created_at=at, results=[result("disk", disk(percent),
                                                                  at=at)]), now=now)
        assert ok.outcome == "accepted", ok
    page = site.page(f"/hosts/{site.agent_id}")
    assert page.status_code == 200
    forecast = page.get_data(as_text=True).split('id="forecast"', 1)[1].split("</table>")[0]
    assert "<td><span class=\"swatch line-0\"></span>/</td>" in forecast
    assert "days" in forecast  # growing 5 % a day: a date to full, from readable rows only


def _db_upgrade(engine: sa.Engine) -> None:
    """``hostpatrol-collector db upgrade`` over a database an older version filled: back to
    the revision before the typed boundary, then to the newest again."""
    from hostpatrol.collector.store import db

    db.downgrade(engine, "0008")
    db.upgrade(engine)


def test_rules_sweeps_and_baselines_step_over_unreadable_rows(site: Site) -> None:
    _poison(site)
    _db_upgrade(site.engine)
    logs = hostile_results(utcnow().isoformat())[0]["data"]  # a trend rule reads history
    [ok] = site.send(site.doc(results=[result("logs", logs, status="fail")]))
    assert ok.outcome == "accepted", ok
    with site.engine.begin() as conn:
        sweep_fleet(conn, utcnow())
    client = site.app.test_client()
    resp = client.post(f"/api/v1/hosts/{site.agent_id}/baseline/network/approve",
                       base_url=BASE, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert resp.status_code == 409, resp.data
    assert "unreadable" in resp.json["error"]


def _refuse_constant(name: str) -> None:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def test_answers_never_carry_infinity_whatever_a_row_holds(site: Site) -> None:
    [ok] = site.send(site.doc(results=[result("disk", disk(99.0))]))
    assert ok.outcome == "accepted"
    with site.engine.begin() as conn:
        if site.engine.dialect.name == "sqlite":  # as an older version could leave it
            conn.execute(sa.text("UPDATE findings SET evidence = :e"),
                         {"e": '{"value": Infinity, "used": -Infinity}'})
        else:
            conn.execute(findings.update().values(evidence={"value": 10**300}))
    resp = site.app.test_client().get("/api/v1/findings", base_url=BASE, headers={
        "Authorization": f"Bearer {API_TOKEN}"})
    assert resp.status_code == 200
    raw = resp.get_data(as_text=True)
    assert "Infinity" not in raw
    body = json.loads(raw, parse_constant=_refuse_constant)  # valid JSON for every client
    evidence = body["findings"][0]["evidence"]
    if site.engine.dialect.name == "sqlite":
        assert evidence == {"value": None, "used": None}
    else:  # a long integer is valid JSON: given back as stored
        assert evidence == {"value": 10**300}
    finding = body["findings"][0]["id"]
    assert site.page(f"/findings/{finding}").status_code == 200

