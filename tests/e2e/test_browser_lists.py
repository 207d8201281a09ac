"""The lists in real headless Chromium against a real collector process with 150+ hosts:
sorting kept in the URL, search, CSV/XLSX downloads, select-all, and every overview figure
equal to the number of rows behind its link."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import headless
import pytest
from harness import Collector, free_port
from hostpatrol.collector.config import load_config
from hostpatrol.collector.store.db import make_engine
from lists_fleet import address, host_name, seed
from openpyxl import load_workbook

pytestmark = pytest.mark.slow
HOSTS = 150


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Collector, dict[str, str]]]:
    """A collector whose store holds 150 hosts that reported through the real ingest path."""
    root = tmp_path_factory.mktemp("lists-browser")
    c = Collector(root / "data", free_port())
    c.init()
    c.api_token("admin")  # the admin user, with the harness password
    engine = make_engine(load_config(c.data_dir).database_url)
    ids = seed(engine, HOSTS)
    engine.dispose()
    c.start()
    try:
        yield c, ids
    finally:
        c.stop()


@pytest.fixture(scope="module")
def signed_in(served, browser, tmp_path_factory):
    chrome = browser
    c, _ = served
    downloads = tmp_path_factory.mktemp("downloads")
    chrome.execute_cdp_cmd("Page.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    headless.sign_in(chrome, c.url, "admin")
    return chrome, downloads


def _total(chrome, what: str = "hosts") -> int:
    return int(chrome.find_element(headless.by().ID, f"{what}-total").get_attribute("data-total"))


def _names(chrome) -> list[str]:
    return [a.text for a in chrome.find_elements(headless.by().CSS_SELECTOR, "#hosts a.host")]


def _download(downloads: Path, suffix: str, before: set[str]) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [p for p in downloads.iterdir()
                if p.name not in before and p.suffix == suffix]
        if done:
            return done[0]
        time.sleep(0.2)
    pytest.fail(f"no {suffix} download")
    raise AssertionError  # unreachable


def test_sort_by_clicking_is_kept_in_the_url(served, signed_in) -> None:
    c, _ = served
    chrome, _ = signed_in
    by = headless.by()
    chrome.get(f"{c.url}/hosts")
    assert _total(chrome) >= HOSTS
    first = _names(chrome)
    assert first == sorted(first, key=str.lower)
    assert first != sorted(first)  # Host-… and host-… interleave: case is ignored
    chrome.find_element(by.CSS_SELECTOR, "th a[data-sort='hostname']").click()
    headless.wait(chrome, lambda b: "dir=desc" in b.current_url)
    down = _names(chrome)
    assert down == sorted(down, key=str.lower, reverse=True)
    bookmark = chrome.current_url
    chrome.get(f"{c.url}/")
    chrome.get(bookmark)  # a bookmark reproduces the view
    assert _names(chrome) == down
    chrome.find_element(by.CSS_SELECTOR, "nav.pages a[href*='page=2']").click()
    headless.wait(chrome, lambda b: "page=2" in b.current_url)
    assert "dir=desc" in chrome.current_url
    assert _names(chrome)[0].lower() < down[-1].lower()  # page 2 carries on in order


def test_search_by_ip_and_package_then_download_both_formats(served, signed_in) -> None:
    c, _ = served
    chrome, downloads = signed_in
    by = headless.by()
    chrome.get(f"{c.url}/hosts")
    box = chrome.find_element(by.NAME, "q")
    box.send_keys(address(42))
    box.submit()
    headless.wait(chrome, lambda b: "q=" in b.current_url)
    assert _names(chrome) == [host_name(42)]
    chrome.get(f"{c.url}/hosts?q=nginx&sort=last_seen&dir=desc")
    shown = _total(chrome)
    assert shown == HOSTS // 2
    before = {p.name for p in downloads.iterdir()}
    chrome.find_element(by.ID, "export-csv").click()
    path = _download(downloads, ".csv", before)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) - 1 == shown
    assert {r[0] for r in rows[1:]} == {host_name(i) for i in range(0, HOSTS, 2)}
    assert not any(cell.startswith("'") for r in rows for cell in r)
    before = {p.name for p in downloads.iterdir()}
    chrome.find_element(by.ID, "export-xlsx").click()
    sheet = load_workbook(_download(downloads, ".xlsx", before)).active
    table = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in table[1:]] == [r[0] for r in rows[1:]]


def test_select_all_ticks_the_page_only(served, signed_in) -> None:
    c, _ = served
    chrome, _ = signed_in
    by = headless.by()
    chrome.get(f"{c.url}/findings?state=work")
    total = _total(chrome, "findings")
    boxes = chrome.find_elements(by.CSS_SELECTOR, "#findings input[name='ids']")
    assert total > len(boxes) == 50  # more findings than one page holds
    master = chrome.find_element(by.ID, "select-all")
    master.click()
    assert all(b.is_selected() for b in boxes)
    assert chrome.find_element(by.ID, "selected-count").text == str(len(boxes))
    boxes[0].click()
    assert chrome.execute_script("return arguments[0].indeterminate", master)
    assert chrome.find_element(by.ID, "selected-count").text == str(len(boxes) - 1)
    master.click()
    assert all(b.is_selected() for b in boxes)
    master.click()
    assert not any(b.is_selected() for b in boxes)


def test_every_overview_figure_is_the_count_at_its_link(served, signed_in) -> None:
    c, _ = served
    chrome, _ = signed_in
    chrome.get(f"{c.url}/")
    figures = chrome.execute_script("""
      return Array.from(document.querySelectorAll('main a[href]')).map(a => {
        const m = a.textContent.trim().match(/^([\\d,]+)(\\s|$)/);
        return m ? [a.getAttribute('href'), parseInt(m[1].replace(/,/g, ''), 10)] : null;
      }).filter(x => x && /^\\/(hosts|findings)\\?/.test(x[0]));""")
    assert len(figures) >= 15
    for href, n in figures:
        chrome.get(c.url + href)
        what = "findings" if href.startswith("/findings") else "hosts"
        assert _total(chrome, what) == n, href
