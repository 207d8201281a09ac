"""Every statement of a 100-host self-inspection report, read back from the generated PDF
(pypdf) and Word file (python-docx), against what the database holds — on SQLite and
PostgreSQL. Section 三 is grouped by problem type; the per-host list is annex 1."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import report_fleet
import sqlalchemy as sa
from hostpatrol.collector.findings import lifecycle
from hostpatrol.collector.policy import loader
from hostpatrol.collector.reports.period import parse
from hostpatrol.collector.store.schema import findings
from report_kit import BASE, client, docx_read, make_app, pdf_pages, pdf_text, truth

PERIOD = parse("2026-W48", "Asia/Shanghai")
NOW = PERIOD.end + timedelta(hours=1)
HOST = re.compile(r"(?:srv|pc)-\d{3}")
AREAS_ZH = {"disk": "磁盘", "patches": "补丁", "antivirus": "防病毒", "time": "时间同步",
            "firewall": "防火墙", "accounts": "账号"}


@pytest.fixture
def fleet(engine, tmp_path):
    """100 hosts on either backend, an app reading them at the end of 2026-W48 (Beijing)."""
    app = make_app(tmp_path, engine, NOW)
    seeded = report_fleet.seed(engine, PERIOD)
    return app, seeded, truth(engine, PERIOD)


def _export(app, fmt: str, lang: str) -> bytes:
    resp = client(app, "reader").get(f"/reports/{PERIOD.key}/export/{fmt}?lang={lang}",
                                     base_url=BASE)
    assert resp.status_code == 200, resp.text[:300]
    return resp.data


def _between(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def test_the_pdf_states_what_the_database_holds(fleet) -> None:
    app, seeded, t = fleet
    data = _export(app, "pdf", "zh-CN")
    text, pages = pdf_text(data), pdf_pages(data)
    servers = t["hosts"] - len(seeded.terminals)
    expected = [
        "某某银行某某支行2026年第48周网络与信息安全自查报告",
        "主送：某某银行信息科技部",
        "根据《某某银行网络安全管理办法》要求，我单位于2026年11月23日至2026年11月29日组织开展了"
        "网络与信息安全自查工作，现将自查情况报告如下：",
        f"自查范围：主机{t['hosts']}台（服务器{servers}台，终端{len(seeded.terminals)}台，"
        f"信创{t['xinchuang']}台），"
        f"本期上报巡检结果{t['reported']}台，收到签名巡检报告{t['reports']}份",
        "自查结论：不合格。",
        f"期末未整改Ⅰ、Ⅱ级问题{t['open_major']}项，逾期{t['overdue']}项",
        f"本期登记网络安全事件{t['incidents']}起",
        f"本期共发现问题{len(t['findings'])}项，涉及主机"
        f"{len({r.agent_id for r in t['findings']})}台，分为{len(t['types'])}类",
        f"本期发现问题{len(t['findings'])}项，已整改{t['rectified']}项",
        f"其中{t['without_owner']}项尚未明确责任人",
        "统计口径（与仪表盘、接口和CSV导出一致）",
        "时间按Asia/Shanghai计",
        "特此报告。某某银行某某支行2026年11月30日附件：1．问题明细（整改台账）2．人工检查项",
    ]
    for sentence in expected:
        assert sentence in text, sentence
    assert t["open_major"] > 0
    assert t["without_owner"] > 0
    assert t["incidents"] == 1
    # no sentence claims owners while problems have none, nor incidents from findings
    assert "明确了责任人" not in text
    assert "安全事件4起" not in text
    for area, label in AREAS_ZH.items():  # each row: No. area checked compliant rate coverage
        checked, compliant = t["areas"][area]
        rate = f"{100 * compliant / checked:.1f}%"
        coverage = f"{100 * checked / t['hosts']:.1f}%"
        assert re.search(rf"\d+{label}{checked}{compliant}{re.escape(rate)}"
                         rf"{re.escape(coverage)}", text), (area, checked, compliant)
    # 三 is grouped: one row per type, no host named; the hosts are in annex 1
    section3 = _between(text, "三、存在问题", "四、整改措施及效果")
    assert not HOST.search(section3)
    for rule, (hosts, _count) in t["types"].items():
        assert f"{hosts}台" in section3, rule
    annex = text[text.index("附件1问题明细（整改台账）"):]
    assert set(HOST.findall(annex)) == {t["names"][r.agent_id] for r in t["findings"]}
    first_annex_page = next(i for i, p in enumerate(pages, 1) if p.startswith("附件1"))
    assert first_annex_page <= 4, "the report before its annexes fits three pages"
    assert len(pages) - first_annex_page >= 1  # the register runs on


def test_the_word_file_says_the_same_in_both_languages(fleet) -> None:
    app, seeded, t = fleet
    zh, en = docx_read(_export(app, "docx", "zh-CN")), docx_read(_export(app, "docx", "en"))
    pdf = pdf_text(_export(app, "pdf", "zh-CN"))
    assert zh.page_mm == en.page_mm == (210, 297)
    for p in zh.paragraphs:  # every paragraph of the Word file is in the PDF
        assert re.sub(r"\s+", "", p) in pdf, p
    assert "某某银行某某支行2026年第48周网络与信息安全自查报告" in zh.paragraphs
    assert f"其中 {t['without_owner']} 项尚未明确责任人" in " ".join(zh.paragraphs)
    areas, types, annex1 = (next(tb for tb in zh.tables if tb[0][1] == head and len(tb[0]) > 3)
                            for head in ("检查项", "问题", "主机"))  # not the OS-family table
    families = next(tb for tb in zh.tables if tb[0] == ["操作系统类别", "主机", "占比"])
    assert ["信创操作系统", str(t["xinchuang"]), f"{100 * t['xinchuang'] / t['hosts']:.1f}%"] \
        in families
    rows = {r[1]: r[2:4] for r in areas[1:]}
    for area, label in AREAS_ZH.items():
        assert rows[label] == [str(n) for n in t["areas"][area]], area
    assert len(types) - 1 == len(t["types"])  # one row per type (no failed manual item)
    assert len(annex1) - 1 == len(t["findings"])
    owners = {(r[1], r[5]) for r in annex1[1:]}
    assert owners == {(t["names"][f.agent_id], t["people"].get(f.owner, "未明确"))
                      for f in t["findings"]}
    assert ("某某银行某某支行 Network and information security self-inspection report for "
            "week 48 of 2026") in en.paragraphs
    scope = next(p for p in en.paragraphs if p.startswith("Scope:"))
    assert scope.startswith(f"Scope: {t['hosts']} hosts ({t['hosts'] - len(seeded.terminals)} "
                            f"servers, {len(seeded.terminals)} terminals, {t['xinchuang']} on a "
                            f"domestic (Xinchuang) OS); {t['reported']} of")
    assert f"Security incidents recorded in the period: {t['incidents']} (III: 1)" in " ".join(
        en.paragraphs)


def test_owners_are_claimed_only_when_every_problem_has_one(fleet, engine) -> None:
    app, _seeded, _t = fleet
    with engine.begin() as conn:  # give every problem an owner
        policy = loader.current(conn)
        for fid, state in conn.execute(sa.select(findings.c.id, findings.c.state)
                                       .where(findings.c.owner.is_(None))).all():
            if state == "open":
                lifecycle.transition(conn, policy, fid, "assigned",
                                     lifecycle.Actor("lina", "approver"), NOW, owner="zhangwei")
            else:  # verified before anyone took it: name its owner directly
                conn.execute(findings.update().where(findings.c.id == fid)
                             .values(owner="wangqiang"))
    text = "".join(docx_read(_export(app, "docx", "zh-CN")).paragraphs)
    assert "上述问题均已录入整改台账，明确了责任人，并按级别设定了整改期限。" in text
    assert "尚未明确责任人" not in text
