"""Headless Chromium for the dashboard's browser tests (Debian's chromium and chromium-driver).

``browser`` is a module-scoped fixture: a test module imports it by name. The helpers
wait on the page the last click loaded instead of racing it.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PASSWORD

CHROMIUM = "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--ignore-certificate-errors", "--window-size=1280,900")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium driven by chromedriver (both from Debian packages)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver must be installed (scripts/test-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def by():
    """selenium's ``By`` (imported late: selenium is a test dependency only)."""
    from selenium.webdriver.common.by import By

    return By


def wait(chrome, until, timeout: float = 20, message: str = "") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, timeout).until(until, message)


def shows(chrome, css: str, text: str) -> None:
    """Wait until the element ``css`` (on the page the last click loaded) holds ``text``."""
    from selenium.common.exceptions import StaleElementReferenceException

    def ready(b) -> bool:
        try:
            return any(text in e.text for e in b.find_elements(by().CSS_SELECTOR, css))
        except StaleElementReferenceException:
            return False
    wait(chrome, ready, 15, f"{css} never showed {text!r}")


def sign_in(chrome, url: str, name: str, password: str = PASSWORD) -> None:
    """Sign in as ``name`` from a fresh session."""
    chrome.delete_all_cookies()
    chrome.get(f"{url}/login")
    chrome.find_element(by().NAME, "username").send_keys(name)
    chrome.find_element(by().NAME, "password").send_keys(password)
    chrome.find_element(by().CSS_SELECTOR, "form.login button").click()
    # the click returns before the POST's redirect lands; "/login?next=/hosts" also ends
    # with "/hosts", so wait for the login page to be gone rather than racing it
    wait(chrome, lambda b: "/login" not in b.current_url, 15)
