"""The dashboard and API against a curious or hostile user: every route of the app × every
role and anonymous (a new route without a declared permission fails here), CSRF on every
form, open redirects, path traversal in downloads and exports, security headers on every
kind of response. Session fixation and stolen-cookie replay: tests/collector/web/
test_dashboard_login.py and test_dashboard_access.py; XSS in a real browser: tests/e2e/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import url_for
from hostpatrol.collector import authz
from hostpatrol.collector.app import SECURITY_HEADERS
from webapp import BASE, WebApp, make_webapp

# Routes with no user permission, by what guards them.
STATIC = {"static", "web.static"}
OPEN = {"web.login", "web.logout", "web.language", "meta.healthz", "meta.metrics",
        "meta.openapi"}
AGENT = {"api.post_enroll", "api.post_reports", "agent_api.get_policy",
         "agent_api.post_rotate"}  # signed by an agent key or an enrollment token
ACTORS = (None, "viewer", "auditor", "approver", "operator", "admin")  # admin last: it acts


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> Iterator[WebApp]:
    """One in-process app (CSRF off: authorization only)."""
    web = make_webapp(tmp_path_factory.mktemp("sec-web"))
    yield web
    web.engine.dispose()


def _values(w: WebApp) -> dict[str, Any]:
    g1 = w.hosts["g1"]
    return {"agent_id": g1, "report_id": w.reports[g1], "user_id": w.users["viewer"],
            "action": "approve", "code": "en", "filename": "style.css", "finding_id": 1,
            "waiver_id": 1, "period": "2026-W48", "kind": "ports", "fmt": "csv"}


def _url(w: WebApp, rule: Any) -> str:
    values = _values(w)
    with w.app.test_request_context(base_url=BASE):
        return url_for(rule.endpoint, **{a: values.get(a, "x") for a in rule.arguments})


def _requests(w: WebApp) -> Iterator[tuple[Any, str, str, Any]]:
    for rule in w.app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, _url(w, rule), w.app.view_functions[rule.endpoint]


def _user(w: WebApp, role: str) -> Any:
    from hostpatrol.collector.store import users as user_store

    with w.engine.connect() as conn:
        return user_store.by_id(conn, w.users[role])


def _to_login(resp: Any) -> bool:
    return resp.status_code == 302 and "/login" in resp.headers.get("Location", "")


@pytest.mark.parametrize("actor", ACTORS)
def test_every_route_of_the_app_for_every_role_and_anonymous(w: WebApp, actor) -> None:
    user = _user(w, actor) if actor else None
    checked = 0
    for rule, method, url, view in _requests(w):
        where = (actor, method, rule.rule)
        declared = getattr(view, "hostpatrol_permission", "undeclared")
        resp = w.client(actor).open(url, method=method, base_url=BASE)
        resp.close()
        checked += 1
        if rule.endpoint in STATIC or rule.endpoint in OPEN:
            # (POST /login without a password is a 401: the wrong password)
            assert resp.status_code not in (401, 403) or (rule.endpoint, method) == (
                "web.login", "POST"), where
            assert rule.endpoint == "web.logout" or not _to_login(resp), where
        elif rule.endpoint in AGENT:
            assert declared in (None, "undeclared"), where
            assert resp.status_code in (400, 401, 403, 415), (where, resp.status_code)
        else:
            assert declared in authz.PERMISSIONS, f"{rule.rule} declares no permission"
            api = rule.rule.startswith("/api/")
            if user is None:
                assert resp.status_code == 401 if api else _to_login(resp), where
            elif authz.has(user, declared):
                assert resp.status_code not in (401, 403), (where, resp.status_code)
                assert not _to_login(resp), where
            else:
                assert resp.status_code == 403, (where, resp.status_code)
    assert checked == sum(1 for _ in _requests(w))
    assert checked >= 50


def test_every_form_refuses_a_post_without_its_csrf_token(tmp_path) -> None:
    web = make_webapp(tmp_path, csrf=True)
    try:
        admin = web.client("admin")
        posts = [(r, u) for r, m, u, _ in _requests(web)
                 if m == "POST" and r.endpoint.startswith("web.")]
        assert len(posts) >= 15
        for rule, url in posts:
            resp = admin.post(url, data={"csrf_token": "forged"}, base_url=BASE,
                              headers={"Referer": f"{BASE}/"})
            assert resp.status_code == 400, (rule.rule, resp.status_code)
            assert "CSRF" in resp.text, rule.rule
    finally:
        web.engine.dispose()


OFFSITE = ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
           "javascript:alert(1)", "/\t/evil.example", "/%2F%2Fevil.example", " //evil.example",
           "http:/evil.example", "/\r\nLocation: https://evil.example", "%2F%2Fevil.example",
           "https:evil.example"]


@pytest.mark.parametrize("target", OFFSITE)
def test_no_open_redirect_after_sign_in_or_language_switch(w: WebApp, target: str) -> None:
    from harness import PASSWORD

    lang = w.client().get("/lang/zh_CN", query_string={"next": target}, base_url=BASE)
    login = w.client().post("/login", query_string={"next": target}, base_url=BASE,
                            data={"username": "auditor", "password": PASSWORD})
    for resp in (lang, login):
        assert resp.status_code == 302
        location = resp.headers["Location"]
        stripped = "".join(c for c in location if c not in "\t\r\n ")
        assert stripped.startswith("/"), location
        assert not stripped.startswith(("//", "/\\")), location
        assert "evil.example" not in stripped.split("?")[0].lstrip("/").split("/")[0] \
            or stripped.startswith("/%"), location


TRAVERSAL = ["/assets/..%2F..%2Fcollector.yaml", "/assets/../app.py", "/static/..%2Fapp.py",
             "/hosts/{g1}/evidence/..%2F..%2F..%2Fetc%2Fpasswd.jws",
             "/hosts/{g1}/evidence/%2E%2E%2Fhostpatrol.db.jws",
             "/hosts/..%2F..%2Fkeys/keys.jwks",
             "/reports/..%2F..%2Fcollector.yaml/export/csv",
             "/reports/2026-W48/export/..%2F..%2Fcollector.yaml",
             "/audit.csv?path=../../collector.yaml", "/assets/%2e%2e/%2e%2e/collector.yaml"]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_no_path_traversal_in_downloads_and_exports(w: WebApp, path: str) -> None:
    resp = w.client("admin").get(path.format(g1=w.hosts["g1"]), base_url=BASE)
    body = resp.get_data()
    assert resp.status_code in (200, 400, 404), resp.status_code
    for secret in (b"PRIVATE KEY", b"bind:", b"SQLite format", b"root:x:0:0", b"import "):
        assert secret not in body, (path, secret)
    if resp.status_code == 200:  # only the audit export answers, and it ignores the path
        assert path.startswith("/audit.csv")
        assert resp.mimetype == "text/csv"


def test_downloads_are_attachments_with_their_own_type(w: WebApp) -> None:
    g1 = w.hosts["g1"]
    admin = w.client("admin")
    jws = admin.get(f"/hosts/{g1}/evidence/{w.reports[g1]}.jws", base_url=BASE)
    assert jws.status_code == 200
    assert jws.mimetype == "application/jose"
    assert jws.headers["X-Content-Type-Options"] == "nosniff"
    csv = admin.get("/audit.csv", base_url=BASE)
    assert csv.status_code == 200
    assert "attachment" in csv.headers.get("Content-Disposition", "")


def _samples(w: WebApp) -> dict[str, Any]:
    g1 = w.hosts["g1"]
    admin, anon = w.client("admin"), w.client()
    return {
        "html page": admin.get("/hosts", base_url=BASE),
        "login page": anon.get("/login", base_url=BASE),
        "redirect": anon.get("/hosts", base_url=BASE),
        "json": admin.get("/api/v1/hosts", base_url=BASE),
        "json error 401": anon.get("/api/v1/hosts", base_url=BASE),
        "json error 404": admin.get("/api/v1/hosts/nope", base_url=BASE),
        "json error 405": admin.delete("/api/v1/reports", base_url=BASE),
        "html error 404": admin.get("/no/such/page", base_url=BASE),
        "html error 403": w.client("viewer").get("/users", base_url=BASE),
        "static": anon.get("/assets/style.css", base_url=BASE),
        "jws download": admin.get(f"/hosts/{g1}/evidence/{w.reports[g1]}.jws",
                                  base_url=BASE),
        "jwks": admin.get(f"/hosts/{g1}/keys.jwks", base_url=BASE),
        "csv export": admin.get("/audit.csv", base_url=BASE),
        "metrics": anon.get("/metrics", base_url=BASE),
        "openapi": anon.get("/openapi.json", base_url=BASE),
        "agent endpoint": anon.post("/api/v1/reports", data="x",
                                    headers={"Content-Type": "application/jose"},
                                    base_url=BASE),
    }


def test_security_headers_on_every_kind_of_response(w: WebApp) -> None:
    for name, resp in _samples(w).items():
        resp.close()
        for header, value in SECURITY_HEADERS.items():
            assert resp.headers.get(header) == value, (name, header, resp.status_code)
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], name
        assert resp.headers["X-Frame-Options"] == "DENY", name  # clickjacking


def test_session_cookie_flags(w: WebApp) -> None:
    from harness import PASSWORD

    resp = w.client().post("/login", data={"username": "operator", "password": PASSWORD},
                           base_url=BASE)
    assert resp.status_code == 302
    cookies = resp.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("hostpatrol_session="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in session


def test_pages_api_answers_and_downloads_are_never_cached(w: WebApp) -> None:
    samples = _samples(w)
    samples["report export"] = w.client("admin").get("/reports/2026-W48/export/csv",
                                                     base_url=BASE)
    for name, resp in samples.items():
        resp.close()
        if name == "static":  # public assets: the browser may keep them (and revalidate)
            assert resp.headers["Cache-Control"] != "no-store"
            continue
        assert resp.headers.get("Cache-Control") == "no-store", (name, resp.status_code)


@pytest.mark.parametrize("target", OFFSITE)
def test_no_open_redirect_after_an_action_form(w: WebApp, target: str) -> None:
    resp = w.client("operator").post("/findings/bulk", data={"next": target, "op": "none"},
                                     base_url=BASE)
    assert resp.status_code == 302
    location = "".join(c for c in resp.headers["Location"] if c not in "\t\r\n ")
    assert location.startswith("/"), location
    assert not location.startswith(("//", "/\\")), location
    assert location == "/findings" or location.startswith("/%"), location


HUGE = str(2**63)  # one past the largest id a 64-bit column holds


def test_ids_and_pages_beyond_64_bits_are_answered_never_a_server_error(w: WebApp) -> None:
    admin = w.client("admin")
    for path in (f"/findings/{HUGE}", f"/findings/{10**30}", f"/api/v1/findings/{HUGE}"):
        resp = admin.get(path, base_url=BASE)
        assert resp.status_code == 404, path
    for path in (f"/findings/{HUGE}/transition", f"/findings/{HUGE}/assign",
                 f"/waivers/{HUGE}/approve", f"/api/v1/waivers/{HUGE}/approve",
                 f"/api/v1/findings/{HUGE}/transition", f"/findings/{HUGE}/waivers"):
        resp = admin.post(path, base_url=BASE, json={"to": "assigned"})
        assert resp.status_code == 404, path
        if path.startswith("/api/"):
            assert resp.json == {"ok": False, "status": 404, "error": resp.json["error"]}
    for page in ("/hosts", "/findings", "/audit", "/groups"):
        resp = admin.get(page, query_string={"page": str(10**30)}, base_url=BASE)
        assert resp.status_code == 200, page
    resp = admin.post("/findings/bulk", base_url=BASE, data={
        "ids": [HUGE, "²", str(10**30), "1"], "op": "transition", "to": "assigned"})
    assert resp.status_code == 302
