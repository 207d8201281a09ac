"""Pages render the stored data: dossier, evidence check, audit export, hostile text, Chinese."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hostpatrol.collector import audit
from hostpatrol.collector.store import reports as report_store
from hostpatrol.collector.store.schema import reports
from hostpatrol.collector.web.charts import bar_plot, time_plot
from hostpatrol.collector.web.forecast import days_to_full, least_squares
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time
from webapp import BASE, XSS_HOST, XSS_SAMPLE, WebApp, hostile_results, make_webapp


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    """One app with an extra hostile host."""
    web = make_webapp(tmp_path_factory.mktemp("pages"))
    now = utcnow()
    web.hosts["evil"] = web.enroll_host("g1", XSS_HOST, results=hostile_results(
        format_time(now)), created_at=now)
    yield web
    web.engine.dispose()


def test_hostile_host_text_is_escaped_everywhere(w: WebApp) -> None:
    admin = w.client("admin")
    pages = [admin.get(p, base_url=BASE) for p in
             ("/hosts", f"/hosts/{w.hosts['evil']}", "/agents", "/audit")]
    for page in pages:
        assert page.status_code == 200
        assert "<script>window.__pwned" not in page.text
        assert "onerror=\"window" not in page.text
        assert "<svg onload" not in page.text
    dossier = pages[1].text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in dossier
    assert "&lt;img src=x onerror=&#34;window.__pwned=3;alert(3)&#34;&gt;" in dossier
    assert 'id="log-templates"' in dossier
    assert "script-src 'self'" in pages[1].headers["Content-Security-Policy"]
    assert "unsafe-inline" not in pages[1].headers["Content-Security-Policy"]
    assert XSS_SAMPLE not in dossier


def test_dossier_renders_each_check_and_history(w: WebApp) -> None:
    page = w.client("auditor").get(f"/hosts/{w.hosts['g1']}", base_url=BASE).text
    assert 'id="disk"' in page
    assert "<td>/</td>" in page
    assert 'id="disk-history"' in page
    assert "<svg class=\"chart\"" in page
    assert 'id="patches-history"' in page
    assert "signed report (JWS)" in page


def test_dossier_shows_an_evidence_gap(w: WebApp) -> None:
    gapped = w.enroll_host("g1", "gapped", gap={
        "dropped": 12, "first_seq": 3, "last_seq": 14, "report_ids": ["r3", "r14"],
        "extra": "<b>ignored</b>"})
    page = w.client("viewer").get(f"/hosts/{gapped}", base_url=BASE).text
    assert 'id="evidence-gap"' in page
    assert "12 reports the agent could not deliver, seq 3–14" in page
    assert "12 dropped from its full spool" in page  # a record from before reasons existed
    assert "ignored" not in page  # only the counts and ids are kept
    plain = w.client("viewer").get(f"/hosts/{w.hosts['g1']}", base_url=BASE).text
    assert 'id="evidence-gap"' not in plain
    api = w.client("admin").get(f"/api/v1/hosts/{gapped}", base_url=BASE).json["host"]
    assert {k: api["evidence_gap"][k] for k in ("dropped", "first_seq", "last_seq",
                                                "report_ids")} == {
        "dropped": 12, "first_seq": 3, "last_seq": 14, "report_ids": ["r3", "r14"]}


def test_dossier_shows_the_reasons_of_a_gap_and_the_last_failed_run(w: WebApp) -> None:
    """An agent tells which reports will never come and why, and that runs died before
    their report (meta.last_crash); the dossier and the host API show both, in both
    languages, and keep only the known fields, bounded."""
    crash = {"at": "2026-11-30T08:15:00.000Z", "first_at": "2026-11-30T06:00:00.000Z",
             "command": "run", "count": 9, "where": "cycle.py:180 in _run",
             "error": "KeyFileError: agent.key: <b>not a PEM key</b>", "secret": "x"}
    host = w.enroll_host("g1", "crashy", meta={"last_crash": crash}, gap={
        "dropped": 3, "first_seq": 7, "last_seq": 9, "report_ids": ["r7"],
        "reasons": {"too_large": 2, "rejected": 1, "bogus": 5}})
    page = w.client("viewer").get(f"/hosts/{host}", base_url=BASE).text
    assert "3 reports the agent could not deliver, seq 7–9" in page
    assert "2 too large for this collector" in page
    assert "1 refused by this collector" in page
    assert "dropped from its full spool" not in page
    assert 'id="last-crash"' in page
    assert ("30 Nov 2026 08:15 (9 failed runs in a row since "  # the agent's times, shown
            "30 Nov 2026 06:00): KeyFileError: agent.key: &lt;b&gt;not a PEM key"
            "&lt;/b&gt;") in page
    zh = w.client("viewer").get(f"/hosts/{host}", base_url=BASE,
                                headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "客户端运行失败" in zh
    assert "自 2026年11月30日 06:00 起连续 9 次运行失败" in zh
    assert "其中 2 份超出服务端大小限制" in zh
    api = w.client("admin").get(f"/api/v1/hosts/{host}", base_url=BASE).json["host"]
    assert api["evidence_gap"]["reasons"] == {"too_large": 2, "rejected": 1}
    assert {k: v for k, v in api["last_crash"].items() if k != "reported_at"} == {
        k: v for k, v in crash.items() if k != "secret"}
    plain = w.client("viewer").get(f"/hosts/{w.hosts['g1']}", base_url=BASE).text
    assert 'id="last-crash"' not in plain


def test_stored_evidence_verifies_and_tampering_shows(w: WebApp) -> None:
    client = w.client("viewer")
    agent_id = w.hosts["g1"]
    rid = w.reports[agent_id]
    ok = client.get(f"/hosts/{agent_id}/evidence/{rid}", base_url=BASE)
    assert 'class="verdict good"' in ok.text
    assert "compressed (zstd)" in ok.text  # packed: no stored hash to compare with
    keys = client.get(f"/hosts/{agent_id}/keys.jwks", base_url=BASE).get_json()
    assert keys["keys"][0]["crv"] == "Ed25519"
    with w.engine.begin() as conn:
        jws = report_store.evidence(conn, agent_id, rid)
        body = conn.execute(sa.select(reports.c.body).where(reports.c.report_id == rid)).scalar()
        head, payload, sig = jws.split(".")
        forged = f"{head}.{payload[:-4]}AAAA.{sig}"
        conn.execute(reports.update().where(reports.c.report_id == rid).values(jws=forged))
    try:
        bad = client.get(f"/hosts/{agent_id}/evidence/{rid}", base_url=BASE)
        assert 'class="verdict bad"' in bad.text
        assert "signature does not verify" in bad.text
        # a packed body that no longer opens: the download and the check say why
        with w.engine.begin() as conn:
            conn.execute(reports.update().where(reports.c.report_id == rid)
                         .values(jws=None, body=b"\x03broken"))
        gone = client.get(f"/hosts/{agent_id}/evidence/{rid}.jws", base_url=BASE)
        assert gone.status_code == 500
        assert "the stored evidence cannot be read: zstd" in gone.text
        bad = client.get(f"/hosts/{agent_id}/evidence/{rid}", base_url=BASE)
        assert "the stored evidence cannot be read" in bad.text
        host = client.get(f"/hosts/{agent_id}", base_url=BASE)
        assert host.status_code == 200
        assert "cannot be read back" in host.text
    finally:
        with w.engine.begin() as conn:
            conn.execute(reports.update().where(reports.c.report_id == rid)
                         .values(jws=None, body=body))


def test_chinese_by_cookie_and_by_browser_with_localised_dates(w: WebApp) -> None:
    client = w.client("admin")
    switched = client.get("/lang/zh_CN?next=/hosts", base_url=BASE)
    assert switched.headers["Location"] == "/hosts"
    page = client.get(f"/hosts/{w.hosts['g1']}", base_url=BASE).text
    assert "一机一档" in page
    assert "各检查项最新结果" in page
    assert "年" in page  # dates in the Chinese medium format
    assert '<html lang="zh-CN">' in page
    client.get("/lang/en", base_url=BASE)
    assert "Latest result of every check" in client.get(f"/hosts/{w.hosts['g1']}",
                                                        base_url=BASE).text
    browser = w.client("admin")
    zh = browser.get("/", base_url=BASE, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "各检查项合格率" in zh.text
    assert client.get("/lang/xx", base_url=BASE).status_code == 404


def test_audit_page_filters_verifies_and_exports_csv(w: WebApp) -> None:
    auditor = w.client("auditor")
    with w.engine.begin() as conn:
        audit.record(conn, actor="=cmd|' /C calc'!A0", action="test.formula", target="t",
                     details={"x": 1}, now=utcnow())
    page = auditor.get("/audit?action=test.formula&verify=1", base_url=BASE).text
    assert 'class="verdict good"' in page
    assert "test.formula" in page
    exported = auditor.get("/audit.csv?action=test.formula", base_url=BASE)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel on Chinese Windows
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["seq", "time", "actor", "what", "target (code)"]
    assert rows[0][6:8] == ["at (UTC, hashed)", "action (code)"]
    assert rows[1][7] == "test.formula"
    assert len(rows) == 2
    assert rows[1][2].startswith("'=")  # a spreadsheet will not run it


def test_least_squares_forecast() -> None:
    assert least_squares([0, 1, 2], [1, 3, 5]) == (2.0, 1.0)
    assert least_squares([1, 1], [1, 2]) is None
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    gib = 1 << 30
    history = [(t0 + timedelta(days=d), 50 * gib + d * gib, 100 * gib) for d in range(10)]
    f = days_to_full(history, now=t0 + timedelta(days=9))
    assert f.bytes_per_day == pytest.approx(gib)
    assert f.days_to_full == pytest.approx(41.0)
    assert f.full_at == t0 + timedelta(days=50)
    shrinking = [(t, 100 * gib - used, total) for t, used, total in history]
    assert days_to_full(shrinking, now=t0 + timedelta(days=9)).days_to_full is None
    assert days_to_full(history[:2], now=t0) is None


def test_chart_geometry_stays_inside_the_plot() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    plot = time_plot([("a", "line-0", [(t0, 0.0), (t0 + timedelta(days=1), 150.0)], False)],
                     y_max=100)
    xs, ys = zip(*(map(float, p.split(",")) for p in plot.lines[0].points.split()),
                 strict=True)
    assert min(xs) == plot.left
    assert max(xs) == pytest.approx(plot.left + plot.inner_w)
    assert min(ys) == pytest.approx(plot.top)  # clipped at 100 %
    bars = bar_plot([("a", 2), ("b", None), ("c", 4)])
    assert [b.value for b in bars.bars] == [2, None, 4]
    assert bars.bars[2].h == pytest.approx(bars.inner_h)
