"""A compromised agent at the typed boundary, on SQLite and PostgreSQL: any edge value of
any type, anywhere in a real report, is stored or refused naming its field; a batch keeps
its good reports; whatever was accepted reads back and renders.

Reports start from what the real agent reports on this host (``check --json``).
"""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from edges import in_limits, leaves, put, scalars, wire_text
from forge import disk
from hostpatrol.agent.checks.base import Check, CheckSkipped, Outcome
from hostpatrol.agent.runner import build_report, run_one
from hostpatrol.collector.store.resultdata import validators
from hostpatrol.collector.store.schema import agents, check_results, findings, host_latest
from hostpatrol.shared.clock import utcnow
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sitekit import Site, make_site, real_results, result

ENVELOPE = ["created_at", "seq", "host.hostname", "host.machine_id", "meta.x",
            "results[0].started_at", "results[0].error", "results[0].duration_ms"]


@pytest.fixture
def site(engine, tmp_path) -> Site:
    """The app on this backend's store, one agent, a signed-in admin."""
    return make_site(engine, tmp_path)


_LEAVES: dict[str, list[str]] = {}


def _data_leaves(check: str) -> list[str]:
    if check not in _LEAVES:
        _LEAVES[check] = [p for p in leaves(real_results()[check]["data"]) if p]
    return _LEAVES[check]


def _rendered(site: Site) -> dict[str, Any]:
    """The host's page (200) and API answer (200, strict JSON); the API's results."""
    page = site.page(f"/hosts/{site.agent_id}")
    assert page.status_code == 200, page.data[-2000:]
    status, body = site.api(f"/api/v1/hosts/{site.agent_id}")
    assert status == 200
    return {r["check"]: r for r in body["results"]}


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_edge_value_anywhere_never_fails_a_batch_or_a_page(site: Site, data) -> None:
    check = data.draw(st.sampled_from(sorted(real_results())), label="check")
    real = real_results()[check]
    doc = site.doc(results=[result(check, copy.deepcopy(real["data"]), status=real["status"],
                                   error=real.get("error"))])
    where = data.draw(st.sampled_from(ENVELOPE) | st.sampled_from(
        [f"results[0].data{'' if p.startswith('[') else '.'}{p}" for p in _data_leaves(check)]),
        label="where")
    if where == "meta.x":
        doc["meta"]["x"] = None
    value = data.draw(scalars(), label="value")
    put(doc, where, value)
    site.seq -= 1  # the hostile report goes between two good ones
    before = site.doc()
    site.seq += 1
    good, hostile, good_too = site.send(before, wire_text(doc), site.doc())
    assert good.outcome == "accepted", good
    assert good_too.outcome == "accepted", good_too
    event(f"{hostile.outcome} {'in' if in_limits(value) else 'beyond'} limits")
    if hostile.outcome == "rejected":
        assert hostile.status in (400, 403, 422), hostile
        if not in_limits(value):
            assert hostile.status == 422
            assert f"{where}: " in hostile.error, (where, hostile.error)
    else:
        assert in_limits(value), (where, value)
    shown = _rendered(site)
    assert all(r["unreadable"] is None for r in shown.values()), shown  # accepted is readable


def test_a_batch_stores_its_good_reports_and_refuses_only_the_bad(site: Site) -> None:
    bad = {  # one of each kind of value a strict reader cannot take, at several depths
        "created_at": "0001-01-01T00:00:00+14:00",
        "results[0].started_at": "9999-12-31T23:59:59-14:00",
        "host.hostname": "\ud800",
        "results[0].data.filesystems[0].total_bytes": 2**63,
        "results[0].data.filesystems[0].used_percent": float("inf"),
        "meta.x": "\udfff",
    }
    docs: list[Any] = []
    for where, value in bad.items():
        docs.append(site.doc())
        doc = site.doc(meta={"x": 1})
        put(doc, where, value)
        docs.append(wire_text(doc))
    outcomes = site.send(*docs)
    for i, (where, o) in enumerate(zip(bad, outcomes[1::2], strict=True)):
        assert o.outcome == "rejected", where
        assert o.status == 422, o
        assert f"{where}: " in o.error, o.error
        assert outcomes[2 * i].outcome == "accepted"
    with site.engine.connect() as conn:
        last_seq = conn.execute(sa.select(agents.c.last_seq)).scalar()
    assert last_seq == site.seq - 1  # the last good one


@pytest.mark.parametrize("status", ["error", "skipped"])
def test_a_result_that_did_not_run_carries_no_check_data(site: Site, status: str) -> None:
    error = "timed out after 60s" if status == "error" else None
    for check in sorted(validators()):
        poisoned = site.doc(results=[result(check, {"filesystems": "nope", "x": [1]},
                                            status=status, error=error)])
        [refused] = site.send(poisoned)
        assert refused.status == 422, (check, refused)
        assert refused.error.startswith("results[0].data"), refused.error
        assert 'carries {} or {"reason": text}' in refused.error
        for empty in ({}, {"reason": "no package manager known here"}):
            [ok] = site.send(site.doc(results=[result(check, empty, status=status,
                                                      error=error)]))
            assert ok.outcome == "accepted", (check, ok)
    real = real_results()["disk"]  # a full data set that matches its schema is fine too
    [ok] = site.send(site.doc(results=[result("disk", real["data"], status=status,
                                              error=error)]))
    assert ok.outcome == "accepted"
    _rendered(site)


class _Crashes(Check):
    name = "disk"

    def collect(self) -> Outcome:
        raise RuntimeError("boom")


class _Hangs(Check):
    name = "patches"
    timeout = 0.2

    def collect(self) -> Outcome:
        threading.Event().wait(5)
        return Outcome("ok", {})


class _NotHere(Check):
    name = "antivirus"

    def collect(self) -> Outcome:
        raise CheckSkipped("no antivirus known on this platform")


def test_the_agents_own_error_and_skipped_results_are_accepted(site: Site) -> None:
    """The real runner's results for a crash, a time-out and a skip pass every new rule."""
    results = [run_one(c()) for c in (_Crashes, _Hangs, _NotHere)]
    assert [r.status for r in results] == ["error", "error", "skipped"]
    site.seq += 1
    [ok] = site.send(build_report(site.agent_id, site.seq, "manual", results).to_dict())
    assert ok.outcome == "accepted", ok
    shown = _rendered(site)
    assert shown["patches"]["error"] == "timed out after 0.2s"
    assert shown["antivirus"]["data"] == {"reason": "no antivirus known on this platform"}


def test_a_result_dated_far_ahead_is_refused_and_an_old_one_stops_freezing_the_check(
        site: Site) -> None:
    now = utcnow()
    ahead = site.doc(results=[result("disk", disk(10.0), at=now + timedelta(days=3000))])
    [refused] = site.send(ahead)
    assert refused.status == 422
    assert "results[0].started_at: " in refused.error
    # what an older version accepted: the newest disk result dated in year 9999
    [stored] = site.send(site.doc(results=[result("disk", disk(10.0))]))
    with site.engine.begin() as conn:
        for table in (host_latest, check_results):
            conn.execute(table.update().where(table.c.check_name == "disk")
                         .values(started_at=now.replace(year=9999)))
    page = site.page(f"/hosts/{site.agent_id}")
    assert b"Unreadable result" in page.data
    [full] = site.send(site.doc(results=[result("disk", disk(99.5))]))
    assert full.outcome == "accepted"
    with site.engine.connect() as conn:
        newest = conn.execute(sa.select(host_latest.c.started_at).where(
            host_latest.c.check_name == "disk")).scalar_one()
        opened = conn.execute(sa.select(findings.c.level, findings.c.state).where(
            findings.c.rule_id == "disk-used")).all()
    assert newest.year == now.year
    assert opened, "a 99.5 % full disk must raise a finding once the frozen row gives way"
    assert _rendered(site)["disk"]["data"]["filesystems"][0]["used_percent"] == 99.5


def test_a_seq_jump_is_flagged_once_and_later_reports_stay_in_order(site: Site) -> None:
    site.send(site.doc(), site.doc())
    genuine = site.seq
    [jump] = site.send(site.doc(seq=2**63 - 1))
    assert jump.outcome == "accepted"  # kept as evidence
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(agents.c.last_seq, agents.c.clone_reason)).one()
    assert row.last_seq == genuine
    assert f"jumps {2**63 - 1 - genuine} past the last seq {genuine}" in row.clone_reason
    site.seq = genuine
    for _ in range(3):  # the genuine agent goes on counting
        assert site.send(site.doc())[0].outcome == "accepted"
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(agents.c.last_seq, agents.c.clone_reason)).one()
    assert row.last_seq == genuine + 3
    assert "is not after" not in row.clone_reason  # no genuine report looks like a clone
    # a step within the bound (reports lost on the way) moves it, unflagged
    site.seq += 999_999
    assert site.send(site.doc())[0].outcome == "accepted"
    with site.engine.connect() as conn:
        assert conn.execute(sa.select(agents.c.last_seq)).scalar() == site.seq


def test_an_agent_that_lost_its_seq_file_continues_unflagged_a_chosen_seq_does_not(
        site: Site) -> None:
    """The agent's repair (#17) numbers on from its clock in ms and says so in
    ``meta.state_repaired``: that jump moves last_seq and is no clone signal; a seq above
    the report's own time in ms is flagged even when it claims a repair."""
    site.send(site.doc(), site.doc())
    genuine = site.seq
    now = utcnow()
    repaired = int(now.timestamp() * 1000) + 1
    note = {"state_repaired": [f"seq file missing: numbering continues from {repaired}"]}
    forged = site.doc(created_at=now, seq=2**63 - 1, meta=note)
    assert site.send(forged)[0].outcome == "accepted"
    site.seq = repaired - 1
    assert site.send(site.doc(created_at=now, meta=note))[0].outcome == "accepted"
    assert site.send(site.doc(created_at=now))[0].outcome == "accepted"  # and on from there
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(agents.c.last_seq, agents.c.clone_reason)).one()
    assert row.last_seq == repaired + 1
    assert f"seq {2**63 - 1} jumps" in row.clone_reason  # the chosen one stays a signal
    assert f"seq {repaired} jumps" not in row.clone_reason
    assert "is not after" not in row.clone_reason
    assert genuine < repaired


def test_created_at_years_away_from_now_is_refused_as_the_hosts_clock(site: Site) -> None:
    for at in ("9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z"):
        doc = site.doc()
        doc["created_at"] = doc["results"][0]["started_at"] = at
        [o] = site.send(doc)
        assert o.status == 422
        assert "in the future" in o.error or "older than the replay horizon" in o.error
    with site.engine.connect() as conn:
        clock = conn.execute(sa.select(findings.c.evidence).where(
            findings.c.subject == "collector-time")).scalar_one()
    assert clock["report_created_at"].startswith("1970-01-01")
    assert _rendered(site) == {}  # nothing stored, and the page shows the host all the same
    assert site.api("/api/v1/findings")[1]["total"] == 1
    assert site.page("/findings").status_code == 200


def test_a_report_that_trips_a_collector_bug_fails_alone(site: Site, monkeypatch) -> None:
    """Should a value still get past the boundary and break verification, that report is
    answered 500 (the agent keeps it and sends it again) and the batch's others are
    stored. The bug is injected: a validator that fails on one check's data."""
    from hostpatrol.collector.store import resultdata

    real = resultdata.data_problem

    def broken(check: str, status: str, data: Any) -> Any:
        if check == "zz_trips":
            raise RecursionError("a bug in a validator")
        return real(check, status, data)

    monkeypatch.setattr(resultdata, "data_problem", broken)
    trips = site.doc(results=[result("zz_trips", {"x": 1})])
    good, bad, good_too = site.send(site.doc(), trips, site.doc())
    assert (good.outcome, good_too.outcome) == ("accepted", "accepted")
    assert (bad.outcome, bad.status, bad.reason) == ("rejected", 500, "internal")
    assert "sent again" in bad.error
