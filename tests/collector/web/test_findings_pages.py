"""The findings register pages: filters, assign, transitions, bulk, waivers, baselines, panels."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from forge import disk, result
from hostpatrol.collector import audit
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import findings, waivers
from hostpatrol.shared.clock import utcnow
from webapp import BASE, WebApp, make_webapp


def ports(*numbers: int) -> dict:
    """A ports result listening on ``numbers`` (TCP, every interface)."""
    return {"listening": [{"protocol": "tcp", "port": n, "address": "0.0.0.0",  # noqa: S104
                           "family": "ipv4",
                           "pid": None, "process": None, "user": None} for n in numbers],
            "truncated": False, "tcp_ports": list(numbers), "udp_ports": [],
            "owner_unknown": len(numbers), "services": [], "services_down": [], "error": None}


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    """Hosts with findings: two full disks in g1, one in g2, and a port drift in g1."""
    web = make_webapp(tmp_path_factory.mktemp("register"))
    with web.engine.begin() as conn:  # owners must be known people (users or contacts)
        for name in ("alice", "bob", "carol"):
            user_store.add_user(conn, name, "operator", None, web.now())
    for name, group in (("full-1", "g1"), ("full-2", "g1"), ("full-3", "g2")):
        web.hosts[name] = web.enroll_host(group, name, results=[result("disk", disk(97.0))])
    host = web.enroll_host("g1", "drifty", results=[result("ports", ports(22))])
    web.hosts["drifty"] = host
    yield web
    web.engine.dispose()


def _rows(w: WebApp, **where) -> list:
    with w.engine.connect() as conn:
        q = sa.select(findings).order_by(findings.c.id)
        for k, v in where.items():
            q = q.where(getattr(findings.c, k) == v)
        return list(conn.execute(q).all())


def _finding(w: WebApp, host: str) -> sa.Row:
    return _rows(w, agent_id=w.hosts[host], rule_id="disk-used")[0]


def _actions(w: WebApp, actor: str) -> list[str]:
    with w.engine.connect() as conn:
        return [r.action for r in audit.iter_entries(conn, audit.AuditFilter(actor=actor))]


def test_register_lists_filters_and_scopes_findings(w: WebApp) -> None:
    admin = w.client("admin")
    page = admin.get("/findings", base_url=BASE).text
    for name in ("full-1", "full-2", "full-3"):
        assert name in page
    assert "Disk usage too high" in page
    only_g2 = admin.get("/findings?group=g2", base_url=BASE).text
    assert "full-3" in only_g2
    assert "full-1" not in only_g2
    by_host = admin.get("/findings?host=full-2", base_url=BASE).text
    assert "full-2" in by_host
    assert "full-1" not in by_host
    assert "No finding matches." in admin.get("/findings?level=I", base_url=BASE).text
    viewer = w.client("viewer").get("/findings", base_url=BASE).text  # viewer: group g1
    assert "full-1" in viewer
    assert "full-3" not in viewer
    hidden = _finding(w, "full-3")
    assert w.client("viewer").get(f"/findings/{hidden.id}", base_url=BASE).status_code == 404


def test_finding_page_shows_factors_timeline_and_evidence(w: WebApp) -> None:
    row = _finding(w, "full-1")
    page = w.client("auditor").get(f"/findings/{row.id}", base_url=BASE).text
    assert 'id="factors"' in page
    assert "base level of the rule" in page
    assert 'id="evidence-link"' in page
    assert 'id="timeline"' in page
    assert "opened" in page
    assert 'id="assign-form"' not in page  # an auditor changes nothing


def test_assign_and_transition_go_through_the_lifecycle_and_are_audited(w: WebApp) -> None:
    operator = w.client("operator")
    fid = _finding(w, "full-1").id
    resp = operator.post(f"/findings/{fid}/assign", data={"owner": "alice", "note": "yours"},
                         base_url=BASE, follow_redirects=True)
    assert "assigned to alice" in resp.text
    row = _rows(w, id=fid)[0]
    assert (row.state, row.owner) == ("assigned", "alice")
    operator.post(f"/findings/{fid}/transition", data={"to": "in_progress"}, base_url=BASE)
    refused = operator.post(f"/findings/{fid}/transition", data={"to": "verified"},
                            base_url=BASE, follow_redirects=True)
    assert "Not done" in refused.text  # only the agent verifies
    assert _rows(w, id=fid)[0].state == "in_progress"
    again = operator.post(f"/findings/{fid}/assign", data={"owner": "bob"}, base_url=BASE)
    assert again.status_code == 302
    assert _rows(w, id=fid)[0].owner == "bob"
    actions = _actions(w, "operator")
    assert actions.count("finding.transition") == 1
    assert actions.count("finding.assign") == 2
    with w.engine.connect() as conn:
        assert audit.verify(conn).ok
    timeline = w.client("viewer").get(f"/findings/{fid}", base_url=BASE).text
    assert "owner changed" in timeline
    assert w.client("auditor").post(f"/findings/{fid}/assign", data={"owner": "x"},
                                    base_url=BASE).status_code == 403


def test_an_owner_must_be_a_known_user_or_contact(w: WebApp) -> None:
    fid = _finding(w, "full-1").id
    before = _rows(w, id=fid)[0].owner
    page = w.client("operator").get(f"/findings/{fid}", base_url=BASE).text
    assert '<datalist id="owners">' in page
    assert '<option value="carol">' in page
    typo = w.client("operator").post(f"/findings/{fid}/assign", data={"owner": "alcie"},
                                     base_url=BASE, follow_redirects=True)
    assert "neither a user nor an owner the policy names" in typo.text
    assert _rows(w, id=fid)[0].owner == before
    bulk = w.client("admin").post("/findings/bulk", data={"ids": [str(fid)], "op": "assign",
                                                          "owner": "nobody-here"},
                                  base_url=BASE, follow_redirects=True)
    assert "0 finding(s) changed, 1 refused." in bulk.text
    other = _finding(w, "full-3")
    assert other.state == "open"
    moved = w.client("operator").post(f"/findings/{other.id}/transition",
                                      data={"to": "assigned", "owner": "alcie"},
                                      base_url=BASE, follow_redirects=True)
    assert "neither a user nor an owner the policy names" in moved.text
    assert _rows(w, id=other.id)[0].state == "open"
    with w.engine.begin() as conn:
        user_store.set_api_token(conn, w.users["operator"], "hpt_owner-test")
    api = w.app.test_client().post(f"/api/v1/findings/{other.id}/transition",
                                   json={"to": "assigned", "owner": "alcie"}, base_url=BASE,
                                   headers={"Authorization": "Bearer hpt_owner-test"})
    assert api.status_code == 400
    assert "neither a user nor an owner" in api.json["error"]
    assert _rows(w, id=other.id)[0].state == "open"


def test_bulk_actions_do_each_finding_or_refuse_it(w: WebApp) -> None:
    ids = [_finding(w, "full-2").id, _finding(w, "full-3").id]
    admin = w.client("admin")
    resp = admin.post("/findings/bulk", data={"ids": [str(i) for i in ids], "op": "assign",
                                              "owner": "carol"},
                      base_url=BASE, follow_redirects=True)
    assert "2 finding(s) changed, 0 refused." in resp.text
    assert {r.owner for r in _rows(w) if r.id in ids} == {"carol"}
    resp = admin.post("/findings/bulk", data={"ids": [str(i) for i in ids], "op": "transition",
                                              "to": "closed"},
                      base_url=BASE, follow_redirects=True)
    assert "0 finding(s) changed, 2 refused." in resp.text
    assert all(r.state == "assigned" for r in _rows(w) if r.id in ids)


def test_waiver_is_approved_by_someone_else_only(w: WebApp) -> None:
    fid = _finding(w, "full-2").id
    approver, admin = w.client("approver"), w.client("admin")
    made = approver.post(f"/findings/{fid}/waivers",
                         data={"justification": "replacement disk ordered", "days": "14"},
                         base_url=BASE, follow_redirects=True)
    assert "another approver" in made.text
    with w.engine.connect() as conn:
        wid = conn.execute(sa.select(waivers.c.id).where(waivers.c.finding_id == fid)
                           ).scalar_one()
    own = approver.post(f"/waivers/{wid}/approve", base_url=BASE, follow_redirects=True)
    assert "separation of duties" in own.text
    assert _rows(w, id=fid)[0].state == "assigned"
    assert w.client("operator").post(f"/waivers/{wid}/approve",
                                     base_url=BASE).status_code == 403
    listing = admin.get("/findings", base_url=BASE).text
    assert 'id="pending-waivers"' in listing
    admin.post(f"/waivers/{wid}/approve", base_url=BASE)
    assert _rows(w, id=fid)[0].state == "waived"
    assert "waiver.approve" in _actions(w, "admin")
    assert "waiver.request" in _actions(w, "approver")


def test_overview_panel_counts_open_and_overdue(w: WebApp) -> None:
    fid = _finding(w, "full-3").id
    with w.engine.begin() as conn:
        conn.execute(findings.update().where(findings.c.id == fid)
                     .values(deadline=utcnow() - timedelta(days=1)))
    page = w.client("auditor").get("/", base_url=BASE).text
    assert 'id="open-findings"' in page
    overdue = page.split('id="overdue-card"')[1].split("</b>")[0]
    assert overdue.endswith(">1")
    listed = w.client("auditor").get("/findings?overdue=1", base_url=BASE).text
    assert "full-3" in listed
    assert "full-1" not in listed
    assert "overdue" in w.client("auditor").get(f"/findings/{fid}", base_url=BASE).text


def test_dossier_shows_findings_and_approves_baseline_drift(w: WebApp) -> None:
    host = w.hosts["drifty"]
    from forge import report_doc, sign
    from hostpatrol.collector.intake.ingest import ingest
    from webapp import LIMITS

    key = w.keys[host]
    doc = report_doc(host, seq=2, results=[result("ports", ports(22, 8080))])
    assert ingest(w.engine, [sign(doc, key)], limits=LIMITS)[0].outcome == "accepted"
    drift = _rows(w, agent_id=host, rule_id="new-port")
    assert [(r.subject, r.state) for r in drift] == [("tcp/8080", "open")]
    page = w.client("operator").get(f"/hosts/{host}", base_url=BASE).text
    assert 'id="host-findings-table"' in page
    assert 'id="host-timeline"' in page
    assert "tcp/8080" in page
    assert 'name="approve-ports"' in page
    resp = w.client("operator").post(f"/hosts/{host}/baseline/ports/approve", base_url=BASE,
                                     follow_redirects=True)
    assert "now holds 2 item(s)" in resp.text
    assert _rows(w, agent_id=host, rule_id="new-port")[0].state == "verified"
    assert "baseline.approve" in _actions(w, "operator")
    assert w.client("viewer").post(f"/hosts/{host}/baseline/ports/approve",
                                   base_url=BASE).status_code == 403
