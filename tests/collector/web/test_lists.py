"""The host list, register and software view: search, sorting, exports and the overview's
drill-down links, on a fleet sending real check data."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
import sqlalchemy as sa
from hostpatrol.collector.reports import rollup
from hostpatrol.collector.store.schema import findings
from lists_fleet import NGINX, address, host_name, seed
from openpyxl import load_workbook
from webapp import BASE, WebApp, make_webapp

HOSTS = 30


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    web = make_webapp(tmp_path_factory.mktemp("lists"))
    web.hosts.update(seed(web.engine, HOSTS, web.now()))
    yield web
    web.engine.dispose()


def _get(w: WebApp, url: str, role: str = "admin") -> str:
    resp = w.client(role).get(url, base_url=BASE)
    assert resp.status_code == 200, url
    return resp.text


def _total(html: str, what: str = "hosts") -> int:
    return int(re.search(rf'id="{what}-total" data-total="(\d+)"', html).group(1))


def _names(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'class="host">([^<]+)</a>', html)]


def _csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Chinese Windows reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_search_by_ip_os_group_package_user_and_owner(w: WebApp) -> None:
    def found(q: str) -> set[str]:
        return set(_names(_get(w, f"/hosts?q={q}&sort=hostname")))

    assert found(address(7)) == {host_name(7)}
    assert found("127.0.0.1") == set()  # loopback is not an address of the host
    assert found("nginx") == {host_name(i) for i in range(0, HOSTS, 2)}
    assert found("clerk3") == {host_name(i) for i in range(HOSTS) if i % 7 == 3}
    assert found("wang") == {host_name(i) for i in range(0, HOSTS, 5)}
    assert len(found("g2")) == len({host_name(i) for i in range(0, HOSTS, 2)}) + 1  # + beta
    os_name = _get(w, "/hosts").split('<td>', 4)[3]  # any listed host's OS shows it
    assert os_name


def test_hostname_sort_ignores_case_and_is_stable(w: WebApp) -> None:
    size = 50
    up = _names(_get(w, "/hosts?sort=hostname"))
    assert up == sorted(up, key=lambda n: (n.lower()))[:size]
    down = _names(_get(w, "/hosts?sort=hostname&dir=desc"))
    assert down == sorted(up, key=str.lower, reverse=True)
    page = _get(w, "/hosts?sort=last_seen&dir=desc&group=g1")
    assert 'href="/hosts?sort=last_seen&amp;dir=asc&amp;group=g1"' in page \
        or "sort=last_seen" in page  # the header keeps the filter
    seen = re.findall(r'data-at="([^"]*)"', page)
    assert seen == sorted(seen, reverse=True)


def test_host_exports_match_the_filtered_list(w: WebApp) -> None:
    client = w.client("admin")
    url = "q=nginx&group=g2&sort=hostname&dir=desc"
    shown = _total(_get(w, f"/hosts?{url}"))
    rows = _csv(client.get(f"/hosts.csv?{url}", base_url=BASE).data)
    assert rows[0][:7] == ["Hostname", "OS", "IP address", "Group", "Owner", "Last seen",
                           "Open findings"]
    assert len(rows) - 1 == shown > 0
    assert [r[0] for r in rows[1:]] == sorted((r[0] for r in rows[1:]), key=str.lower,
                                              reverse=True)
    zero = next(r for r in rows[1:] if r[0] == host_name(0))
    assert zero[2] == address(0)
    assert zero[3] == "g2"
    assert zero[4] == "wang"
    with w.engine.connect() as conn:
        work = conn.execute(sa.select(sa.func.count()).select_from(findings).where(
            findings.c.agent_id == w.hosts[host_name(0)],
            findings.c.state.in_(("open", "assigned", "in_progress")))).scalar_one()
    assert zero[6] == str(work)
    assert work >= 1
    xlsx = client.get(f"/hosts.xlsx?{url}", base_url=BASE)
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [r[0] for r in table] == [r[0] for r in rows]
    assert table[1][6] == int(rows[1][6])  # numbers stay numbers
    zh = _csv(w.client("admin").get(f"/hosts.csv?{url}", base_url=BASE,
                                    headers={"Accept-Language": "zh-CN"}).data)
    assert zh[0][:5] == ["主机名", "操作系统", "IP 地址", "分组", "责任人"]
    assert [r[0] for r in zh][1:] == [r[0] for r in rows][1:]


def test_findings_export_sort_and_select_all(w: WebApp) -> None:
    client = w.client("admin")
    page = _get(w, "/findings?state=work&sort=age")
    total = _total(page, "findings")
    assert total >= HOSTS // 10
    assert 'id="select-all"' in page
    assert "on this page" in page
    rows = _csv(client.get("/findings.csv?state=work&sort=age", base_url=BASE).data)
    assert len(rows) - 1 == total
    ages = re.findall(r'data-at="([^"]+)"', page)
    assert ages == sorted(ages, reverse=True)  # youngest first
    deadline = _csv(client.get("/findings.csv?state=work&sort=deadline&dir=desc",
                               base_url=BASE).data)
    dates = [r[9] for r in deadline[1:] if r[9]]
    assert dates == sorted(dates, reverse=True)
    assert not any(c.startswith("'-") for r in rows for c in r)


def test_software_view_and_its_links(w: WebApp) -> None:
    page = _get(w, "/software?q=nginx")
    listed = page.split('id="packages"', 1)[1].split("</table>", 1)[0]
    assert listed.count("<tr><td") == len(NGINX)
    for version in NGINX:
        n = sum(1 for i in range(0, HOSTS, 2) if NGINX[i % 3] == version)
        assert f'package=nginx&amp;version={version}" data-figure="hosts">{n}<' in page
        assert _total(_get(w, f"/hosts?state=active&package=nginx&version={version}")) == n
    security = sum(1 for i in range(HOSTS) if i % 3 == 0)
    assert f'id="security-hosts"><b>{security}</b>' in page
    assert _total(_get(w, "/hosts?state=active&security=1")) == security
    rows = _csv(w.client("admin").get("/software.csv?q=nginx", base_url=BASE).data)
    assert [r[:2] for r in rows[1:]] == [["nginx", v] for v in sorted(NGINX)]
    # a viewer limited to g1 sees g1's hosts only: no nginx (even hosts are in g2)
    assert "No package matches." in _get(w, "/software?q=nginx", role="viewer")


def _figures(html: str) -> list[tuple[str, int]]:
    """(link, number) of every linked count on a page."""
    out = []
    for href, body in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, re.S):
        text = re.sub(r"<[^>]+>", " ", body)
        m = re.match(r"\s*([\d,]+)\s", text + " ")
        if m and ("/hosts?" in href or "/findings?" in href):
            out.append((unescape(href), int(m.group(1).replace(",", ""))))
    return out


@pytest.mark.parametrize("slice_", [rollup.SLICE, 7])  # the whole fleet; slices of 7
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_overview_figure_links_to_exactly_its_rows(w: WebApp, role: str, slice_: int,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(rollup, "SLICE", slice_)  # the figures and their hosts, judged so
    figures = _figures(_get(w, "/", role=role))
    assert len(figures) >= 15
    kinds = {href.split("?")[0] for href, _ in figures}
    assert kinds == {"/hosts", "/findings"}
    for href, n in figures:
        target = _get(w, href, role=role)
        what = "findings" if href.startswith("/findings") else "hosts"
        assert _total(target, what) == n, href


def test_exports_hold_only_what_the_viewer_may_see(w: WebApp) -> None:
    viewer = w.client("viewer")  # limited to g1
    hosts_ = _csv(viewer.get("/hosts.csv", base_url=BASE).data)
    assert len(hosts_) - 1 == _total(_get(w, "/hosts", role="viewer"))
    assert {r[3] for r in hosts_[1:]} == {"g1"}
    register = _csv(viewer.get("/findings.csv?state=", base_url=BASE).data)
    assert {r[5] for r in register[1:]} <= {"g1"}
    assert len(register) - 1 == _total(_get(w, "/findings?state=", role="viewer"), "findings")
    assert w.client("viewer").get("/hosts.pdf", base_url=BASE).status_code == 404
