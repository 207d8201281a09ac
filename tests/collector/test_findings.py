"""The register: lifecycle with regression, waivers and their expiry, fleet spread,
deadlines (reminder, overdue escalation), the outbox, the lease and retention.

Runs on SQLite and PostgreSQL with an injected clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from findings_kit import (
    LIMITS,
    data,
    enroll_host,
    events_of,
    findings_of,
    load_policy,
    policy_with,
)
from hostpatrol.collector.background import acquire, deadlines, release, run_once
from hostpatrol.collector.errors import ApiError
from hostpatrol.collector.findings import lifecycle, waivers
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.model import LEVELS
from hostpatrol.collector.retention import purge
from hostpatrol.collector.store.schema import check_results, outbox, reports
from hostpatrol.shared.clock import utcnow

OPERATOR = lifecycle.Actor("olga", "operator")
APPROVER = lifecycle.Actor("arno", "approver")
CHANNELS = ('{hook: {type: webhook, url: "http://127.0.0.1:9/x", format: slack}, '
            'boss: {type: webhook, url: "http://127.0.0.1:9/y"}}')


def _firewall_off(host, now):
    host.send({"firewall": data("firewall", active=False)}, now)


def _firewall_on(host, now):
    host.send({"firewall": data("firewall", active=True)}, now)


def _move(engine, fid, to, actor=OPERATOR, now=None, **kw):
    with engine.begin() as conn:
        return lifecycle.transition(conn, loader.current(conn), fid, to, actor,
                                    now or utcnow(), **kw)


def test_lifecycle_fix_verify_close_and_regression(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    _firewall_off(host, now)
    [f] = findings_of(engine, host.agent_id, "firewall-off")
    _move(engine, f.id, "assigned", owner="bob", note="yours")
    _move(engine, f.id, "in_progress")
    _move(engine, f.id, "fixed", note="nft enabled")
    _firewall_off(host, now + timedelta(hours=1))  # the agent disagrees
    assert findings_of(engine, host.agent_id, "firewall-off")[0].state == "in_progress"
    _move(engine, f.id, "fixed")
    _firewall_on(host, now + timedelta(hours=2))
    f = findings_of(engine, host.agent_id, "firewall-off")[0]
    assert (f.state, f.owner) == ("verified", "bob")
    with pytest.raises(ApiError) as e:
        _move(engine, f.id, "open")
    assert e.value.status == 409
    _move(engine, f.id, "closed")
    _firewall_off(host, now + timedelta(days=3))
    [f] = findings_of(engine, host.agent_id, "firewall-off")
    assert (f.state, f.repeat_count) == ("open", 1)
    assert events_of(engine, f.id) == [
        "opened", "transition", "transition", "transition", "fix_not_confirmed",
        "transition", "verified", "transition", "reopened"]
    assert f.deadline == now + timedelta(days=3) + timedelta(hours=720)


def test_roles_guard_transitions(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    host.send({"antivirus": _uncleaned()}, now)
    [f] = findings_of(engine, host.agent_id, "malware-not-cleaned")
    assert f.level == LEVELS["II"]
    with pytest.raises(ApiError) as e:
        _move(engine, f.id, "assigned", actor=lifecycle.Actor("vic", "viewer"))
    assert e.value.status == 403
    host.send({"antivirus": _uncleaned(0)}, now + timedelta(hours=1))
    with pytest.raises(ApiError) as e:
        _move(engine, f.id, "closed")  # level II: an approver must close it
    assert e.value.status == 403
    assert _move(engine, f.id, "closed", actor=APPROVER).state == "closed"


def _uncleaned(n: int = 1) -> dict:
    av = data("antivirus")
    av["summary"] = dict(av["summary"], installed=True, running=True, realtime_protection=True,
                         newest_signature_age_days=1.0, last_scan_age_days=1.0,
                         uncleaned_detections=n, detections_total=n)
    return av


def test_waiver_needs_another_approver_and_expiry_reopens(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    _firewall_off(host, now)
    [f] = findings_of(engine, host.agent_id, "firewall-off")
    with engine.begin() as conn:
        policy = loader.current(conn)
        with pytest.raises(ApiError, match="justification"):
            waivers.request(conn, policy, f.id, OPERATOR, justification="x",
                            expires_at=now + timedelta(days=7), now=now)
    with engine.begin() as conn:
        w = waivers.request(conn, policy, f.id, OPERATOR,
                            justification="appliance has no host firewall; vendor ticket 42",
                            expires_at=now + timedelta(days=7), now=now)
    with engine.begin() as conn, pytest.raises(ApiError) as e:
        waivers.decide(conn, policy, w.id, lifecycle.Actor("olga", "approver"), approve=True,
                       now=now)
    assert e.value.status == 403  # nobody approves their own waiver
    with engine.begin() as conn:
        waivers.decide(conn, policy, w.id, APPROVER, approve=True, now=now)
    _firewall_off(host, now + timedelta(days=1))
    assert findings_of(engine, host.agent_id, "firewall-off")[0].state == "waived"
    with engine.begin() as conn:
        assert waivers.expire(conn, policy, now + timedelta(days=6)) == 0
    with engine.begin() as conn:
        assert waivers.expire(conn, policy, now + timedelta(days=7, seconds=1)) == 1
    f = findings_of(engine, host.agent_id, "firewall-off")[0]
    assert f.state == "open"
    assert events_of(engine, f.id)[-3:] == ["waiver_requested", "waiver_approved",
                                            "waiver_expired"]


def test_fleet_spread_raises_every_finding_once(engine) -> None:
    now = utcnow()
    load_policy(engine, policy_with(spread="{min_hosts: 3, min_group_percent: 20}"))
    hosts = [enroll_host(engine, group=None, now=now) for _ in range(4)]
    for h in hosts[:2]:
        _firewall_off(h, now)
    assert {f.level for f in findings_of(engine, rule="firewall-off")} == {LEVELS["IV"]}
    _firewall_off(hosts[2], now)
    found = findings_of(engine, rule="firewall-off")
    assert [f.level for f in found] == [LEVELS["III"]] * 3
    assert all(f.spread for f in found)
    spread = [x for x in found[0].factors if x["factor"] == "fleet_spread"]
    assert spread[0]["from"] == "IV"
    assert spread[0]["to"] == "III"
    _firewall_off(hosts[3], now)
    assert findings_of(engine, hosts[3].agent_id, "firewall-off")[0].level == LEVELS["III"]
    assert events_of(engine, found[0].id).count("level_raised") == 1


def test_fleet_spread_counts_hosts_up_to_its_cap_then_says_or_more(engine) -> None:
    """The spread factor's host count is exact below ten times the threshold; from there
    it is the cap with ``at_least``, worded "or more" in both languages."""
    from flask import Flask
    from flask_babel import Babel, force_locale
    from hostpatrol.collector.findings import register
    from hostpatrol.collector.web import finding_text
    from hostpatrol.collector.web.i18n import TRANSLATIONS

    now = utcnow()
    load_policy(engine, policy_with(spread="{min_hosts: 2, min_group_percent: 100}"))
    cap = 2 * register.SPREAD_COUNT_CAP
    hosts = [enroll_host(engine, group=None, now=now) for _ in range(cap + 2)]
    for h in hosts:
        _firewall_off(h, now)
    factors = {h.agent_id: next(x for x in findings_of(engine, h.agent_id, "firewall-off")[0]
                                .factors if x["factor"] == "fleet_spread") for h in hosts}
    # the second host crossed the threshold and raised the first: both say 2
    assert [factors[h.agent_id]["hosts"] for h in hosts[:2]] == [2, 2]
    assert [factors[h.agent_id]["hosts"] for h in hosts[2:cap]] == list(range(3, cap + 1))
    assert all("at_least" not in factors[h.agent_id] for h in hosts[:cap - 1])
    for h in hosts[cap - 1:]:
        assert factors[h.agent_id] == {**factors[h.agent_id], "hosts": cap, "at_least": True}
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app)
    last = factors[hosts[-1].agent_id]
    with app.test_request_context():
        assert finding_text.factor_detail(last).startswith(f"{cap} hosts or more (from 2)")
        assert finding_text.factor_detail(factors[hosts[3].agent_id]).startswith(
            "4 hosts (from 2)")
        with force_locale("zh_Hans_CN"):
            assert finding_text.factor_detail(last).startswith(f"{cap} 台或更多主机")
    levels = {f.level for f in findings_of(engine, rule="firewall-off")}
    assert levels == {LEVELS["III"]}, "every finding raised once, none twice"


def _register(engine, agent_id):
    return [(f.rule_id, f.state, f.occurrences, f.repeat_count, f.level,
             events_of(engine, f.id)) for f in findings_of(engine, agent_id)]


def test_a_batch_changes_the_register_as_reports_one_by_one_would(engine) -> None:
    # the register reads each host's findings once per batch: a host's later reports in
    # the same batch must still see what its earlier ones opened, verified or reopened
    now = utcnow()
    # (each in a group of its own: their findings must not spread to one another)
    alone = enroll_host(engine, group="ga", now=now)
    batched = enroll_host(engine, group="gb", now=now)
    steps = [data("firewall", active=False), data("firewall", active=False),
             data("firewall", active=True), data("firewall", active=False)]
    for i, d in enumerate(steps):
        alone.send({"firewall": d}, now + timedelta(seconds=i))
    tokens = [batched.signed({"firewall": d}, now + timedelta(seconds=i))
              for i, d in enumerate(steps)]
    out = ingest(engine, tokens, limits=LIMITS, now=now + timedelta(seconds=5))
    assert [o.outcome for o in out] == ["accepted"] * 4
    mine = _register(engine, batched.agent_id)
    assert mine == _register(engine, alone.agent_id)
    assert [(rule, state, seen, again) for rule, state, seen, again, _, _ in mine] == [
        ("firewall-off", "open", 3, 1)]
    assert mine[0][5] == ["opened", "verified", "reopened"]


def _disk(used_percent: float) -> dict:
    d = data("disk")
    d["filesystems"] = [dict(d["filesystems"][0], used_percent=used_percent,
                             inodes_used_percent=1.0)]
    return d


def test_a_batch_reuses_a_hosts_findings_only_while_they_stay_as_read(engine) -> None:
    # a host delivering its spool: its later reports in the batch reuse the findings read
    # for the first while they only see the same deviation again. Once one changes a
    # level they are read afresh; reused, the next report would raise it a second time
    now = utcnow()
    steps = "{steps: [{at: 50, level: IV}, {at: 80, level: II}]}"
    load_policy(engine, policy_with(groups=f"{{la: {{rules: {{disk-used: {steps}}}}}, "
                                           f"lb: {{rules: {{disk-used: {steps}}}}}}}"))
    alone = enroll_host(engine, group="la", now=now)
    batched = enroll_host(engine, group="lb", now=now)
    levels = [60, 60, 90, 90, 90, 60, 60]
    for i, used in enumerate(levels):
        alone.send({"disk": _disk(used)}, now + timedelta(seconds=i))
    tokens = [batched.signed({"disk": _disk(used)}, now + timedelta(seconds=i))
              for i, used in enumerate(levels)]
    reads = []

    def count(_conn, _cursor, statement, *_):
        if statement.lstrip().startswith("SELECT findings.id") and \
                "findings.agent_id IN" in statement:  # a host's findings, read by the register
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        out = ingest(engine, tokens, limits=LIMITS, now=now + timedelta(seconds=10))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert [o.outcome for o in out] == ["accepted"] * len(levels)
    # read once, then afresh after the open, the raise and the lowering: 4 for 7 reports
    assert len(reads) == 4
    mine = _register(engine, batched.agent_id)
    assert mine == _register(engine, alone.agent_id)
    [disk] = [m for m in mine if m[0] == "disk-used"]
    assert disk[2] == len(levels)  # occurrences
    assert disk[4] == LEVELS["IV"]
    assert disk[5] == ["opened", "level_raised", "level_lowered"]


def test_a_batch_sees_levels_raised_by_its_own_earlier_reports(engine) -> None:
    # one report of a batch opens the finding that makes the deviation widespread and
    # raises the others; another host's report later in the batch must not undo that
    now = utcnow()
    load_policy(engine, policy_with(spread="{min_hosts: 3, min_group_percent: 20}"))
    hosts = [enroll_host(engine, group=None, now=now) for _ in range(3)]
    for h in hosts[:2]:
        _firewall_off(h, now)
    later = now + timedelta(minutes=1)
    tokens = [hosts[2].signed({"firewall": data("firewall", active=False)}, later),
              hosts[0].signed({"firewall": data("firewall", active=False)}, later)]
    assert [o.outcome for o in ingest(engine, tokens, limits=LIMITS, now=later)] == \
        ["accepted"] * 2
    found = findings_of(engine, rule="firewall-off")
    assert [f.level for f in found] == [LEVELS["III"]] * 3
    first = events_of(engine, found[0].id)
    assert first.count("level_raised") == 1
    assert "level_lowered" not in first


def test_group_spread_by_percent(engine) -> None:
    now = utcnow()
    hosts = [enroll_host(engine, group="branch", now=now) for _ in range(5)]
    _firewall_off(hosts[0], now)
    assert findings_of(engine, hosts[0].agent_id)[0].level == LEVELS["IV"]
    _firewall_off(hosts[1], now)  # 2 of 5 = 40 % ≥ 20 %
    assert {f.level for f in findings_of(engine, rule="firewall-off")} == {LEVELS["III"]}


def test_reminder_overdue_escalation_and_outbox_once(engine) -> None:
    now = utcnow()
    groups = "{hq: {owner: chief}, site: {parent: hq, owner: sam, backup_owner: sue}}"
    routes = "[{levels: [III], groups: [site], channels: [hook]}, " \
             "{levels: [III], groups: [hq], channels: [boss]}]"
    load_policy(engine, policy_with(groups=groups).replace(
        "  channels: {}", f"  channels: {CHANNELS}").replace("  routes: []",
                                                             f"  routes: {routes}"))
    host = enroll_host(engine, group="site", now=now)
    host.send({"logs": _logging_dead()}, now)
    [f] = findings_of(engine, host.agent_id, "logging-alive")
    assert (f.level, f.owner, f.backup_owner) == (LEVELS["III"], "sam", "sue")
    host.send({"logs": _logging_dead()}, now + timedelta(hours=1))  # repeat: no new message
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.channel, outbox.c.payload)).all()
    assert [(r.channel, r.payload["event"]) for r in rows] == [("hook", "opened")]
    with engine.begin() as conn:
        policy = loader.current(conn)
        assert deadlines(conn, policy, now + timedelta(days=6, hours=1)) == {
            "reminders": 1, "overdue": 0}
        assert deadlines(conn, policy, now + timedelta(days=6, hours=2)) == {
            "reminders": 0, "overdue": 0}
        assert deadlines(conn, policy, now + timedelta(days=8)) == {
            "reminders": 0, "overdue": 1}
        assert deadlines(conn, policy, now + timedelta(days=9)) == {
            "reminders": 0, "overdue": 0}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.channel, outbox.c.payload)
                            .order_by(outbox.c.id)).all()
    assert [(r.channel, r.payload["event"]) for r in rows] == [
        ("hook", "opened"), ("hook", "reminder"), ("hook", "overdue"), ("boss", "overdue")]


def _logging_dead() -> dict:
    logs = data("logs")
    logs["logging"] = dict(logs["logging"], alive=False)
    return logs


def test_lease_is_held_by_one_holder_at_a_time(engine) -> None:
    now = utcnow()
    assert acquire(engine, "a", now, 60)
    assert not acquire(engine, "b", now + timedelta(seconds=30), 60)
    assert acquire(engine, "a", now + timedelta(seconds=30), 60)  # renewal
    assert acquire(engine, "b", now + timedelta(seconds=91), 60)  # a's lease ran out
    assert run_once(engine, "a", now + timedelta(seconds=100)) == {}
    release(engine, "b")
    assert run_once(engine, "a", now + timedelta(seconds=101)) != {}


def test_retention_keeps_latest_results_and_findings(engine) -> None:
    old = utcnow() - timedelta(days=20)
    host = enroll_host(engine)
    _firewall_off(host, old)
    host.send({"disk": data("disk")}, old + timedelta(hours=1))
    host.send({"disk": data("disk")}, old + timedelta(days=1))
    load_policy(engine, policy_with(
        retention="{evidence_days: 10, results_days: 10, batch: 1}"))
    with engine.begin() as conn:
        done = purge(conn, loader.current(conn), utcnow())
    assert (done["results"], done["reports"]) == (1, 1)
    with engine.connect() as conn:
        left = conn.execute(sa.select(check_results.c.check_name)).scalars().all()
        assert sorted(left) == ["disk", "firewall"]
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() == 2
    assert len(findings_of(engine, host.agent_id)) == 1
