"""A populated fleet for the report tests: ~100 hosts sending real check data through the real
ingest path in one ISO week, findings worked on by people with display names, a recorded
incident. Everything the report states is then checked against these tables."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from findings_kit import Host, enroll_host, real_data
from forge import disk
from hostpatrol.collector.findings import lifecycle
from hostpatrol.collector.policy import loader
from hostpatrol.collector.reports import incidents
from hostpatrol.collector.reports.period import Period
from hostpatrol.collector.store import profiles
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import agents, findings

PEOPLE = {"zhangwei": ("operator", "张伟"), "lina": ("approver", "李娜"),
          "wangqiang": ("admin", "王强"), "ops2": ("operator", None)}
DAY = timedelta(days=1)


@dataclass
class Fleet:
    """What was seeded: hosts by name, the period, the owners given."""

    period: Period
    hosts: dict[str, Host] = field(default_factory=dict)
    critical: set[str] = field(default_factory=set)
    terminals: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)


def _data(check: str, **changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(real_data()[check])
    for path, value in changes.items():
        node = d
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return d


def _results(i: int, fleet: Fleet, name: str) -> dict[str, dict[str, Any]]:
    """Each host's check data: a pattern over ``i`` so every kind of problem shows up."""
    pct = 99.0 if name in fleet.critical else (96.0 if i % 10 == 0 else 40.0 + i % 30)
    patches = _data("patches", security_count=0 if i % 3 else 4)
    av_running = i % 11 != 0
    return {
        "disk": disk(pct),
        "patches": patches,
        "antivirus": _data("antivirus", summary__installed=True, summary__running=av_running,
                           summary__realtime_protection=av_running,
                           summary__newest_signature_age_days=12.0 if i % 4 == 0 else 1.0,
                           summary__last_scan_age_days=1.0),
        "firewall": _data("firewall", active=i % 7 != 0),
        "time": _data("time", synchronised=i % 9 != 0),
        "accounts": _data("accounts"),
    }


def seed(engine: sa.Engine, period: Period, hosts: int = 100) -> Fleet:
    """``hosts`` hosts in two groups; servers and terminals; reports on the period's Tuesday,
    some fixed on Thursday; owners for part of the findings; one incident."""
    fleet = Fleet(period)
    t0 = period.start + DAY + timedelta(hours=10)
    with engine.begin() as conn:
        for login, (role, display) in PEOPLE.items():
            user_store.add_user(conn, login, role, None, t0 - 30 * DAY, display_name=display)
    for i in range(1, hosts + 1):
        terminal = i > hosts * 4 // 5
        name = f"{'pc' if terminal else 'srv'}-{i:03d}"
        group = "branch-a" if i % 2 else "branch-b"
        fleet.hosts[name] = enroll_host(engine, group, now=t0 - 20 * DAY, hostname=name)
        if terminal:
            fleet.terminals.add(name)
        if i % 25 == 0 and not terminal:
            fleet.critical.add(name)
        if i % 33 == 0:
            fleet.silent.add(name)  # enrolled, never reported in the period
        with engine.begin() as conn:
            profiles.set_profile(conn, fleet.hosts[name].agent_id, by="t", now=t0 - 20 * DAY,
                                 critical=name in fleet.critical,
                                 tags=["terminal"] if terminal else [])
            if i % 10 == 3:  # a Kylin server or a UOS desktop (as their inventory would set)
                conn.execute(agents.update().where(agents.c.id == fleet.hosts[name].agent_id)
                             .values(os_family="xinchuang",
                                     os_distro="uos" if terminal else "kylin",
                                     os_desktop=terminal))
    for i, (name, host) in enumerate(fleet.hosts.items(), 1):
        if name in fleet.silent:
            continue
        results = _results(i, fleet, name)
        if i % 13 == 0:  # the patches check failed to run: not checked there
            host.send({k: v for k, v in results.items() if k != "patches"}, t0)
            host.send({"patches": results["patches"]}, t0 + timedelta(minutes=1), status="error")
        else:
            host.send(results, t0)
        if i % 20 == 0:  # disk cleaned up on Thursday: verified by the next result
            host.send({"disk": disk(50.0)}, t0 + 2 * DAY)
    _work(engine, fleet, t0 + 3 * DAY)
    with engine.begin() as conn:
        incidents.record(conn, level="III", occurred_at=t0 + DAY, title="Phishing mail opened",
                         description="A user opened a phishing attachment; host isolated.",
                         finding_ids=[], by="zhangwei", now=t0 + DAY + timedelta(hours=2))
    return fleet


def _work(engine: sa.Engine, fleet: Fleet, now: datetime) -> None:
    """Owners for part of the register: firewall problems to zhangwei, AV to ops2."""
    with engine.begin() as conn:
        policy = loader.current(conn)
        rows = conn.execute(sa.select(findings.c.id, findings.c.rule_id, findings.c.state)
                            .where(findings.c.state == "open")).all()
        for fid, rule, _state in rows:
            owner = {"firewall-off": "zhangwei", "av-running": "ops2",
                     "av-realtime": "ops2"}.get(rule)
            if owner:
                lifecycle.transition(conn, policy, fid, "assigned",
                                     lifecycle.Actor("lina", "approver"), now, owner=owner)
