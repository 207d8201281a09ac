"""Accounts: one's own password and display name, an admin's reset, names in any script."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from harness import PASSWORD
from hostpatrol.collector.people import clean_user_name, password_acceptable
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import audit_log, web_sessions
from webapp import BASE, WebApp, make_webapp

NEW = "a new passphrase, 足够长"


@pytest.fixture
def w(tmp_path) -> WebApp:
    web = make_webapp(tmp_path)
    yield web
    web.engine.dispose()


def _login(w: WebApp, name: str, password: str, lang: str = "en"):
    c = w.app.test_client()
    c.set_cookie("hostpatrol_lang", lang, domain="localhost")
    resp = c.post("/login", data={"username": name, "password": password}, base_url=BASE)
    return c, resp


def _audit(w: WebApp, action: str) -> list[sa.Row]:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                            .order_by(audit_log.c.seq)).all()


def _sessions(w: WebApp, role: str) -> int:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(web_sessions)
                            .where(web_sessions.c.user_id == w.users[role])).scalar_one()


@pytest.mark.parametrize(("text", "expected"), [
    ("张伟", "张伟"), (" ivan.petrov@corp ", "ivan.petrov@corp"), ("Zoë", "Zoë"),
    ("Zoe\u0308", "Zoë"), ("o'neill", None), ("two words", None), ("", None),
    ("x" * 65, None), ("a\u202eb", None), ("ロボット_01", "ロボット_01")])
def test_user_names_in_any_script(text: str, expected: str | None) -> None:
    assert clean_user_name(text) == expected


def test_password_length_rule() -> None:
    assert not password_acceptable("short")
    assert password_acceptable("x" * 12)
    assert not password_acceptable("x" * 1025)


def test_changing_ones_own_password_needs_the_current_one(w: WebApp) -> None:
    other, _ = _login(w, "operator", PASSWORD)  # a second session of the same user
    c, resp = _login(w, "operator", PASSWORD)
    assert resp.status_code == 302
    assert _sessions(w, "operator") == 2
    page = c.get("/account", base_url=BASE)
    assert page.status_code == 200
    assert 'name="current"' in page.text
    wrong = c.post("/account/password", data={"current": "not it at all", "new": NEW,
                                              "again": NEW}, base_url=BASE,
                   follow_redirects=True)
    assert "current password is wrong" in wrong.text
    assert _login(w, "operator", NEW)[1].status_code == 401  # unchanged
    differ = c.post("/account/password", data={"current": PASSWORD, "new": NEW,
                                               "again": NEW + "x"}, base_url=BASE,
                    follow_redirects=True)
    assert "two new passwords differ" in differ.text
    short = c.post("/account/password", data={"current": PASSWORD, "new": "short",
                                              "again": "short"}, base_url=BASE,
                   follow_redirects=True)
    assert "12 to 1,024 characters" in short.text
    ok = c.post("/account/password", data={"current": PASSWORD, "new": NEW, "again": NEW},
                base_url=BASE, follow_redirects=True)
    assert "Your password is changed" in ok.text
    assert c.get("/account", base_url=BASE).status_code == 200  # this session stays
    gone = other.get("/account", base_url=BASE)  # the other one ended
    assert gone.status_code == 302
    assert "/login" in gone.headers["Location"]
    assert _login(w, "operator", PASSWORD)[1].status_code == 401
    assert _login(w, "operator", NEW)[1].status_code == 302
    assert [r.target for r in _audit(w, "user.password")] == ["user:operator"]
    assert [r.target for r in _audit(w, "user.password_refused")] == ["user:operator"]


def test_wrong_current_passwords_lock_the_account_as_sign_ins_do(w: WebApp) -> None:
    c, _ = _login(w, "auditor", PASSWORD)
    for _ in range(user_store.LOCKOUT_AFTER):
        c.post("/account/password", data={"current": "guess guess guess", "new": NEW,
                                          "again": NEW}, base_url=BASE)
    refused = c.post("/account/password", data={"current": PASSWORD, "new": NEW,
                                                "again": NEW}, base_url=BASE,
                     follow_redirects=True)
    assert "current password is wrong (or the account is locked)" in refused.text
    assert _login(w, "auditor", NEW)[1].status_code == 401


def test_display_name_in_any_script_shows_in_the_header(w: WebApp) -> None:
    c, _ = _login(w, "approver", PASSWORD, lang="zh_CN")
    resp = c.post("/account/profile", data={"display_name": "  王   小明 "}, base_url=BASE,
                  follow_redirects=True)
    assert "王 小明" in resp.text
    with w.engine.connect() as conn:
        assert user_store.by_id(conn, w.users["approver"]).display_name == "王 小明"
    [row] = _audit(w, "user.display_name")
    assert json.loads(row.details)["display_name"] == "王 小明"
    bad = c.post("/account/profile", data={"display_name": "evil\u202ename"}, base_url=BASE,
                 follow_redirects=True)
    assert "显示姓名最多 64 个字符" in bad.text  # our message, in the user's language
    with w.engine.connect() as conn:
        assert user_store.by_id(conn, w.users["approver"]).display_name == "王 小明"


def test_admin_resets_another_users_password_once_and_audited(w: WebApp) -> None:
    victim, _ = _login(w, "viewer", PASSWORD)
    admin = w.client("admin")
    page = admin.get("/users", base_url=BASE).text
    assert f'/users/{w.users["viewer"]}/password' in page
    assert f'/users/{w.users["admin"]}/password' not in page  # not one's own
    resp = admin.post(f'/users/{w.users["viewer"]}/password', base_url=BASE)
    assert resp.status_code == 200
    secret = resp.text.split('<pre class="copy">')[1].split("</pre>")[0]
    assert len(secret) >= 12
    assert victim.get("/", base_url=BASE).status_code == 302  # signed out
    assert _login(w, "viewer", PASSWORD)[1].status_code == 401
    assert _login(w, "viewer", secret)[1].status_code == 302
    [row] = _audit(w, "user.password_reset")
    assert (row.actor, row.target) == ("admin", "user:viewer")
    assert secret not in row.details
    own = admin.post(f'/users/{w.users["admin"]}/password', base_url=BASE)
    assert own.status_code == 302
    assert len(_audit(w, "user.password_reset")) == 1
    assert w.client("operator").post(f'/users/{w.users["viewer"]}/password',
                                     base_url=BASE).status_code == 403


def test_a_chinese_user_name_is_accepted_and_signs_in(w: WebApp) -> None:
    admin = w.client("admin")
    resp = admin.post("/users", data={"name": "张伟", "role": "operator",
                                      "display_name": "张伟 (运维)", "groups": ""},
                      base_url=BASE)
    assert resp.status_code == 200
    secret = resp.text.split('<pre class="copy">')[1].split("</pre>")[0]
    assert _login(w, "张伟", secret)[1].status_code == 302
    form = admin.get("/users", base_url=BASE).text.split('id="user-form"')[1].split("</form>")[0]
    assert "pattern=" not in form  # no browser-side English message


def test_a_bad_user_name_gets_our_localized_message(w: WebApp) -> None:
    admin = w.client("admin")
    admin.set_cookie("hostpatrol_lang", "zh_CN", domain="localhost")
    resp = admin.post("/users", data={"name": "two words", "role": "viewer", "groups": ""},
                      base_url=BASE, follow_redirects=True)
    assert "用户名" in resp.text
    assert "A user name is" not in resp.text


def test_cli_user_password_resets_and_is_audited(w: WebApp, tmp_path) -> None:
    from harness import Collector

    c = Collector(w.data_dir, 0)
    pwfile = tmp_path / "pw"
    pwfile.write_text(NEW + "\n", encoding="utf-8")
    out = c.cli("user", "password", "auditor", "--password-file", str(pwfile))
    assert "password changed" in out.stdout
    assert _login(w, "auditor", NEW)[1].status_code == 302
    generated = c.cli("user", "password", "auditor")  # not a terminal: generated, printed
    secret = generated.stdout.split("password: ")[1].strip()
    assert _login(w, "auditor", secret)[1].status_code == 302
    assert len(_audit(w, "user.password_reset")) == 2
    missing = c.cli("user", "password", "nobody", check=False)
    assert missing.returncode != 0
    assert "no user 'nobody'" in missing.stderr
    bad = c.cli("user", "add", "two words", "--role", "viewer", check=False)
    assert bad.returncode != 0
    assert "user name" in bad.stderr
    cn = c.cli("user", "add", "李娜", "--role", "viewer")
    assert "李娜" in cn.stdout


def test_cli_token_create_prints_the_windows_line_beside_the_one_scripts_run(w: WebApp) -> None:
    from harness import Collector

    out = Collector(w.data_dir, 0).cli("token", "create", "--uses", "2")
    [line] = out.stdout.strip().splitlines()
    assert line.startswith("hostpatrol-agent enroll --server ")
    token = line.split("--token ")[1].split()[0]
    assert "install.cmd --server " in out.stderr
    assert f"--token {token} " in out.stderr
