"""Sign-in: CSRF on every form, account lockout, per-address rate limit, audit of each try."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from harness import PASSWORD
from hostpatrol.collector import audit
from hostpatrol.collector.store.schema import login_attempts, users
from webapp import BASE, WebApp, csrf_token, make_webapp


@pytest.fixture
def w(tmp_path) -> WebApp:
    """A fresh app per test, CSRF protection on (as in production)."""
    web = make_webapp(tmp_path, csrf=True)
    yield web
    web.engine.dispose()


def _client(w: WebApp, ip: str = "10.0.0.1"):
    c = w.app.test_client()
    c.environ_base.update(REMOTE_ADDR=ip, HTTP_REFERER=f"{BASE}/login")
    return c


def _login(c, name: str, password: str, token: str | None = None):
    token = token or csrf_token(c.get("/login", base_url=BASE).text)
    return c.post("/login", data={"username": name, "password": password,
                                  "csrf_token": token}, base_url=BASE)


def _actions(w: WebApp, action: str) -> list:
    with w.engine.connect() as conn:
        return list(audit.iter_entries(conn, audit.AuditFilter(action=action)))


def test_forms_without_a_valid_csrf_token_are_refused(w: WebApp) -> None:
    c = _client(w)
    no_token = c.post("/login", data={"username": "admin", "password": PASSWORD},
                      base_url=BASE)
    assert no_token.status_code == 400
    assert "CSRF" in no_token.text
    assert _login(c, "admin", PASSWORD).status_code == 302
    for path, data in (("/agents/tokens", {"uses": "1"}), ("/users", {"name": "x", "role":
                       "viewer"}), (f"/agents/{w.hosts['g1']}/revoke", {}), ("/logout", {})):
        forged = c.post(path, data={**data, "csrf_token": "forged"}, base_url=BASE)
        assert forged.status_code == 400, path
    page = c.get("/agents", base_url=BASE)
    ok = c.post("/agents/tokens", data={"uses": "1", "csrf_token": csrf_token(page.text)},
                base_url=BASE)
    assert ok.status_code == 200
    assert "hostpatrol-agent enroll" in ok.text
    assert len(_actions(w, "token.create")) == 1


def test_sign_in_replaces_any_session_the_visitor_brought(w: WebApp) -> None:
    c = _client(w)
    with c.session_transaction(base_url=BASE) as sess:
        sess["sid"] = "attacker-chosen"
        sess["planted"] = "x"
    assert _login(c, "operator", PASSWORD).status_code == 302
    with c.session_transaction(base_url=BASE) as sess:
        assert "planted" not in sess
        assert sess["sid"] != "attacker-chosen"
    assert c.get("/hosts", base_url=BASE).status_code == 200
    [entry] = _actions(w, "login")
    assert entry.actor == "operator"
    assert '"ip":"10.0.0.1"' in entry.details


def test_five_wrong_passwords_lock_the_account(w: WebApp) -> None:
    c = _client(w)
    for _ in range(5):
        assert _login(c, "approver", "wrong password").status_code == 401
    assert _login(c, "approver", PASSWORD).status_code == 401  # locked, right password
    with w.engine.begin() as conn:
        locked = conn.execute(sa.select(users.c.locked_until)
                              .where(users.c.name == "approver")).scalar_one()
        assert locked is not None
        conn.execute(users.update().where(users.c.name == "approver")
                     .values(locked_until=locked - timedelta(hours=1)))  # time passes
    assert _login(c, "approver", PASSWORD).status_code == 302
    failed = _actions(w, "login.failed")
    assert len(failed) == 6
    assert failed[4].details.endswith('"locked":true}')
    assert len(_actions(w, "user.locked")) == 1


def test_rate_limit_per_address_is_kept_in_the_database(w: WebApp) -> None:
    limit = 20
    attacker, other = _client(w, "10.6.6.6"), _client(w, "10.0.0.2")
    token = csrf_token(attacker.get("/login", base_url=BASE).text)
    for i in range(limit):
        assert _login(attacker, f"nobody{i}", "guess", token).status_code == 401
    throttled = _login(attacker, "admin", PASSWORD, token)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text
    # a fresh app (another worker process) sees the same count: it lives in the database
    from hostpatrol.collector.app import create_app

    second = create_app(w.app.extensions["hostpatrol.config"], engine=w.engine).test_client()
    second.environ_base.update(REMOTE_ADDR="10.6.6.6", HTTP_REFERER=f"{BASE}/login")
    second.application.config["WTF_CSRF_ENABLED"] = False
    resp = second.post("/login", data={"username": "admin", "password": PASSWORD},
                       base_url=BASE)
    assert resp.status_code == 429
    assert _login(other, "admin", PASSWORD).status_code == 302  # other addresses unaffected
    with w.engine.begin() as conn:  # the window passes
        for row in conn.execute(sa.select(login_attempts)).all():
            conn.execute(login_attempts.update().where(login_attempts.c.id == row.id)
                         .values(at=row.at - timedelta(minutes=16)))
    assert _login(attacker, "admin", PASSWORD, token).status_code == 302
