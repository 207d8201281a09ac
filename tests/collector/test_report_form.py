"""The report's form: the verdict and its rule, the time zone, the incident register, display
names in the sign-off, and the lock (every export frozen at approval)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from findings_kit import enroll_host
from forge import disk
from harness import BIN, Collector, free_port
from hostpatrol.collector import audit
from hostpatrol.collector.config import load_config
from hostpatrol.collector.people import DisplayNameError, clean_display_name
from hostpatrol.collector.reports import content, incidents, records
from hostpatrol.collector.reports.period import parse
from hostpatrol.collector.store.schema import agents, findings, self_report_files, self_reports
from hostpatrol.shared.configfile import ConfigError
from hypothesis import given
from hypothesis import strategies as st
from report_kit import BASE, client, docx_read, make_app, pdf_text

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing, ISO week 48
W48 = parse("2026-W48", "Asia/Shanghai")


def _figures(reported: int, open_major: int = 0, overdue: int = 0) -> dict:
    return {"scope": {"reported": reported}, "open_major": open_major,
            "rectification": {"overdue": overdue}}


@pytest.mark.parametrize(("figures", "failed", "result"), [
    (_figures(0), 0, "fail"),                     # nobody reported: never a pass
    (_figures(5, open_major=1), 0, "fail"),
    (_figures(5, open_major=1, overdue=2), 1, "fail"),
    (_figures(5, overdue=1), 0, "basic"),
    (_figures(5), 1, "basic"),                    # a manual item not met
    (_figures(5), 0, "pass"),
])
def test_verdict_rule(figures, failed, result) -> None:
    tally = {"fail": failed}
    assert content.verdict(figures, tally)["result"] == result


def test_a_period_nobody_reported_in_is_not_a_pass(engine, tmp_path) -> None:
    enroll_host(engine, "g1", now=W48.start - timedelta(days=3), hostname="quiet")
    app = make_app(tmp_path, engine, W48.end + timedelta(hours=1))
    pdf = client(app, "reader").get(f"/reports/{W48.key}/export/pdf?lang=zh-CN",
                                    base_url=BASE).data
    text = pdf_text(pdf)
    assert "自查结论：不合格。" in text
    assert "本期上报主机0台" in text
    assert "自查范围：主机1台（服务器1台，终端0台，信创0台），本期上报巡检结果0台" in text
    assert "本期未登记网络安全事件。" in text
    assert "本期未发现问题。" in text


def test_report_weeks_follow_the_deployment_language(tmp_path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    cfg = data / "collector.yaml"
    cfg.write_text("language: zh-CN\n", encoding="utf-8")
    s = load_config(data).settings
    assert s["dashboard"]["timezone"] == s["report"]["timezone"] == "Asia/Shanghai"
    cfg.write_text("dashboard:\n  timezone: Europe/Berlin\n", encoding="utf-8")
    s = load_config(data).settings
    assert (s["language"], s["report"]["timezone"]) == ("en", "Europe/Berlin")
    cfg.write_text("language: zh-CN\nreport:\n  timezone: UTC\n", encoding="utf-8")
    assert load_config(data).settings["report"]["timezone"] == "UTC"
    cfg.write_text("language: en\nreport:\n  unit: x\n  timezone: Asia/Beijing\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"collector.yaml:4: report.timezone: unknown time zone"):
        load_config(data)
    cfg.write_text("language: fr\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be one of en, zh-CN"):
        load_config(data)
    week = parse("2026-W48", "Asia/Shanghai")
    assert week.start.astimezone(UTC) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


@given(st.text(min_size=1, max_size=64).filter(lambda s: s.strip()))
def test_display_names_keep_any_visible_text_and_refuse_hidden_characters(text) -> None:
    import unicodedata

    hidden = any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
                 for c in unicodedata.normalize("NFC", text).strip())
    if hidden:
        with pytest.raises(DisplayNameError):
            clean_display_name(text)
        return
    name = clean_display_name(text)
    assert name is None or (0 < len(name) <= 64 and name == name.strip())


def test_display_name_limits() -> None:
    assert clean_display_name("  张  伟 ") == "张 伟"
    assert clean_display_name("Zhāng Wěi") == "Zhāng Wěi"
    assert clean_display_name("   ") is None
    for bad in ("张伟\u202e", "a\x00b", "x\u200by", "line\nbreak"):
        with pytest.raises(DisplayNameError, match="control or invisible"):
            clean_display_name(bad)
    with pytest.raises(DisplayNameError, match="at most 64"):
        clean_display_name("长" * 65)


def test_cli_users_carry_display_names(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    out = c.cli("user", "add", "zhangwei", "--role", "operator", "--display-name", "张伟").stdout
    assert "user zhangwei (张伟) created with role operator" in out
    assert "张伟" in c.cli("user", "list").stdout
    assert "display name 张小伟" in c.cli("user", "set", "zhangwei", "--display-name",
                                         "张小伟").stdout
    bad = subprocess.run([str(BIN / "hostpatrol-collector"), "--data-dir", str(c.data_dir),
                          "user", "set", "zhangwei", "--display-name", "a\u202eb"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "control or invisible" in bad.stderr
    assert "Traceback" not in bad.stderr
    gone = c.cli("user", "set", "zhangwei", "--display-name", "").stdout
    assert "display name (none)" in gone
    rows = [line.split() for line in c.cli("user", "list").stdout.splitlines()[1:]]
    assert ["zhangwei", "operator", "enabled", "-"] in rows
    c.cli("user", "add", "boss", "--role", "admin")
    last = subprocess.run([str(BIN / "hostpatrol-collector"), "--data-dir", str(c.data_dir),
                           "user", "set", "boss", "--role", "viewer"],
                          capture_output=True, text=True, check=False)
    assert last.returncode == 1
    assert "last admin" in last.stderr
    with load_engine(c) as conn:
        actions = [e.action for e in audit.iter_entries(conn, audit.AuditFilter())]
    assert actions.count("user.update") == 2  # the two display-name changes, nothing else


class load_engine:  # noqa: N801 - a context manager read like a function
    """A connection to a CLI-made collector's database."""

    def __init__(self, c: Collector) -> None:
        from hostpatrol.collector.store.db import make_engine

        self.engine = make_engine(load_config(c.data_dir).database_url)

    def __enter__(self) -> sa.Connection:
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.engine.dispose()


def test_bad_draft_input_and_bad_periods_get_clear_errors(engine, tmp_path) -> None:
    app = make_app(tmp_path, engine, T0 + timedelta(days=1))
    operator = client(app, "olga", "operator")
    operator.post(f"/reports/{W48.key}/create", base_url=BASE)
    done = operator.post(f"/reports/{W48.key}/save", base_url=BASE, follow_redirects=True,
                         data={"unit": "changed", "item": ["UPS"], "result": ["fail"],
                               "deadline": ["next week"]})
    assert "next week" in done.text  # the message names the bad value
    with engine.connect() as conn:
        assert records.get(conn, W48.key).unit == "某某银行某某支行"  # nothing half-saved
    api = client(app, "reader")
    bad = api.get("/api/v1/compliance?period=2026-W60", base_url=BASE)
    assert bad.status_code == 400
    assert bad.json == {"ok": False, "error": bad.json["error"], "status": 400}
    assert "does not exist" in bad.json["error"]
    assert api.get("/api/v1/compliance?period=' or 1=1", base_url=BASE).status_code == 400


def test_incident_register_refuses_bad_records_and_is_audited(engine) -> None:
    now = T0 + timedelta(days=1)
    with engine.begin() as conn:
        for kwargs, message in (
                ({"level": "V"}, "one of I, II, III, IV"),
                ({"level": "info"}, "one of I, II, III, IV"),
                ({"occurred_at": now + timedelta(hours=1)}, "in the future"),
                ({"occurred_at": datetime(2026, 11, 24, 10, 0)}, "time zone"),
                ({"title": "   "}, "needs a title"),
                ({"title": "a\x07b"}, "control characters"),
                ({"finding_ids": [999]}, "no finding 999")):
            args = {"level": "II", "occurred_at": T0, "title": "Ransomware on srv-1",
                    "by": "zhangwei", "now": now, **kwargs}
            with pytest.raises(incidents.IncidentError, match=message):
                incidents.record(conn, **args)
        iid = incidents.record(conn, level="ii", occurred_at=T0, title="Ransomware on srv-1",
                               description="Isolated.\nRestored from backup.", by="zhangwei",
                               now=now)
        entry = list(audit.iter_entries(conn, audit.AuditFilter(action="incident.record")))
    assert json.loads(entry[-1].details)["level"] == "II"
    assert entry[-1].target == f"incident:{iid}"
    with engine.connect() as conn:
        assert [i["id"] for i in incidents.listing(conn, W48.start, W48.end)] == [iid]
        assert incidents.listing(conn, W48.end, W48.end + timedelta(days=7)) == []


def test_incidents_from_the_cli_and_the_dashboard_reach_the_report(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    out = c.cli("incident", "add", "--level", "III", "--at", "2026-11-25T09:30+08:00",
                "--title", "Phishing mail opened").stdout
    assert "incident 1 recorded (level III)" in out
    assert "Phishing mail opened" in c.cli("incident", "list", "--period", "2026-W48").stdout
    assert "Phishing" not in c.cli("incident", "list", "--period", "2026-W47").stdout
    bad = subprocess.run([str(BIN / "hostpatrol-collector"), "--data-dir", str(c.data_dir),
                          "incident", "add", "--level", "III", "--at", "2026-11-25 09:30",
                          "--title", "x"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "give the zone" in bad.stderr
    csv_text = c.cli("report", "--period", "2026-W48", "--format", "csv").stdout
    assert "Security incidents recorded,1" in csv_text
    assert "Phishing mail opened" in csv_text


def test_the_dashboard_records_incidents_for_operators_only(engine, tmp_path) -> None:
    app = make_app(tmp_path, engine, T0 + timedelta(days=2))
    operator = client(app, "olga", "operator")
    resp = operator.post("/incidents", base_url=BASE, data={
        "level": "II", "occurred_at": "2026-11-25T09:30", "title": "Data leak suspected",
        "description": "<script>x</script>", "findings": ""}, follow_redirects=True)
    assert "Incident 1 recorded." in resp.text or "安全事件 1 已登记" in resp.text
    assert "&lt;script&gt;" in resp.text
    assert "<script>x" not in resp.text
    with engine.connect() as conn:
        item = incidents.listing(conn)[0]
    assert item["occurred_at"] == "2026-11-25T01:30:00+00:00"  # entered in Beijing time
    refused = client(app, "vera", "viewer").post("/incidents", base_url=BASE, data={
        "level": "II", "occurred_at": "2026-11-25T09:30", "title": "x"})
    assert refused.status_code == 403
    bad = operator.post("/incidents", base_url=BASE, data={
        "level": "II", "occurred_at": "yesterday", "title": "x"}, follow_redirects=True)
    assert "未完成" in bad.text or "Not done" in bad.text


def _approve(app, engine, period: str) -> None:
    operator, approver, admin = (client(app, "zhangwei", "operator"),
                                 client(app, "lina", "approver"),
                                 client(app, "wangqiang", "admin"))
    from hostpatrol.collector.store import users as user_store

    with engine.begin() as conn:
        for login, name in (("zhangwei", "张伟"), ("lina", "李娜"), ("wangqiang", "王强")):
            user_store.set_display_name(conn, user_store.by_name(conn, login).id, name)
    operator.post(f"/reports/{period}/create", base_url=BASE)
    approver.post(f"/reports/{period}/review", base_url=BASE)
    admin.post(f"/reports/{period}/approve", base_url=BASE)


def test_an_approved_report_keeps_every_export_as_approved(engine, tmp_path,
                                                           monkeypatch) -> None:
    host = enroll_host(engine, "g1", now=T0 - timedelta(days=3), hostname="srv-full")
    host.send({"disk": disk(97.0)}, T0)
    app = make_app(tmp_path, engine, W48.end + timedelta(hours=2))
    _approve(app, engine, W48.key)
    with engine.connect() as conn:
        row = records.get(conn, W48.key)
        stored = {(f.fmt, f.lang): f for f in conn.execute(
            sa.select(self_report_files).where(self_report_files.c.report_id == row.id))}
        entry = list(audit.iter_entries(conn, audit.AuditFilter(action="report.approve")))[-1]
    assert row.state == "approved"
    assert set(stored) == {(f, lang) for f in ("html", "docx", "csv")
                           for lang in ("en", "zh-CN")}
    hashes = json.loads(entry.details)["files"]
    assert len(hashes) == len(stored)
    for (fmt, lang), f in stored.items():
        assert hashlib.sha256(f.body).hexdigest() == f.sha256 == hashes[f"{fmt}_{lang}"]
    reader = client(app, "reader")
    first = reader.get(f"/reports/{W48.key}/export/pdf?lang=zh-CN", base_url=BASE).data
    assert "某某银行某某支行2026年第48周网络与信息安全自查报告" in pdf_text(first)
    with engine.connect() as conn:  # the first export made the PDF from the frozen HTML
        kept = conn.execute(sa.select(self_report_files.c.body).where(
            self_report_files.c.report_id == row.id, self_report_files.c.fmt == "pdf")
        ).scalars().all()
    assert kept == [first]
    stored[("pdf", "zh-CN")] = type("F", (), {"body": first})
    word = docx_read(stored[("docx", "zh-CN")].body)
    signoff = next(t for t in word.tables if t[0][0].startswith("编制人"))[0]
    assert signoff == ["编制人： 张伟（运维员）", "审核人： 李娜（审批人）",
                       "签发人： 王强（管理员）"]
    assert f"签发内容 SHA-256：{row.sha256}" in word.paragraphs
    assert "2026年11月30日" in word.paragraphs  # the approval day, Beijing time
    # whatever the code renders later, the exports are the stored bytes
    from hostpatrol.collector.web import report_render

    monkeypatch.setattr(report_render, "document", lambda *a, **k: [])
    for (fmt, lang), f in stored.items():
        got = reader.get(f"/reports/{W48.key}/export/{fmt}?lang={lang}", base_url=BASE)
        assert got.data == f.body, (fmt, lang)
    page = reader.get(f"/reports/{W48.key}", base_url=BASE).text
    assert "某某银行某某支行2026年第48周网络与信息安全自查报告" in page or "Network and" in page


def test_reports_approved_before_files_were_kept_still_export_html_and_pdf(
        engine, tmp_path) -> None:
    app = make_app(tmp_path, engine, W48.end + timedelta(hours=2))
    html = "<!doctype html><html><body><article class=\"doc\">旧报告</article></body></html>"
    with engine.begin() as conn:
        conn.execute(self_reports.insert().values(
            period=W48.key, state="approved", unit="u", basis="", next_steps="", checklist=[],
            prepared_by="a", prepared_at=T0, updated_at=T0, reviewed_by="b", reviewed_at=T0,
            approved_by="c", approved_at=T0, snapshot=json.dumps({"figures": {}, "meta": {}}),
            sha256="0" * 64, html_en=html, html_zh=html))
    reader = client(app, "reader")
    assert reader.get(f"/reports/{W48.key}/export/html?lang=zh-CN",
                      base_url=BASE).data.decode() == html
    assert "旧报告" in pdf_text(reader.get(f"/reports/{W48.key}/export/pdf?lang=zh-CN",
                                           base_url=BASE).data)
    word = reader.get(f"/reports/{W48.key}/export/docx?lang=zh-CN", base_url=BASE)
    assert word.status_code == 404
    assert "HTML 和 PDF 为准" in word.text or "HTML and PDF are the record" in word.text
    assert "旧报告" in reader.get(f"/reports/{W48.key}", base_url=BASE).text


def test_text_from_hosts_cannot_break_an_export(engine, tmp_path) -> None:
    """Subjects and hostnames come from agents: control and bidi characters, markup and
    formulas are shown harmlessly in every format."""
    host = enroll_host(engine, "g1", now=T0 - timedelta(days=3), hostname="srv-x")
    host.send({"disk": disk(97.0)}, T0)
    with engine.begin() as conn:
        conn.execute(findings.update().values(subject="/mnt/\x01\x0b<b>x</b>\u202e=1+1"))
        conn.execute(agents.update().values(hostname="srv-\x01\x1f-x"))
    app = make_app(tmp_path, engine, W48.end + timedelta(hours=2))
    reader = client(app, "reader")
    for fmt in ("html", "pdf", "docx", "csv"):
        got = reader.get(f"/reports/{W48.key}/export/{fmt}?lang=zh-CN", base_url=BASE)
        assert got.status_code == 200, fmt
    annex = next(t for t in docx_read(reader.get(
        f"/reports/{W48.key}/export/docx?lang=zh-CN", base_url=BASE).data).tables
        if t[0][1] == "主机" and len(t[0]) > 3)  # not the OS-family table of section 二
    assert annex[1][1] == "srv--x"
    assert annex[1][3] == "/mnt/<b>x</b>\u202e=1+1"


def test_a_further_table_of_section_two_reaches_every_format(engine, tmp_path) -> None:
    """The place left for more figures (e.g. by OS family): ``figures["breakdowns"]``."""
    from hostpatrol.collector.web.report_pages import content as report_content
    from hostpatrol.collector.web.report_render import render

    host = enroll_host(engine, "g1", now=T0 - timedelta(days=3), hostname="srv-a")
    host.send({"disk": disk(40.0)}, T0)
    app = make_app(tmp_path, engine, W48.end + timedelta(hours=2))
    with app.test_request_context(), engine.connect() as conn:
        doc = report_content(conn, W48, None, W48.end + timedelta(hours=2))
        doc["figures"]["breakdowns"] = [{"id": "os", "title": "按操作系统", "columns": [
            "操作系统", "主机台数"], "rows": [["Debian 12", "1"]]}]
        pdf = pdf_text(render(doc, "pdf", "zh-CN"))
        word = docx_read(render(doc, "docx", "zh-CN"))
        text = render(doc, "csv", "zh-CN").decode("utf-8")
    section2 = re.sub(r"—\d+—", "", pdf[pdf.index("二、自查情况"):pdf.index("三、存在问题")])
    assert "按操作系统操作系统主机台数Debian121" in section2, section2
    assert [["操作系统", "主机台数"], ["Debian 12", "1"]] in word.tables
    assert "操作系统,主机台数\r\nDebian 12,1" in text
    assert pdf.index("按操作系统") < pdf.index("三、存在问题")
