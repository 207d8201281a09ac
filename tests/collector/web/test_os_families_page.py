"""The overview's OS families and 信创 figure, in both languages and within a viewer's groups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from findings_kit import data
from forge import report_doc, result, sign
from hostpatrol.agent.checks.inventory import os_facts, parse_os_release
from hostpatrol.collector.intake.ingest import ingest
from webapp import BASE, LIMITS, WebApp, make_webapp

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "inventory"


def _send_inventory(w: WebApp, agent_id: str, os_obj: dict, seq: int) -> None:
    doc = report_doc(agent_id, seq=seq, created_at=w.now(),
                     results=[result("inventory", data("inventory", os=os_obj))])
    assert ingest(w.engine, [sign(doc, w.keys[agent_id])], limits=LIMITS,
                  now=w.now())[0].outcome == "accepted"


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    w = make_webapp(tmp_path_factory.mktemp("osfam"))
    kylin = parse_os_release((FIX / "kylin_desktop_v10sp1.os-release").read_text("utf-8"))
    uos = parse_os_release((FIX / "uos_server_20_uelc20.os-release").read_text("utf-8"))
    _send_inventory(w, w.hosts["g1"], os_facts(kylin, "Linux", "5.4.18"), 2)
    _send_inventory(w, w.hosts["g2"], os_facts({}, "Windows", "10", "Enterprise"), 2)
    w.hosts["g1-uos"] = w.enroll_host("g1", "gamma")
    _send_inventory(w, w.hosts["g1-uos"], os_facts(uos, "Linux", "4.19"), 2)
    return w


def _text(html: str, element_id: str) -> str:
    part = html.split(f'id="{element_id}"', 1)[1].split("</", 1)[0]
    return re.sub(r"\s+", " ", part.split(">", 1)[1]).strip()


def _table(html: str) -> dict[str, str]:
    body = html.split('id="families"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(  # each count links to its hosts (the overview's drill-down)
        r"<tr><td>([^<]+)</td><td class=\"num\">(?:<a [^>]*>)?([^<]+)(?:</a>)?</td></tr>",
        body))


def _distros(html: str) -> dict[str, str]:
    body = html.split('id="families"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(
        r'<tr class="sub"><td>· ([^<]+)</td><td class="num">(?:<a [^>]*>)?([^<]+)', body))


def test_overview_shows_families_and_xinchuang_in_english(w: WebApp) -> None:
    page = w.client("auditor").get("/", base_url=BASE).text
    card = page.split('id="xinchuang-card"', 1)[1].split("</b>")[0]
    assert card.endswith(">2")
    assert _text(page, "xinchuang-line") == (
        "Domestic (Xinchuang) operating systems: 2 of 3 active hosts (66.7%).")
    assert _table(page) == {"Domestic (Xinchuang) OS": "2", "Windows": "1"}
    assert _distros(page) == {"Kylin": "1", "UnionTech UOS": "1"}


def test_overview_in_chinese(w: WebApp) -> None:
    page = w.client("auditor").get("/", base_url=BASE,
                                   headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "主机操作系统分布" in page
    assert _text(page, "xinchuang-line") == "信创操作系统：在用主机 3 台中 2 台（66.7%）。"
    assert _table(page) == {"信创操作系统": "2", "Windows": "1"}
    assert _distros(page) == {"银河麒麟": "1", "统信 UOS": "1"}
    assert "台主机运行信创操作系统" in page


def test_viewer_counts_only_its_groups(w: WebApp) -> None:
    page = w.client("viewer").get("/", base_url=BASE).text  # viewer: group g1 only
    assert _text(page, "xinchuang-line").startswith(
        "Domestic (Xinchuang) operating systems: 2 of 2 active hosts (100.0%).")
    assert _table(page) == {"Domestic (Xinchuang) OS": "2"}
