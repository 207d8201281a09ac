"""One definition of compliance: the overview, the report, the API and the CSV give the same
figures for the same window (on both backends), and the definition's rules hold for any
input (hypothesis)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
import report_fleet
from hostpatrol.collector.reports import compliance, windows
from hostpatrol.collector.reports.period import parse
from hypothesis import given
from hypothesis import strategies as st
from report_kit import BASE, client, make_app, truth

PERIOD = parse("2026-W48", "Asia/Shanghai")
END = PERIOD.end  # the overview's last seven days are then exactly the report week

hosts = st.sets(st.sampled_from([f"h{i}" for i in range(8)]), max_size=8)
checks = st.sampled_from(["disk", "patches", "antivirus", "newcheck"])
statuses = st.sampled_from(["ok", "warn", "fail", "error", "skipped"])


@given(scope=hosts, newest=st.dictionaries(st.tuples(st.sampled_from(
    [f"h{i}" for i in range(10)]), checks), statuses, max_size=30),
    problems=st.lists(st.tuples(st.sampled_from([f"h{i}" for i in range(10)]),
                                st.sampled_from(["disk", "patches", "reporting", "newcheck"])),
                      max_size=20))
def test_judge_keeps_its_definition_for_any_input(scope, newest, problems) -> None:
    result = compliance.judge(scope, newest, problems)
    assert list(result)[:len(compliance.AREAS)] == list(compliance.AREAS)
    for area, r in result.items():
        assert r.compliant <= r.checked <= frozenset(scope)
        assert r.hosts == len(scope)
        bad = {a for a, x in problems if x == area}
        assert not (r.compliant & bad)  # a host with a problem of the area is not compliant
        if area == compliance.REPORTING:
            assert r.checked == frozenset(scope)
        else:
            assert r.checked == {a for (a, c), s in newest.items()
                                 if c == area and a in scope and s not in ("skipped", "error")}
        assert r.rate is None if not r.checked else 0 <= r.rate <= 100
    total = compliance.overall(result.values())
    assert total["checked"] == sum(len(r.checked) for r in result.values())


@pytest.mark.parametrize(("level", "state", "counts"), [
    (4, "open", True), (1, "fixed", True), (3, "in_progress", True), (2, "assigned", True),
    (5, "open", False),  # informational: not a problem
    (4, "waived", False), (4, "verified", False), (4, "closed", False)])
def test_what_counts_as_a_problem(level, state, counts) -> None:
    assert compliance.is_problem(level, state) is counts


def _overview_rows(html: str) -> dict[str, tuple[int, int, str]]:
    rows = {}
    for area, body in re.findall(r'<tr id="area-([a-z_]+)">(.*?)</tr>', html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                       body, re.S)]
        rate = cells[3].split()[-1] if cells[3] != "—" else "—"
        rows[area] = (int(cells[1].replace(",", "")), int(cells[2].replace(",", "")), rate)
    return rows


def test_overview_report_api_and_csv_agree(engine, tmp_path) -> None:
    app = make_app(tmp_path, engine, END)
    report_fleet.seed(engine, PERIOD)
    t = truth(engine, PERIOD)
    reader = client(app, "reader")
    overview = _overview_rows(reader.get("/", base_url=BASE).text)
    period_api = reader.get(f"/api/v1/compliance?period={PERIOD.key}", base_url=BASE).json
    live_api = reader.get("/api/v1/compliance", base_url=BASE).json
    table = list(csv.reader(io.StringIO(reader.get(
        f"/reports/{PERIOD.key}/export/csv?lang=en", base_url=BASE).text)))
    head = table.index(["Check area", "Hosts in scope", "Hosts checked", "Compliant",
                        "Compliance rate %", "Coverage %"])
    csv_rows = {r[0]: r for r in table[head + 1:head + 15]}
    with app.test_request_context():
        from hostpatrol.collector.web.report_pages import content

        with engine.connect() as conn:
            report = content(conn, PERIOD, None, END)["figures"]["areas"]
    assert live_api["window"]["as_of"] == "2026-11-29T16:00:00+00:00"  # Beijing midnight
    by_area = {a["area"]: a for a in report}
    assert [a["area"] for a in period_api["areas"]] == [a["area"] for a in report]
    for source in (period_api["areas"], live_api["areas"]):
        for a in source:
            r = by_area[a["area"]]
            assert (a["checked"], a["compliant"], a["rate"], a["coverage"]) == (
                r["checked"], r["compliant"], r["rate"], r["coverage"]), a["area"]
    labels = {"disk": "Disk", "patches": "Patches", "antivirus": "Antivirus",
              "firewall": "Firewall", "time": "Time", "accounts": "Accounts"}
    for area, label in labels.items():
        r = by_area[area]
        assert t["areas"][area] == (r["checked"], r["compliant"])  # and the database agrees
        assert overview[area][:2] == (r["checked"], r["compliant"])
        assert overview[area][2] == f"{r['rate']:.1f}%"
        assert csv_rows[label][2:6] == [str(r["checked"]), str(r["compliant"]),
                                        str(r["rate"]), str(r["coverage"])]
    assert period_api["overall"] == live_api["overall"]
    assert "newest result" in period_api["definition"]
    json.dumps(period_api)


def test_the_live_window_is_the_report_window_when_it_ends_now(engine, tmp_path) -> None:
    """The overview reads host_latest and the current register; the report reads results
    and timelines. At a week's end both see the same hosts behind every figure."""
    report_fleet.seed(engine, PERIOD, hosts=40)
    with engine.connect() as conn:
        live = windows.live(conn, END)
        week = windows.for_period(conn, PERIOD.start, PERIOD.end, END)
        scoped = windows.live(conn, END, groups=frozenset({"branch-a"}))
    assert live.start == PERIOD.start
    assert set(live.scope) == set(week.scope)
    assert live.reported == week.reported
    for area, r in week.areas.items():
        assert (live.areas[area].checked, live.areas[area].compliant) == (
            r.checked, r.compliant), area
    assert set(scoped.scope) < set(live.scope)
    assert all(row.group_name == "branch-a" for row in scoped.scope.values())
    disk_bad = week.areas["disk"].noncompliant
    assert disk_bad
    assert disk_bad <= set(week.scope)
    later = END + timedelta(days=8)  # a week later nothing reported: nothing checked
    with engine.connect() as conn:
        assert windows.live(conn, later).areas["disk"].checked == frozenset()
