"""Every GET page of the dashboard, rendered in zh-CN over a worked-on 150-host fleet, holds
no untranslated English: the only Latin-letter words left are names, ids, paths, units and
product names. A new GET page must be listed in :func:`pages` (the route list comes from
the app's url_map), so it cannot escape the check."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
import zh_fleet
from report_kit import BASE

# Endpoints that are no dashboard page (machine formats, static files, redirects).
NOT_PAGES = {
    "static", "web.static", "web.language", "meta.healthz", "meta.metrics", "meta.openapi",
    "web.evidence", "web.host_keys",
}


def pages(w: zh_fleet.ZhFleet) -> dict[str, list[str]]:
    """endpoint → the URLs of it to render (HTML pages and text exports). Add a new GET
    page here, with URLs that show its populated states."""
    host, period = w.ids["host"], w.period.key
    return {
        "web.overview": ["/"],
        "web.login": ["/login"],
        "web.hosts": ["/hosts", "/hosts?page=2", "/hosts?status=silent"],
        "web.host": [f"/hosts/{host}"] + [f"/hosts/{h.agent_id}"
                                           for h in list(w.fleet.hosts.values())[1:4]],
        "web.evidence_check": [f"/hosts/{host}/evidence/{w.ids['report_id']}"],
        "web.agents_page": ["/agents", "/agents?page=2"],
        "web.account_page": ["/account"],
        "web.trends_page": ["/trends"],
        "web.users_page": ["/users"],
        "web.audit_page": ["/audit"],
        "web.audit_csv": ["/audit.csv"],
        "web.hosts_export": ["/hosts.csv", "/hosts.xlsx"],
        "web.software_page": ["/software", "/software?security=1"],
        "web.software_export": ["/software.csv", "/software.xlsx"],
        "web.findings_export": ["/findings.csv", "/findings.xlsx"],
        "web.findings": ["/findings", "/findings?state=waived", "/findings?state=closed",
                         "/findings?level=I", "/findings?page=2"],
        "web.finding": [f"/findings/{fid}" for fid in w.ids["findings"]],
        "web.groups": ["/groups"],
        "web.incidents_page": ["/incidents"],
        "web.policy": ["/policy"],
        "web.policy_diff": ["/policy/diff?a={}&b={}".format(*w.ids["policy_versions"])],
        "web.reports": ["/reports"],
        "web.report": [f"/reports/{period}", "/reports/2026-W47", "/reports/2026-11"],
        "web.report_export": [f"/reports/{period}/export/html",
                              f"/reports/{period}/export/csv"],
    }


# Latin words allowed in Chinese text: product names, formats, units, protocols.
ALLOWED = {
    "hostpatrol", "HostPatrol", "CSV", "XLSX", "PDF", "HTML", "Word", "JWS", "JWKS", "JSON", "YAML",
    "API", "SHA", "IP", "IPv4", "IPv6", "MAC", "DNS", "OS", "CPU", "RAM", "USB", "UID",
    "uid", "UTC", "TCP", "UDP", "SSH", "ssh", "sshd", "ms", "KiB", "MiB", "GiB", "TiB",
    "PiB", "B", "Windows", "Linux", "macOS", "Debian", "Ubuntu", "RHEL", "SUSE", "Kylin",
    "UOS", "openEuler", "openKylin", "Deepin", "Anolis", "UnionTech", "ClamAV", "Defender",
    "apt", "dnf", "yum", "zypper", "rpm", "journald", "rsyslog", "systemd", "cron",
    "Ed25519", "PostgreSQL", "SQLite", "Excel", "WPS", "CVE", "ISO", "Asia", "Shanghai",
    "English", "ok", "UPS", "ID", "JOSE", "EdDSA", "Ed", "kid",
    "root", "Shell", "inode", "hold",
}
SKIP_TAGS = {"script", "style", "code", "pre", "svg", "textarea", "select"}
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


class _Text(HTMLParser):
    """The visible text of a page and its titled attributes, minus what is marked as data
    (``translate="no"``: names, ids, paths the user or an agent wrote)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skip = tag in SKIP_TAGS or a.get("translate") == "no"
        if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr", "col", "source"):
            self.stack.append((tag, skip))
        if not (skip or self._skipping()):
            for name in ("title", "placeholder", "aria-label", "alt", "data-confirm"):
                if a.get(name):
                    self.parts.append(a[name])
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.parts.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.parts.append(data)


# Ids and paths are data: UUIDs, hashes, and tokens joined by . _ - : / (rule ids, audit
# codes, user:alice, /var/log); so are version strings and e-mail addresses.
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b[0-9a-fA-F]{8,}\b|[\w@]*[._:/@-][\w./:@+~-]*\w")


def english_words(text: str, allowed: set[str]) -> set[str]:
    """Latin-letter words of ``text`` that are not ids, paths or allowed names."""
    return {m for m in WORD.findall(ID.sub(" ", text)) if m not in allowed}


def _visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "\n".join(p.parts)


# Columns of a CSV that keep the stored form on purpose (the audit chain is re-checked on them).
STORED_FORM = re.compile(r"代码|JSON|哈希")


def _csv_text(data: str) -> str:
    rows = list(csv.reader(io.StringIO(data)))
    keep = [i for i, h in enumerate(rows[0]) if not STORED_FORM.search(h)] if rows else []
    return "\n".join(" ".join(rows[0]) for _ in rows[:1]) + "\n" + "\n".join(
        " ".join(r[i] for i in keep if i < len(r)) for r in rows[1:])


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_text(data: bytes) -> str:
    """A workbook's header row and the cells of the columns that are not stored forms."""
    from openpyxl import load_workbook

    rows = [[("" if v is None else str(v)) for v in row]
            for row in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(
                values_only=True)]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return _csv_text(buf.getvalue())


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> zh_fleet.ZhFleet:
    """150 hosts, worked on through the web, read in Chinese."""
    fleet = zh_fleet.build(tmp_path_factory.mktemp("zh"))
    yield fleet
    fleet.engine.dispose()


def _names(w: zh_fleet.ZhFleet) -> set[str]:
    """Names the fleet itself holds: hostnames, logins, groups, tags (data, not UI)."""
    import sqlalchemy as sa
    from hostpatrol.collector.store.schema import (
        agents,
        host_packages,
        host_updates,
        incidents,
        users,
    )

    with w.engine.connect() as conn:
        words = {x for row in conn.execute(sa.select(agents.c.hostname, agents.c.group_name))
                 for x in row if x}
        words |= set(conn.execute(sa.select(users.c.name)).scalars())
        for row in conn.execute(sa.select(incidents.c.title, incidents.c.description)):
            words |= {x for x in row if x}  # what people typed is shown as typed
        # packages are what the hosts reported (the software view and its exports list them)
        for row in conn.execute(sa.select(host_packages.c.name, host_packages.c.version)):
            words |= {x for x in row if x}
        words |= set(conn.execute(sa.select(host_updates.c.name)).scalars())
    return {m for x in words for m in WORD.findall(x)} | {"terminal"}


def test_every_get_page_is_listed(w: zh_fleet.ZhFleet) -> None:
    routes = {r.endpoint for r in w.app.url_map.iter_rules()
              if "GET" in r.methods and not r.rule.startswith("/api/")}
    missing = sorted(routes - NOT_PAGES - set(pages(w)))
    assert missing == [], "a GET page no test renders in Chinese: add it to pages()"


def test_the_fleet_holds_every_kind_of_record(w: zh_fleet.ZhFleet) -> None:
    import sqlalchemy as sa
    from hostpatrol.collector.store.schema import (
        agents,
        audit_log,
        baselines,
        findings,
        incidents,
        self_reports,
        waivers,
    )

    with w.engine.connect() as conn:
        def values(col):
            return set(conn.execute(sa.select(col).distinct()).scalars())

        def count(table):
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

        assert count(agents) >= 150
        assert values(findings.c.state) >= {"open", "assigned", "in_progress", "fixed",
                                            "verified", "closed", "waived"}
        assert values(findings.c.level) == {1, 2, 3, 4, 5}
        assert values(waivers.c.state) >= {"requested", "approved", "rejected"}
        assert values(self_reports.c.state) >= {"draft", "approved"}
        assert count(incidents) >= 2
        assert count(baselines) >= 2
        assert len(values(audit_log.c.action)) >= 15


def test_every_page_reads_in_chinese(w: zh_fleet.ZhFleet) -> None:
    allowed = ALLOWED | _names(w)
    admin = w.client()
    found: dict[str, set[str]] = {}
    for endpoint, urls in pages(w).items():
        assert urls, endpoint
        for url in urls:
            resp = admin.get(url, base_url=BASE, headers={"Accept-Language": "zh-CN"})
            assert resp.status_code == 200, (url, resp.status_code)
            kind = resp.mimetype
            if kind == "text/csv":
                text = _csv_text(resp.data.decode("utf-8-sig"))
            elif kind == XLSX:
                text = _xlsx_text(resp.data)
            else:
                assert kind == "text/html", (url, kind)
                text = _visible(resp.text)
            words = english_words(text, allowed)
            if words:
                found[url] = words
    assert found == {}, "\n".join(f"{u}: {sorted(v)}" for u, v in found.items())


def test_a_refused_action_says_why_in_chinese(w: zh_fleet.ZhFleet) -> None:
    fid = w.ids["findings"][0]  # in progress: it cannot be closed by hand
    page = w.client("zhangwei").post(f"/findings/{fid}/transition", data={"to": "closed"},
                                     base_url=BASE, follow_redirects=True).text
    assert f"未执行：问题 {fid} 当前为“整改中”，只能改为：已指派, 已修复" in page
    assert "it can move to" not in page


def test_every_page_renders_in_english_too(w: zh_fleet.ZhFleet) -> None:
    admin = w.client()
    admin.get("/lang/en", base_url=BASE)
    for endpoint, urls in pages(w).items():
        for url in urls:
            resp = admin.get(url, base_url=BASE)
            assert resp.status_code == 200, (url, resp.status_code)
            if resp.mimetype == "text/html" and endpoint != "web.report_export":
                assert 'lang="en"' in resp.text[:300], url
