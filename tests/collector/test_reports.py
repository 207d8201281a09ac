"""The self-inspection report: periods, figures against the stored findings, sign-off, exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from findings_kit import enroll_host
from forge import disk, result
from harness import BIN, Collector, free_port
from hostpatrol.collector import audit
from hostpatrol.collector.findings import lifecycle
from hostpatrol.collector.policy import loader
from hostpatrol.collector.reports import records
from hostpatrol.collector.reports.figures import compute, host_class
from hostpatrol.collector.reports.period import PeriodError, parse
from hostpatrol.collector.store import profiles
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import findings, self_reports
from webapp import BASE, WebApp, make_webapp

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday of ISO week 2026-W48
W48 = parse("2026-W48")


def test_periods_parse_to_local_boundaries_and_label_in_both_languages() -> None:
    assert (W48.start, W48.end) == (datetime(2026, 11, 23, tzinfo=UTC),
                                    datetime(2026, 11, 30, tzinfo=UTC))
    q4 = parse("2026-Q4", "Asia/Shanghai")
    assert q4.start.isoformat() == "2026-10-01T00:00:00+08:00"
    assert q4.end.isoformat() == "2027-01-01T00:00:00+08:00"
    assert parse("2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse("2026").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert [W48.label("zh"), q4.label("zh"), parse("2026-11").label("zh"),
            parse("2026").label("zh")] == ["2026年第48周", "2026年第四季度", "2026年11月",
                                           "2026年度"]
    assert q4.label("en") == "Q4 2026"
    for bad in ("2026-W54", "2026-13", "2026-Q5", "26", "2026-W4", "last week"):
        with pytest.raises(PeriodError):
            parse(bad)


def test_host_class_uses_tags_then_the_os() -> None:
    assert host_class("Debian GNU/Linux 12", []) == "server"
    assert host_class("Windows 11 Pro", None) == "terminal"
    assert host_class("Windows Server 2022", []) == "server"
    assert host_class("macOS 14.5", []) == "terminal"
    assert host_class("Debian GNU/Linux 12", ["terminal"]) == "terminal"
    assert host_class("Windows 11 Pro", ["server"]) == "server"


def _scenario(engine) -> dict[str, str]:
    """Six hosts: one fixed in the period, one open and overdue, one major on a critical
    host, one clean terminal, one fixed before the period, one broken after it."""
    day = timedelta(days=1)
    hosts = {}
    for name, group in (("a", "g1"), ("b", "g1"), ("c", "g2"), ("d", "g2"), ("e", "g1"),
                        ("f", None)):
        hosts[name] = enroll_host(engine, group, now=T0 - 20 * day, hostname=f"host-{name}")
    with engine.begin() as conn:
        profiles.set_profile(conn, hosts["c"].agent_id, by="t", now=T0, critical=True)
        profiles.set_profile(conn, hosts["d"].agent_id, by="t", now=T0, tags=["terminal"])
    hosts["e"].send({"disk": disk(97.0)}, T0 - 14 * day)
    hosts["e"].send({"disk": disk(50.0)}, T0 - 12 * day)
    hosts["a"].send({"disk": disk(97.0)}, T0)
    hosts["a"].send({"disk": disk(50.0)}, T0 + day)
    hosts["b"].send({"disk": disk(97.0)}, T0)
    hosts["c"].send({"disk": disk(99.0)}, T0)
    hosts["d"].send({"disk": disk(40.0)}, T0)
    hosts["f"].send({"disk": disk(97.0)}, W48.end + 2 * day)
    with engine.begin() as conn:  # b's deadline passes inside the period
        conn.execute(findings.update().where(findings.c.agent_id == hosts["b"].agent_id)
                     .values(deadline=T0 + 2 * day))
        # after the period b is worked on: the report still shows its state at the end
        fid = conn.execute(sa.select(findings.c.id).where(
            findings.c.agent_id == hosts["b"].agent_id)).scalar_one()
        lifecycle.transition(conn, loader.current(conn), fid, "fixed",
                             lifecycle.Actor("ops", "operator"), W48.end + 3 * day)
    return {k: h.agent_id for k, h in hosts.items()}


def test_figures_match_the_stored_findings(engine) -> None:
    ids = _scenario(engine)
    now = W48.end + 5 * timedelta(days=1)
    with engine.connect() as conn:
        f = compute(conn, W48, now)
        stored = conn.execute(sa.select(findings)).all()
    # the register, read directly: what the period must count
    in_period = [r for r in stored if W48.start <= r.first_seen < W48.end]
    assert f["rectification"]["found"] == len(in_period) == 3
    assert f["rectification"]["rectified"] == sum(
        r.state in ("verified", "closed") for r in in_period) == 1
    # a level II finding is a problem, never an incident: incidents are recorded by people
    assert sum(r.level <= 2 for r in in_period) == 1
    assert f["incidents"] == {"count": 0, "by_level": {"I": 0, "II": 0, "III": 0, "IV": 0},
                              "items": []}
    assert f["rectification"]["overdue"] == sum(
        r.deadline < W48.end for r in in_period if r.agent_id != ids["a"]) == 2  # II: 3 days
    assert {p["agent_id"]: p["state"] for p in f["problems"]} == {
        ids["a"]: "verified", ids["b"]: "open", ids["c"]: "open"}  # b: its state at the end
    assert [p["agent_id"] for p in f["problems"]][0] == ids["c"]  # most severe first
    assert [p["no"] for p in f["problems"]] == [1, 2, 3]
    assert f["problems"][0]["level"] == "II"
    assert f["rectification"]["open"] == 2
    assert f["rectification"]["closure_rate"] == pytest.approx(33.3)
    # e reported before the period, f after it
    assert f["scope"] == {"hosts": 6, "reported": 4, "reports": 5,
                          "classes": {"server": 5, "terminal": 1}, "xinchuang": 0,
                          "families": {"unknown": 6}, "xinchuang_distros": {}}
    assert f["open_major"] == 1
    area = {a["area"]: a for a in f["areas"]}
    assert (area["disk"]["checked"], area["disk"]["compliant"]) == (4, 2)  # a fixed, d clean
    assert area["disk"]["coverage"] == pytest.approx(66.7)
    assert area["disk"]["rate"] == 50.0
    assert area["disk"]["issues"] == [{"title": "Disk used", "hosts": 2}]
    assert area["patches"]["checked"] == 0
    assert area["reporting"]["checked"] == 6
    assert [(t["key"], t["hosts"], t["problems"], t["unrectified"], t["levels"])
            for t in f["types"]] == [("disk-used", 3, 3, 2, ["II", "IV"])]
    earlier = compute(engine.connect().__enter__(), parse("2026-W46"), now)
    assert [p["agent_id"] for p in earlier["problems"]] == [ids["e"]]
    assert earlier["rectification"]["rectified"] == 1


def test_a_past_period_shows_the_level_and_deadline_it_had(engine) -> None:
    """A finding raised after the period keeps, in that period's report, the level and
    deadline it had then; the current period shows the raised ones."""
    day = timedelta(days=1)
    host = enroll_host(engine, "g1", now=T0 - day, hostname="host-late")
    host.send({"disk": disk(97.0)}, T0)  # level IV, 30 days to rectify
    with engine.begin() as conn:
        profiles.set_profile(conn, host.agent_id, by="t", now=W48.end + day, critical=True)
    host.send({"disk": disk(99.0)}, W48.end + day)  # critical and >= 98 %: raised to II
    with engine.connect() as conn:
        now = W48.end + 2 * day
        then = compute(conn, W48, now)["problems"]
        current = compute(conn, parse("2026-W49"), now)["problems"]
        row = conn.execute(sa.select(findings).where(
            findings.c.agent_id == host.agent_id)).one()
    assert row.level == 2  # the register holds the raised level
    assert [(p["level"], p["deadline"][:10]) for p in then] == [
        ("IV", (T0 + 30 * day).date().isoformat())]
    assert [p["level"] for p in current] == ["II"]
    assert current[0]["deadline"][:16] == row.deadline.isoformat()[:16]
    assert row.deadline < T0 + 30 * day  # II: 3 days from opening, not IV's 30


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    """An app with a full disk found in the current week."""
    web = make_webapp(tmp_path_factory.mktemp("reports"))
    web.hosts["full"] = web.enroll_host("g1", "full-disk", results=[result("disk", disk(97.0))])
    yield web
    web.engine.dispose()


def _period(w: WebApp) -> str:
    from hostpatrol.collector.reports.period import current_week
    from hostpatrol.shared.clock import utcnow

    return current_week(utcnow())


def test_report_workflow_separates_duties_and_locks_the_approved_report(w: WebApp) -> None:
    key = _period(w)
    operator, approver, admin = w.client("operator"), w.client("approver"), w.client("admin")
    preview = approver.get(f"/reports/{key}", base_url=BASE).text
    assert "preview, not saved" in preview
    assert 'name="create"' not in preview  # approvers review, operators prepare
    operator.post(f"/reports/{key}/create", base_url=BASE)
    with w.engine.begin() as conn:
        user_store.set_display_name(conn, w.users["operator"], "张伟")
        user_store.set_display_name(conn, w.users["admin"], "王强")
    operator.post(f"/reports/{key}/save", base_url=BASE, data={
        "unit": "First Branch", "basis": "Rules 2026", "next_steps": "Replace the disk."})
    # the addressee is missing: the draft cannot be reviewed yet
    refused = w.client("approver").post(f"/reports/{key}/review", base_url=BASE,
                                        follow_redirects=True)
    assert "names no the addressee" in refused.text
    operator.post(f"/reports/{key}/save", base_url=BASE, data={
        "unit": "First Branch", "addressee": "Head Office IT", "basis": "Rules 2026",
        "next_steps": "Replace the disk.", "organisation": "Led by the IT department.",
        "item": ["UPS and power supply tested", "Fire drill"], "result": ["pass", "fail"],
        "note": ["ok", "<b>late</b>"], "measure": ["", "Hold the drill"],
        "deadline": ["", "2027-01-15"], "owner": ["", "zhang"], "new_item": "Visitor log"})
    with w.engine.connect() as conn:
        row = records.get(conn, key)
    assert (row.state, row.prepared_by, row.unit) == ("draft", "operator", "First Branch")
    assert [c["item"] for c in row.checklist] == ["UPS and power supply tested", "Fire drill",
                                                  "Visitor log"]
    page = operator.get(f"/reports/{key}", base_url=BASE).text
    assert "&lt;b&gt;late&lt;/b&gt;" in page
    # the admin prepared nothing here but may not approve before a review
    assert "Not done" in admin.post(f"/reports/{key}/approve", base_url=BASE,
                                    follow_redirects=True).text
    assert operator.post(f"/reports/{key}/review", base_url=BASE).status_code == 403
    approver.post(f"/reports/{key}/review", base_url=BASE)
    own = approver.post(f"/reports/{key}/approve", base_url=BASE, follow_redirects=True)
    assert "separation of duties" in own.text
    admin.post(f"/reports/{key}/approve", base_url=BASE)
    with w.engine.connect() as conn:
        row = records.get(conn, key)
        entry = list(audit.iter_entries(conn, audit.AuditFilter(action="report.approve")))[-1]
        assert audit.verify(conn).ok
    assert (row.state, row.reviewed_by, row.approved_by) == ("approved", "approver", "admin")
    assert row.sha256 == hashlib.sha256(row.snapshot.encode()).hexdigest()
    assert json.loads(entry.details)["sha256"] == row.sha256
    assert json.loads(entry.details)["html_zh_sha256"] == hashlib.sha256(
        row.html_zh.encode()).hexdigest()
    snapshot = json.loads(row.snapshot)
    assert snapshot["meta"]["approved_by"] == "admin"
    assert snapshot["meta"]["people"]["prepared_by"] == {"login": "operator", "name": "张伟",
                                                         "role": "operator"}
    assert snapshot["figures"]["rectification"]["found"] == 1
    # the failed fire drill is a problem of section 三 and keeps the result from a pass
    assert snapshot["verdict"]["result"] == "basic"
    assert snapshot["manual"]["failed"][0]["measure"] == "Hold the drill"
    # locked: no edit, and exports return exactly what was approved
    locked = operator.post(f"/reports/{key}/save", base_url=BASE, data={"unit": "changed"},
                           follow_redirects=True)
    assert "only a draft can change" in locked.text
    exported = w.client("auditor").get(f"/reports/{key}/export/html?lang=zh-CN",
                                       base_url=BASE)
    assert exported.data.decode() == row.html_zh
    assert "script-src" not in exported.headers["Content-Security-Policy"]
    assert row.sha256 in row.html_zh
    assert "特此报告。" in row.html_zh
    assert "编制人： 张伟（运维员）" in row.html_zh
    assert "签发人： 王强（管理员）" in row.html_zh
    assert "人工检查：Fire drill（&lt;b&gt;late&lt;/b&gt;）" in row.html_zh
    assert "主送：Head Office IT" in row.html_zh
    assert "First Branch" in row.html_en
    with w.engine.begin() as conn:  # evidence the lock holds: the snapshot is what is served
        conn.execute(self_reports.update().where(self_reports.c.period == key)
                     .values(unit="tampered"))
    assert "tampered" not in w.client("auditor").get(f"/reports/{key}/export/csv",
                                                     base_url=BASE).text


def test_chinese_layout_and_csv(w: WebApp) -> None:
    from hostpatrol.shared.clock import utcnow

    now = utcnow()
    key = f"{now.year}-{now.month:02d}"  # this month: no report stored, live figures
    zh = w.client("auditor").get(f"/reports/{key}/export/html?lang=zh-CN", base_url=BASE).text
    for text in (f"XX单位{now.year}年{now.month}月网络与信息安全自查报告", "一、总体情况",
                 "二、自查情况", "三、存在问题", "四、整改措施及效果", "五、下一步工作计划",
                 "附件1", "附件2", "编制人：", "审核人：", "签发人：", "特此报告。",
                 "主送：（上级单位）", "现将自查情况报告如下：",
                 "自查范围：主机 3 台（服务器 3 台，终端 0 台，信创 0 台）"):
        assert text in zh, text
    en = w.client("auditor").get(f"/reports/{key}/export/html?lang=en", base_url=BASE).text
    assert "1. Overall situation" in en
    assert "Prepared by:" in en
    rows = list(csv.reader(io.StringIO(w.client("auditor").get(
        f"/reports/{key}/export/csv?lang=en", base_url=BASE).text)))
    summary = {r[1]: r[2] for r in rows if r and r[0] == "Summary"}
    assert summary["Hosts"] == "3"
    assert summary["Verdict"] == "pass"
    assert w.client("viewer").get(f"/reports/{key}", base_url=BASE).status_code == 403
    assert w.client("auditor").get("/reports/2026-W99", base_url=BASE).status_code == 404


def test_pdf_has_pages_and_extractable_chinese_text(w: WebApp) -> None:
    from pypdf import PdfReader

    resp = w.client("auditor").get(f"/reports/{_period(w)}/export/pdf?lang=zh-CN",
                                   base_url=BASE)
    assert resp.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    assert len(reader.pages) >= 1
    text = "".join(p.extract_text() for p in reader.pages)
    assert "网络与信息安全自查报告" in text
    assert "总体情况" in text
    assert "full-disk" in text


def test_cli_writes_the_report_in_each_format(tmp_path) -> None:
    c = Collector(tmp_path / "data", free_port())
    c.init()
    out = tmp_path / "r.csv"
    c.cli("report", "--period", "2026-11", "--format", "csv", "--lang", "zh-CN",
          "--output", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["部分", "检查项", "数值"]
    assert ["概况", "主机", "0"] in rows
    pdf = tmp_path / "r.pdf"
    c.cli("report", "--period", "2026-Q4", "--format", "pdf", "--lang", "zh-CN",
          "--output", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "2026年第四季度网络与信息安全自查报告" in text.replace("\n", "")
    docx = tmp_path / "r.docx"
    c.cli("report", "--period", "2026-W48", "--format", "docx", "--lang", "zh-CN",
          "--output", str(docx))
    from docx import Document

    paragraphs = [p.text for p in Document(str(docx)).paragraphs]
    assert "XX单位2026年第48周网络与信息安全自查报告" in paragraphs
    assert "特此报告。" in paragraphs
    html = c.cli("report", "--period", "2026", "--format", "html").stdout
    assert "Network and information security self-inspection report for 2026" in html
    bad = subprocess.run([str(BIN / "hostpatrol-collector"), "--data-dir", str(c.data_dir),
                          "report", "--period", "2026-W60"], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 1
    assert "does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr
