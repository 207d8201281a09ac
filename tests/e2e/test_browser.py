"""The dashboard in real headless Chromium against a real collector process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import headless
import pytest
from forge import enroll_key, sign
from harness import PASSWORD, Collector, agent, free_port
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time
from webapp import XSS_HOST, hostile_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Collector, dict[str, str]]]:
    """A collector with a real agent's host, a hostile host and a pending agent."""
    root = tmp_path_factory.mktemp("browser")
    c = Collector(root / "data", free_port())
    c.init()
    c.start()
    try:
        c.api_token("admin")  # creates the admin user with the harness password
        state = root / "agent"
        agent(state, *c.join_line("--auto-approve", "--group", "head-office")[1:])
        agent(state, "run", "--once", "--checks", "disk,inventory")
        ids = {"real": json.loads((state / "enrollment.json").read_text())["agent_id"]}
        evil_id, key, _ = enroll_key(c, c.token("--auto-approve"))
        now = utcnow()
        from forge import report_doc

        doc = report_doc(evil_id, created_at=now, results=hostile_results(format_time(now)))
        doc["host"]["hostname"] = XSS_HOST
        assert c.post("/api/v1/reports", sign(doc, key), "application/jose").ok
        ids["evil"] = evil_id
        ids["pending"], _, _ = enroll_key(c, c.token())
        yield c, ids
    finally:
        c.stop()


def _login(browser, url: str) -> None:
    by = headless.by()
    browser.get(f"{url}/hosts")
    assert "/login" in browser.current_url
    browser.find_element(by.NAME, "username").send_keys("admin")
    browser.find_element(by.NAME, "password").send_keys(PASSWORD)
    browser.find_element(by.CSS_SELECTOR, "form.login button").click()
    # the click returns before the POST's redirect lands; "/login?next=/hosts" also ends
    # with "/hosts", so wait for the login page to be gone rather than racing it
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda b: "/login" not in b.current_url)


def _no_dialog(browser) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no dialog is open


def test_sign_in_hosts_dossier_language_and_approval(served, browser) -> None:
    c, ids = served
    by = headless.by()
    _login(browser, c.url)
    assert browser.current_url.endswith("/hosts")
    table = browser.find_element(by.ID, "hosts").text
    assert "head-office" in table
    browser.find_element(by.CSS_SELECTOR, f"a[href='/hosts/{ids['real']}']").click()
    headless.shows(browser, "#disk", "/")
    assert browser.find_element(by.ID, "disk").is_displayed()
    assert browser.find_element(by.CSS_SELECTOR, "#disk-history + svg.chart")
    # the stylesheet loaded from our own origin (no inline styles under the CSP)
    bg = browser.execute_script(
        "return getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert bg == "rgb(20, 33, 61)"

    browser.find_element(by.CSS_SELECTOR, "nav.lang a[lang='zh-CN']").click()
    headless.shows(browser, "body", "一机一档")
    assert browser.find_element(by.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    browser.get(f"{c.url}/")
    assert "各检查项合格率" in browser.find_element(by.TAG_NAME, "body").text
    browser.find_element(by.CSS_SELECTOR, "nav.lang a[lang='en']").click()
    headless.shows(browser, "body", "Compliance by check area")

    browser.get(f"{c.url}/agents")
    row = browser.find_element(by.XPATH, f"//tr[.//div[text()='{ids['pending']}']]")
    assert "pending" in row.text
    row.find_element(by.NAME, "approve").click()
    headless.shows(browser, "p.flash", "is now active")
    listed = {line.split()[0]: line.split()[1] for line in
              c.cli("agents", "list").stdout.splitlines()[1:]}
    assert listed[ids["pending"]] == "active"
    browser.get(f"{c.url}/audit?action=agent.approve")
    assert ids["pending"] in browser.find_element(by.ID, "audit").text


def test_hostile_hostname_and_log_samples_render_as_text(served, browser) -> None:
    c, ids = served
    by = headless.by()
    browser.get(f"{c.url}/hosts")
    if "/login" in browser.current_url:
        _login(browser, c.url)
        browser.get(f"{c.url}/hosts")
    for path in ("/hosts", "/agents", f"/hosts/{ids['evil']}"):
        browser.get(f"{c.url}{path}")
        _no_dialog(browser)
        assert browser.execute_script("return window.__pwned === undefined")
        assert not browser.find_elements(by.CSS_SELECTOR, "main script, main img, main svg[onload]")
    heading = browser.find_element(by.ID, "hostname").text
    assert "<script>window.__pwned=1</script>" in heading
    samples = browser.find_element(by.ID, "log-templates").text
    assert '<img src=x onerror="window.__pwned=3;alert(3)">' in samples
    assert "<svg onload=alert(5)>" in samples


def test_review_a_finding_waive_it_as_another_user_and_export_the_report(served, browser
                                                                        ) -> None:
    from forge import report_doc
    from selenium.webdriver.support.ui import Select

    c, _ = served
    by = headless.by()
    pw = c.data_dir.parent / "pw.txt"
    pw.write_text(PASSWORD)
    for name, role in (("olga", "operator"), ("arne", "approver")):
        c.cli("user", "add", name, "--role", role, "--password-file", str(pw))
    agent_id, key, _ = enroll_key(c, c.token("--auto-approve", "--group", "branch-a"))
    now = utcnow()
    doc = report_doc(agent_id, created_at=now)
    doc["host"]["hostname"] = "bw-full-disk"
    fs = doc["results"][0]["data"]["filesystems"][0]
    fs.update(used_bytes=970, free_bytes=30, used_percent=97.0)
    assert c.post("/api/v1/reports", sign(doc, key), "application/jose").ok

    headless.sign_in(browser, c.url, "olga")
    browser.get(f"{c.url}/findings?host=bw-full-disk")
    browser.find_element(by.XPATH,
                         "//table[@id='findings']//a[text()='Disk usage too high']").click()
    headless.shows(browser, "#assign-form", "")
    finding_url = browser.current_url
    owner = browser.find_element(by.CSS_SELECTOR, "#assign-form input[name=owner]")
    owner.clear()
    owner.send_keys("olga")
    browser.find_element(by.NAME, "assign").click()
    headless.shows(browser, "p.flash", "assigned to olga")
    Select(browser.find_element(by.CSS_SELECTOR, "#transition-form select[name=to]")
           ).select_by_value("in_progress")
    browser.find_element(by.NAME, "transition").click()
    headless.shows(browser, "#finding-title", "in progress")
    browser.find_element(by.NAME, "justification").send_keys("disk replacement on order")
    browser.find_element(by.NAME, "request-waiver").click()
    headless.shows(browser, "p.flash", "another approver")
    assert not browser.find_elements(by.NAME, "approve-waiver")  # an operator cannot

    headless.sign_in(browser, c.url, "arne")
    browser.get(f"{c.url}/findings")
    row = browser.find_element(by.XPATH, "//section[@id='pending-waivers']//tr[.//a]")
    assert "disk replacement on order" in row.text
    row.find_element(by.NAME, "approve").click()
    headless.shows(browser, "p.flash", "approved")
    browser.get(finding_url)
    assert "waived" in browser.find_element(by.ID, "finding-title").text
    assert "olga" in browser.find_element(by.ID, "timeline").text
    browser.get(f"{c.url}/audit")  # arne is no auditor
    assert "403" in browser.find_element(by.TAG_NAME, "body").text

    browser.get(f"{c.url}/reports")
    browser.find_element(by.CSS_SELECTOR, "nav.lang a[lang='zh-CN']").click()
    headless.shows(browser, "h1", "自查报告")
    browser.find_element(by.CSS_SELECTOR, "#open-period a").click()  # the current week
    headless.shows(browser, "#report-doc", "一、总体情况")
    body = browser.find_element(by.TAG_NAME, "body").text
    assert "网络与信息安全自查报告" in body
    assert "一、总体情况" in body
    assert "磁盘使用率" in browser.find_element(by.ID, "doc-problems").text  # by type
    assert "bw-full-disk" in browser.find_element(by.ID, "doc-annex-problems").text
    pdf_url = browser.find_element(by.ID, "export-pdf-zh-CN").get_attribute("href")
    browser.find_element(by.ID, "export-html-zh-CN").click()
    headless.shows(browser, "h1.doc-title", "网络与信息安全自查报告")
    assert "网络与信息安全自查报告" in browser.title
    assert "特此报告。" in browser.find_element(by.TAG_NAME, "body").text
    session = {k["name"]: k["value"] for k in browser.get_cookies()}
    pdf = c.get(pdf_url.removeprefix(c.url), cookies=session)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    browser.get(f"{c.url}/lang/en")
