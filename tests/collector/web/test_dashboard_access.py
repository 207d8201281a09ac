"""Who may open what: every route × every role and anonymous; viewer scope; sessions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hostpatrol.collector import audit, authz
from hostpatrol.collector.store.schema import agents
from webapp import BASE, ROLES, WebApp, make_webapp

# Routes anyone may open, and what an anonymous visitor gets there.
OPEN = {"static", "web.login", "web.language", "web.static", "web.logout", "meta.healthz",
        "meta.metrics", "meta.openapi"}


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    """One app for the module (CSRF off: this file tests authorization only)."""
    web = make_webapp(tmp_path_factory.mktemp("web"))
    yield web
    web.engine.dispose()


def _url(w: WebApp, rule) -> str:
    values = {"agent_id": w.hosts["g1"], "report_id": w.reports[w.hosts["g1"]],
              "user_id": w.users["viewer"], "action": "approve", "code": "en",
              "filename": "style.css", "id": "1", "finding_id": "1", "waiver_id": "1",
              "period": "2026-W48", "report_pk": "1"}
    with w.app.test_request_context(base_url=BASE):
        from flask import url_for

        return url_for(rule.endpoint, **{a: values.get(a, "x") for a in rule.arguments})


def _routes(w: WebApp):
    for rule in w.app.url_map.iter_rules():
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS"})[0]
        yield rule, method, w.app.view_functions[rule.endpoint]


def test_every_dashboard_route_declares_who_may_use_it(w: WebApp) -> None:
    for rule, _, view in _routes(w):
        if rule.endpoint == "web.static":
            continue
        if rule.endpoint.startswith("web.") or rule.endpoint in ("api.get_hosts",
                                                                 "api.get_host"):
            assert hasattr(view, "hostpatrol_permission"), rule.endpoint


def test_anonymous_is_refused_everywhere_but_the_open_routes(w: WebApp) -> None:
    client = w.client()
    checked = 0
    for rule, method, _ in _routes(w):
        if rule.endpoint in OPEN:
            continue
        resp = client.open(_url(w, rule), method=method, base_url=BASE)
        checked += 1
        if rule.rule.startswith("/api/"):
            assert resp.status_code in (400, 401, 403, 404, 405, 415), (rule.rule, resp.status)
            assert resp.status_code != 200
        else:
            assert resp.status_code == 302, (rule.rule, resp.status)
            assert "/login" in resp.headers["Location"], rule.rule
    assert checked >= 12


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(w: WebApp, role: str) -> None:
    client = w.client(role)
    checked = 0
    for rule, method, view in _routes(w):
        if not getattr(view, "hostpatrol_enforced", False):
            continue  # public, or checked inside the view by its own package
        permission = view.hostpatrol_permission
        resp = client.open(_url(w, rule), method=method, base_url=BASE)
        checked += 1
        allowed = authz.has(_user(w, role), permission)
        if allowed:
            assert resp.status_code not in (401, 403), (role, rule.rule, resp.status)
            assert not (resp.status_code == 302 and "/login" in resp.headers["Location"])
        else:
            assert resp.status_code == 403, (role, rule.rule, resp.status)
    assert checked >= 12


def _user(w: WebApp, role: str):
    from hostpatrol.collector.store import users as user_store

    with w.engine.connect() as conn:
        return user_store.by_id(conn, w.users[role])


def test_permission_table_matches_the_roles_the_rules_name() -> None:
    assert authz.PERMISSIONS["audit"] == {"admin", "auditor"}
    assert authz.PERMISSIONS["admin"] == {"admin"}
    assert "auditor" not in authz.PERMISSIONS["operate"] | authz.PERMISSIONS["approve"]
    assert "operator" not in authz.PERMISSIONS["approve"]
    assert authz.PERMISSIONS["read"] == set(authz.ROLES)


def test_viewer_sees_only_its_groups(w: WebApp) -> None:
    viewer, auditor = w.client("viewer"), w.client("auditor")
    listing = viewer.get("/hosts", base_url=BASE).text
    assert "alpha" in listing
    assert "beta" not in listing
    assert viewer.get(f"/hosts/{w.hosts['g2']}", base_url=BASE).status_code == 404
    jws_url = f"/hosts/{w.hosts['g2']}/evidence/{w.reports[w.hosts['g2']]}.jws"
    assert viewer.get(jws_url, base_url=BASE).status_code == 404
    assert viewer.get(f"/hosts/{w.hosts['g1']}", base_url=BASE).status_code == 200
    api = viewer.get("/api/v1/hosts", base_url=BASE).get_json()
    assert [h["hostname"] for h in api["hosts"]] == ["alpha"]
    assert api["total"] == 1
    assert viewer.get(f"/api/v1/hosts/{w.hosts['g2']}", base_url=BASE).status_code == 404
    everything = auditor.get("/hosts", base_url=BASE).text
    assert "alpha" in everything
    assert "beta" in everything


def test_logout_ends_the_server_side_session(w: WebApp) -> None:
    client = w.client("operator")
    assert client.get("/hosts", base_url=BASE).status_code == 200
    with client.session_transaction(base_url=BASE) as sess:
        stolen = dict(sess)
    assert client.post("/logout", base_url=BASE).status_code == 302
    replay = w.app.test_client()
    with replay.session_transaction(base_url=BASE) as sess:
        sess.update(stolen)  # the old cookie's content, replayed
    resp = replay.get("/hosts", base_url=BASE)
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    with w.engine.connect() as conn:
        assert audit.count(conn, audit.AuditFilter(action="logout", actor="operator")) == 1


def test_admin_actions_are_audited_and_disabled_users_lose_their_session(w: WebApp) -> None:
    admin, approver = w.client("admin"), w.client("approver")
    pending = w.hosts["g2"]
    with w.engine.begin() as conn:
        conn.execute(agents.update().where(agents.c.id == pending).values(status="pending"))
    assert admin.post(f"/agents/{pending}/approve", base_url=BASE).status_code == 302
    made = admin.post("/agents/tokens", data={"uses": "3", "expires": "7d", "group": "g9"},
                      base_url=BASE)
    assert "hostpatrol-agent enroll --server https://" in made.text
    created = admin.post("/users", data={"name": "carol", "role": "viewer", "groups": "g1"},
                         base_url=BASE)
    assert "carol" in created.text
    resp = admin.post(f"/users/{w.users['approver']}",
                      data={"role": "approver", "groups": "", "disabled": "on"}, base_url=BASE)
    assert resp.status_code == 302
    assert approver.get("/hosts", base_url=BASE).status_code == 302  # session ended
    last = admin.post(f"/users/{w.users['admin']}", data={"role": "viewer", "groups": ""},
                      base_url=BASE, follow_redirects=True)
    assert "last admin" in last.text
    with w.engine.connect() as conn:
        actions = [r.action for r in audit.iter_entries(conn, audit.AuditFilter(actor="admin"))]
        assert {"agent.approve", "token.create", "user.create", "user.update"} <= set(actions)
        assert conn.execute(sa.select(agents.c.status).where(agents.c.id == pending)
                            ).scalar_one() == "active"
        assert audit.verify(conn).ok
