"""Findings opened and rectified per week and time to fix per level, against the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hostpatrol.collector.findings import trends
from hostpatrol.collector.reports.rollup import week_keys
from hostpatrol.collector.store.schema import finding_events, findings
from webapp import BASE, WebApp, make_webapp

T = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_time_since_the_latest_opening_before_the_fix() -> None:
    openings = {1: [T, T + timedelta(days=10)], 2: [T + timedelta(days=1)]}
    fixes = [(1, T + timedelta(days=2)), (1, T + timedelta(days=11)), (2, T + timedelta(days=4)),
             (3, T)]
    got = trends.fix_durations(fixes, openings)
    assert got == [timedelta(days=2), timedelta(days=1), timedelta(days=3)]
    s = trends.summarize(2, got)
    assert (s.fixed, s.median, s.p90) == (3, timedelta(days=2), timedelta(days=3))
    assert trends.summarize(1, []).fixed == 0


@pytest.fixture
def w(tmp_path) -> WebApp:
    web = make_webapp(tmp_path)
    yield web
    web.engine.dispose()


def _finding(conn, w: WebApp, group: str, level: int, opened, fixed=None, n=[0]) -> None:  # noqa: B006
    n[0] += 1
    fid = conn.execute(findings.insert().values(
        dedup_key=f"k{n[0]}", agent_id=w.hosts[group], rule_id="r", subject=f"s{n[0]}",
        check_name="disk", title="t", group_name=group, state="closed" if fixed else "open",
        level=level, base_level=level, factors=[], owner=None, first_seen=opened,
        opened_at=opened, last_seen=opened, state_changed_at=fixed or opened, evidence={},
        policy_version=1).returning(findings.c.id)).scalar_one()
    events = [{"finding_id": fid, "at": opened, "actor": "system", "action": "opened",
               "from_state": None, "to_state": "open", "details": {}}]
    if fixed:
        events.append({"finding_id": fid, "at": fixed, "actor": "system",
                       "action": "verified", "from_state": "open", "to_state": "verified",
                       "details": {}})
        events.append({"finding_id": fid, "at": fixed + timedelta(hours=1), "actor": "admin",
                       "action": "transition", "from_state": "verified",
                       "to_state": "closed", "details": {}})  # not a second fix
    conn.execute(finding_events.insert(), events)


def test_page_counts_match_the_timeline_and_respect_scope(w: WebApp) -> None:
    now = w.now()
    last, current = week_keys(now, "UTC", 2)
    with w.engine.begin() as conn:
        _finding(conn, w, "g1", 2, last.start + timedelta(hours=1),
                 last.start + timedelta(days=2, hours=1))  # 2 days, rectified last week
        _finding(conn, w, "g1", 2, last.start + timedelta(hours=2))  # still open
        _finding(conn, w, "g2", 3, last.start + timedelta(hours=3),
                 last.start + timedelta(days=1, hours=3))  # g2: 1 day
    with w.engine.connect() as conn:
        flow = {f.key: f for f in trends.weekly_flow(
            conn, [(p.key, p.start, p.end) for p in (last, current)], sa.true())}
    assert (flow[last.key].opened, flow[last.key].rectified) == (3, 2)
    assert (flow[current.key].opened, flow[current.key].rectified) == (0, 0)
    admin = w.client("admin").get("/trends", base_url=BASE).text
    row = admin.split(f"<td>{last.key} ")[1].split("</tr>")[0]
    assert '<td class="num">3</td><td class="num">2</td>' in row
    fix = admin.split('id="time-to-fix"')[1]
    assert "Level II (serious)" in fix
    assert "2.0 days" in fix
    assert "1.0 days" in fix
    viewer = w.client("viewer").get("/trends", base_url=BASE).text  # group g1 only
    row = viewer.split(f"<td>{last.key} ")[1].split("</tr>")[0]
    assert '<td class="num">2</td><td class="num">1</td>' in row
    assert "Level III (relatively serious)" not in viewer.split('id="time-to-fix"')[1]
    zh = w.client("admin")
    zh.set_cookie("hostpatrol_lang", "zh_CN", domain="localhost")
    assert "每周新增与整改的问题" in zh.get("/trends", base_url=BASE).text
