"""A worked-on fleet for rendering every dashboard page: 150 hosts through the real ingest
path (report_fleet), then people working on it through the web as they would: findings in
every state and level, waivers requested, approved and rejected, baselines approved, an
approved report and a draft, incidents, users, tokens and an agent revoked — so the audit
log and each timeline hold every kind of entry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import report_fleet
import sqlalchemy as sa
from findings_kit import data, load_policy
from flask import Flask
from hostpatrol.collector.policy import loader
from hostpatrol.collector.reports.period import Period, parse
from hostpatrol.collector.store.db import make_engine, upgrade
from hostpatrol.collector.store.schema import findings, waivers
from report_kit import BASE, client, make_app

PERIOD = parse("2026-W48", "Asia/Shanghai")
NOW = PERIOD.end + timedelta(hours=1)
HOSTS = 150
ADMIN = "wangqiang"  # report_fleet.PEOPLE: admin 王强, approver 李娜, operator 张伟


@dataclass
class ZhFleet:
    """The app over the seeded store and what pages need to name."""

    app: Flask
    engine: sa.Engine
    period: Period
    fleet: report_fleet.Fleet
    ids: dict[str, object] = field(default_factory=dict)

    def client(self, login: str = ADMIN):
        """A signed-in client of a seeded user."""
        return client(self.app, login)


def _post(w: ZhFleet, login: str, url: str, **form: object) -> None:
    resp = w.client(login).post(url, data=form, base_url=BASE, follow_redirects=True)
    assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
    refused = re.findall(r'<p class="flash">((?:Not done|未执行|未完成)[^<]*)</p>', resp.text)
    assert not refused, (url, refused)


def _ids(engine: sa.Engine, rule: str, state: str = "open", n: int = 1) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(findings.c.id).where(
            findings.c.rule_id == rule, findings.c.state == state)
            .order_by(findings.c.id).limit(n)).scalars())


def _work(w: ZhFleet) -> None:
    """People working on the register, the baselines, the reports and the accounts."""
    e = w.engine
    disk = _ids(e, "disk-used", n=6)
    ops = "zhangwei"
    _post(w, ops, f"/findings/{disk[0]}/transition", to="in_progress", note="清理日志中")
    _post(w, ops, f"/findings/{disk[1]}/transition", to="in_progress")
    _post(w, ops, f"/findings/{disk[1]}/transition", to="fixed", note="已扩容")
    closing = _ids(e, "disk-used", state="verified", n=1)[0]
    _post(w, ADMIN, f"/findings/{closing}/transition", to="closed", note="复查通过")
    _post(w, ops, f"/findings/{disk[3]}/assign", owner="lina")
    for fid in disk[4:6]:
        _post(w, ops, f"/findings/{fid}/waivers", days="30",
              justification="业务高峰期结束后统一安排扩容处理")
    with e.connect() as conn:
        asked = list(conn.execute(sa.select(waivers.c.id).order_by(waivers.c.id)).scalars())
    _post(w, "lina", f"/waivers/{asked[0]}/approve", note="同意")
    _post(w, "lina", f"/waivers/{asked[1]}/reject", note="请按期整改")
    fw = _ids(e, "firewall-off", state="assigned", n=1)
    _post(w, ops, f"/findings/{fw[0]}/waivers", days="7",
          justification="等待下周变更窗口再关闭此端口")
    _post(w, ops, "/findings/bulk", op="transition", to="in_progress",
          ids=[str(i) for i in _ids(e, "clock-unsynchronised", n=3)])
    with e.begin() as conn:  # every level shows: the seeded policy yields II-IV only
        for level, fid in zip((1, 5), _ids(e, "av-signatures", n=2), strict=True):
            conn.execute(findings.update().where(findings.c.id == fid).values(level=level))
    host = next(iter(w.fleet.hosts.values()))
    host.send({"ports": data("ports"), "accounts": data("accounts")},
              PERIOD.end - timedelta(hours=3))
    _post(w, ops, f"/hosts/{host.agent_id}/baseline/ports/approve")
    _post(w, ops, f"/hosts/{host.agent_id}/baseline/admins/approve")
    load_policy(e, loader.default_text(), now=PERIOD.end - timedelta(hours=2))
    _post(w, ADMIN, "/policy",
          yaml_text=loader.default_text().replace("after_days: 30", "after_days: 21", 1))
    _post(w, ADMIN, f"/groups/hosts/{host.agent_id}", group="branch-a", owner="zhangwei",
          backup_owner="lina", tags="机房A, terminal", critical="on")
    with e.connect() as conn:
        w.ids["policy_versions"] = sorted(s.version for s in loader.history(conn))[-2:]
    w.ids["host"] = host.agent_id
    w.ids["report_id"] = host.sent[-1]
    key = PERIOD.key
    _post(w, ops, f"/reports/{key}/create")
    _post(w, "lina", f"/reports/{key}/review")
    _post(w, ADMIN, f"/reports/{key}/approve")
    _post(w, ops, "/reports/2026-W47/create")
    _post(w, ops, "/incidents", level="IV", occurred_at="2026-11-25T09:30",
          title="办公网出现挖矿程序", description="已隔离并清除")
    _post(w, ADMIN, "/users", name="zhaoli", role="viewer", password="correct horse 12",
          groups="branch-a")
    _post(w, ADMIN, "/agents/tokens", uses="5", expires="24h", group="branch-a")
    silent = next(iter(sorted(w.fleet.silent)))
    _post(w, ADMIN, f"/agents/{w.fleet.hosts[silent].agent_id}/revoke")
    w.ids["findings"] = [disk[0], disk[1], closing, disk[4], disk[5], fw[0],
                         *_ids(e, "av-signatures", n=1)]


def build(root: Path) -> ZhFleet:
    """Seed 150 hosts on a SQLite store, work on them, and return the app reading them."""
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    upgrade(engine)
    app = make_app(root, engine, NOW)
    fleet = report_fleet.seed(engine, PERIOD, hosts=HOSTS)
    inventory = data("inventory")  # the software view's packages, on a few hosts
    for host in list(fleet.hosts.values())[:5]:
        host.send({"inventory": inventory}, PERIOD.start + timedelta(days=2))
    w = ZhFleet(app, engine, PERIOD, fleet)
    _work(w)
    return w
