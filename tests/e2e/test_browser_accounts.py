"""Accounts, admin reset, groups and agents pages in real headless Chromium, against a real
collector process holding a fleet of 160 hosts."""

from __future__ import annotations

from collections.abc import Iterator

import headless
import pytest
import sqlalchemy as sa
from forge import enroll_key
from harness import Collector, free_port
from hostpatrol.collector.store.schema import agents
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate, key_id

pytestmark = pytest.mark.slow

FLEET = 160
NEW_PASSWORD = "一个足够长的新密码 2026"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Collector, dict[str, str]]]:
    """A collector with 160 hosts in 8 groups and one agent waiting for approval."""
    root = tmp_path_factory.mktemp("browser-accounts")
    c = Collector(root / "data", free_port())
    c.init()
    engine = sa.create_engine(f"sqlite:///{c.data_dir / 'hostpatrol.db'}")
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(agents.insert(), [
            {"id": f"00000000-0000-4000-8000-{i:012d}", "kid": key_id(generate().public_key()),
             "public_key": "x", "status": "active", "hostname": f"fleet-{i:03d}",
             "enrolled_at": now, "last_seen_at": now, "group_name": f"branch-{i % 8}",
             "os_name": "Debian GNU/Linux 12"} for i in range(FLEET)])
    engine.dispose()
    c.start()
    try:
        c.api_token("admin")  # the admin user, with the harness password
        pending, key, _ = enroll_key(c, c.token())
        yield c, {"pending": pending, "kid": key_id(key.public_key())}
    finally:
        c.stop()


def _accept_confirm(browser) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()


def test_chinese_user_display_name_own_password_and_admin_reset(served, browser) -> None:
    c, _ = served
    by = headless.by()
    headless.sign_in(browser, c.url, "admin")
    browser.get(f"{c.url}/users")
    form = browser.find_element(by.ID, "user-form")
    form.find_element(by.NAME, "name").send_keys("张伟")
    form.find_element(by.CSS_SELECTOR, "button[type=submit]").click()
    headless.shows(browser, "#secret", "张伟")  # accepted: no browser pattern message in the way
    first = browser.find_element(by.CSS_SELECTOR, "#secret pre").text.strip()

    headless.sign_in(browser, c.url, "张伟", first)
    browser.find_element(by.CSS_SELECTOR, "a.who").click()
    headless.shows(browser, "h1", "Your account")
    name = browser.find_element(by.CSS_SELECTOR, "#profile-form input[name=display_name]")
    name.clear()
    name.send_keys("张伟（运维部）")
    browser.find_element(by.CSS_SELECTOR, "#profile-form button").click()
    headless.shows(browser, "p.flash", "张伟（运维部）")
    headless.shows(browser, "a.who", "张伟（运维部）")
    pw = browser.find_element(by.ID, "password-form")
    pw.find_element(by.NAME, "current").send_keys(first)
    pw.find_element(by.NAME, "new").send_keys(NEW_PASSWORD)
    pw.find_element(by.NAME, "again").send_keys(NEW_PASSWORD)
    pw.find_element(by.CSS_SELECTOR, "button").click()
    headless.shows(browser, "p.flash", "Your password is changed")
    headless.sign_in(browser, c.url, "张伟", NEW_PASSWORD)
    assert "/login" not in browser.current_url

    headless.sign_in(browser, c.url, "admin")
    browser.get(f"{c.url}/users")
    row = browser.find_element(by.XPATH, "//table[@id='users']//tr[.//b[text()='张伟']]")
    row.find_element(by.CSS_SELECTOR, "form.reset-password button").click()
    _accept_confirm(browser)
    headless.shows(browser, "#secret", "张伟")
    reset = browser.find_element(by.CSS_SELECTOR, "#secret pre").text.strip()
    assert reset not in (first, NEW_PASSWORD)
    browser.get(f"{c.url}/audit?action=user.password_reset")
    headless.shows(browser, "body", "user:张伟")
    headless.sign_in(browser, c.url, "张伟", reset)
    headless.shows(browser, "a.who", "张伟（运维部）")


def test_agents_page_paginates_shows_the_pending_agent_and_both_join_lines(served,
                                                                          browser) -> None:
    c, ids = served
    by = headless.by()
    headless.sign_in(browser, c.url, "admin")
    browser.get(f"{c.url}/agents")
    rows = browser.find_elements(by.CSS_SELECTOR, "#agents tbody tr")
    assert len(rows) == 50
    assert ids["pending"] in rows[0].text  # pending first
    assert "127.0.0.1" in rows[0].text
    assert ids["kid"] in rows[0].text
    assert "page 1 of 4" in browser.find_element(by.CSS_SELECTOR, "nav.pages").text
    tokens_y = browser.find_element(by.ID, "tokens-section").location["y"]
    assert tokens_y < browser.find_element(by.ID, "agents").location["y"]
    browser.find_element(by.PARTIAL_LINK_TEXT, "next").click()
    headless.shows(browser, "nav.pages", "page 2 of 4")
    assert len(browser.find_elements(by.CSS_SELECTOR, "#agents tbody tr")) == 50
    browser.get(f"{c.url}/agents")
    browser.find_element(by.CSS_SELECTOR, "#token-form button[type=submit]").click()
    headless.shows(browser, "#join-linux", "hostpatrol-agent enroll --server")
    headless.shows(browser, "#join-windows", "install.cmd --server")
    row = browser.find_element(by.XPATH, f"//tr[.//div[text()='{ids['pending']}']]")
    row.find_element(by.NAME, "approve").click()
    headless.shows(browser, "p.flash", "is now active")


def test_groups_owners_and_hosts_saved_by_one_submit(served, browser) -> None:
    c, _ = served
    by = headless.by()
    c.cli("user", "add", "张伟", "--role", "operator", check=False)  # when run on its own
    headless.sign_in(browser, c.url, "admin")
    browser.get(f"{c.url}/groups")
    groups = browser.find_elements(by.CSS_SELECTOR, "#groups input[name=name][type=hidden]")
    assert len(groups) >= 8
    owners = browser.find_elements(by.CSS_SELECTOR, "#groups input[name=owner]")
    owners[0].send_keys("admin")
    owners[1].send_keys("张伟")
    parents = browser.find_elements(by.CSS_SELECTOR, "#groups input[name=parent]")
    parents[1].send_keys("branch-0")
    browser.find_element(by.NAME, "save-groups").click()
    headless.shows(browser, "p.flash", "Groups saved as policy version 2")
    owners = browser.find_elements(by.CSS_SELECTOR, "#groups input[name=owner]")
    assert owners[0].get_attribute("value") == "admin"
    assert owners[1].get_attribute("value") == "张伟"
    hosts = browser.find_elements(by.CSS_SELECTOR, "#profiles input[name^='owner-']")
    assert len(hosts) == 50
    hosts[0].send_keys("admin")
    hosts[1].send_keys("张伟")
    browser.find_element(by.NAME, "save-hosts").click()
    headless.shows(browser, "p.flash", "2 host(s) updated.")
    hosts = browser.find_elements(by.CSS_SELECTOR, "#profiles input[name^='owner-']")
    assert [h.get_attribute("value") for h in hosts[:2]] == ["admin", "张伟"]
    browser.find_elements(by.CSS_SELECTOR, "#profiles input[name^='owner-']")[2].send_keys(
        "nobody-known")
    browser.find_element(by.NAME, "save-hosts").click()
    headless.shows(browser, "p.flash", "Not saved")
