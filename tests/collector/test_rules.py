"""Each rule kind on real stored reports (real check data from this host, signed, ingested).

Runs on SQLite and PostgreSQL; the clock is injected through ``ingest(now=...)``.
"""

from __future__ import annotations

from datetime import timedelta

from findings_kit import data, enroll_host, events_of, findings_of
from hostpatrol.collector.findings.evaluate import sweep_checkins
from hostpatrol.collector.policy.model import LEVELS
from hostpatrol.collector.store import profiles
from hostpatrol.shared.clock import utcnow


def _disk(percent: float, mount: str = "/") -> dict:
    d = data("disk")
    fs = dict(d["filesystems"][0], mount=mount, used_percent=percent)
    return dict(d, filesystems=[fs])


def test_threshold_opens_once_updates_and_verifies(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    host.send({"disk": _disk(90.0)}, now)
    host.send({"disk": _disk(91.5)}, now + timedelta(hours=1))
    [f] = findings_of(engine, host.agent_id, "disk-used")
    assert (f.state, f.level, f.subject, f.occurrences) == ("open", LEVELS["IV"], "/", 2)
    assert f.evidence["value"] == 91.5
    assert f.deadline == now + timedelta(hours=720)
    host.send({"disk": _disk(40.0)}, now + timedelta(hours=2))
    [f] = findings_of(engine, host.agent_id, "disk-used")
    assert f.state == "verified"
    assert events_of(engine, f.id) == ["opened", "verified"]


def test_threshold_critical_step_only_on_critical_hosts(engine) -> None:
    now = utcnow()
    plain = enroll_host(engine, group=None, now=now)  # no group: no group spread
    critical = enroll_host(engine, group=None, now=now)
    with engine.begin() as conn:
        profiles.set_profile(conn, critical.agent_id, by="t", now=now, critical=True)
    plain.send({"disk": _disk(99.0)}, now)
    critical.send({"disk": _disk(99.0)}, now)
    f = findings_of(engine, plain.agent_id, "disk-used")[0]
    assert (f.level, f.evidence["limit"]) == (LEVELS["IV"], 95)
    f = findings_of(engine, critical.agent_id, "disk-used")[0]
    assert f.level == LEVELS["II"]
    assert f.deadline == now + timedelta(hours=72)


def test_required_state_and_staleness(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    av = data("antivirus")
    av["summary"] = dict(av["summary"], installed=True, running=True, realtime_protection=True,
                         newest_signature_age_days=40.0, last_scan_age_days=1.0)
    host.send({"firewall": data("firewall", active=False), "antivirus": av}, now)
    fw = findings_of(engine, host.agent_id, "firewall-off")
    assert [(f.state, f.level) for f in fw] == [("open", LEVELS["IV"])]
    [sig] = findings_of(engine, host.agent_id, "av-signatures")
    assert sig.level == LEVELS["III"]  # the 30-day step
    assert findings_of(engine, host.agent_id, "av-last-scan") == []
    assert findings_of(engine, host.agent_id, "av-running") == []
    av["summary"]["newest_signature_age_days"] = 2.0
    host.send({"firewall": data("firewall", active=True), "antivirus": av},
              now + timedelta(hours=1))
    assert findings_of(engine, host.agent_id, "firewall-off")[0].state == "verified"
    assert findings_of(engine, host.agent_id, "av-signatures")[0].state == "verified"


def test_staleness_per_backup_location(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)

    def loc(name: str, age: float | None) -> dict:
        return {"name": name, "path": f"/backup/{name}/*", "exists": True, "copies": 3,
                "newest_path": None, "newest_mtime": None, "newest_age_hours": age,
                "newest_size_bytes": 10, "max_age_hours": 24, "min_size_bytes": None,
                "min_copies": None, "violations": [], "errors": [], "status": "ok"}

    host.send({"backups": {"configured": True, "locations": [
        loc("db", 50.0), loc("files", 2.0), loc("never", None)]}}, now)
    got = {f.subject: f.level for f in findings_of(engine, host.agent_id, "backup-age")}
    assert got == {"db": LEVELS["III"], "never": LEVELS["III"]}


def test_count_with_age_levels_and_critical(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    host.send({"patches": data("patches", security_count=3)}, now)
    [f] = findings_of(engine, host.agent_id, "security-updates")
    assert f.level == LEVELS["info"]
    assert f.deadline is None
    host.send({"patches": data("patches", security_count=3)}, now + timedelta(days=15))
    f = findings_of(engine, host.agent_id, "security-updates")[0]
    assert f.level == LEVELS["IV"]
    assert [x["factor"] for x in f.factors] == ["rule", "age"]
    host.send({"patches": data("patches", security_count=1)}, now + timedelta(days=31))
    f = findings_of(engine, host.agent_id, "security-updates")[0]
    assert f.level == LEVELS["III"]
    assert "level_raised" in events_of(engine, f.id)
    host.send({"patches": data("patches", security_count=0)}, now + timedelta(days=32))
    assert findings_of(engine, host.agent_id, "security-updates")[0].state == "verified"


def test_count_each_item_is_a_finding(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    ports = data("ports", services_down=["sshd", "cron"])
    host.send({"ports": ports}, now)
    subjects = sorted(f.subject for f in findings_of(engine, host.agent_id, "services-down"))
    assert subjects == ["cron", "sshd"]


def test_drift_against_first_inspection_and_approval(engine) -> None:
    from hostpatrol.collector.findings.baselines import approve

    now = utcnow()
    host = enroll_host(engine, now=now)
    ports = data("ports")
    host.send({"ports": ports}, now)
    assert findings_of(engine, host.agent_id, "new-port") == []
    extra = dict(ports, listening=[*ports["listening"], {
        "protocol": "tcp", "port": 4444, "address": "192.0.2.10", "family": "ipv4", "pid": None,
        "process": None, "user": None}])
    host.send({"ports": extra}, now + timedelta(hours=1))
    [f] = findings_of(engine, host.agent_id, "new-port")
    assert (f.subject, f.state) == ("tcp/4444", "open")
    host.send({"ports": extra}, now + timedelta(hours=2))
    assert len(findings_of(engine, host.agent_id, "new-port")) == 1  # until approved
    with engine.begin() as conn:
        items = approve(conn, host.agent_id, "ports", "alice", now + timedelta(hours=3))
    assert "tcp/4444" in items
    assert findings_of(engine, host.agent_id, "new-port")[0].state == "verified"
    with engine.connect() as conn:
        assert profiles.get_baselines(conn, host.agent_id)["ports"].approved_by == "alice"


def test_checkin_silent_missed_then_late(engine) -> None:
    t0 = utcnow() - timedelta(days=10)
    host = enroll_host(engine)
    host.send({"inventory": data("inventory")}, t0)
    with engine.begin() as conn:
        sweep_checkins(conn, t0 + timedelta(hours=12))
    assert findings_of(engine, host.agent_id) == []
    with engine.begin() as conn:
        sweep_checkins(conn, t0 + timedelta(days=8, hours=12))
    rules = {f.rule_id: f.state for f in findings_of(engine, host.agent_id)}
    assert rules == {"host-silent": "open", "weekly-missed": "open"}
    host.send({"inventory": data("inventory")}, t0 + timedelta(days=9))
    rules = {f.rule_id: f.state for f in findings_of(engine, host.agent_id)}
    assert rules == {"host-silent": "verified", "weekly-missed": "verified",
                     "weekly-late": "open"}
    late = findings_of(engine, host.agent_id, "weekly-late")[0]
    assert late.evidence["gap_hours"] == 216.0
    host.send({"inventory": data("inventory")}, t0 + timedelta(days=9, hours=1))
    assert findings_of(engine, host.agent_id, "weekly-late")[0].state == "verified"


def test_error_results_are_not_judged(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    host.send({"disk": _disk(97.0)}, now)
    host.send({"disk": _disk(10.0)}, now + timedelta(hours=1), status="error")
    assert findings_of(engine, host.agent_id, "disk-used")[0].state == "open"


def test_edge_facts_become_findings_at_their_levels(engine) -> None:
    """issue 19: a second root, a held security fix, inodes exhausted, freshclam failing."""
    now = utcnow()
    plain = enroll_host(engine, group=None, now=now)
    critical = enroll_host(engine, group=None, now=now)
    with engine.begin() as conn:
        profiles.set_profile(conn, critical.agent_id, by="t", now=now, critical=True)
    accounts = data("accounts", extra_uid0_accounts=["toor"],
                    uid0_accounts=["root", "toor"], empty_password=["guest"])
    patches = data("patches", security_count=2, held_security=["libzstd1"])
    fs = dict(data("disk")["filesystems"][0], inodes_used_percent=100.0, used_percent=10.0)
    disk = dict(data("disk"), filesystems=[fs])
    av = data("antivirus")
    av["summary"] = dict(av["summary"], update_failing_days=2.5)
    for host in (plain, critical):
        host.send({"accounts": accounts, "patches": patches, "disk": disk, "antivirus": av}, now)
    [root2] = findings_of(engine, plain.agent_id, "extra-uid0")
    assert (root2.subject, root2.level) == ("toor", LEVELS["III"])
    assert findings_of(engine, critical.agent_id, "extra-uid0")[0].level == LEVELS["II"]
    assert [f.subject for f in findings_of(engine, plain.agent_id, "empty-passwords")] == ["guest"]
    [held] = findings_of(engine, plain.agent_id, "security-update-held")
    assert (held.subject, held.level) == ("libzstd1", LEVELS["IV"])
    assert findings_of(engine, plain.agent_id, "security-updates")[0].evidence["value"] == 2
    assert findings_of(engine, plain.agent_id, "inodes-used")[0].level == LEVELS["IV"]
    assert findings_of(engine, critical.agent_id, "inodes-used")[0].level == LEVELS["II"]
    [fresh] = findings_of(engine, plain.agent_id, "av-update-failing")
    assert (fresh.level, fresh.evidence["value"]) == (LEVELS["IV"], 2.5)
    # fixed on the host: the next run verifies each
    av["summary"] = dict(av["summary"], update_failing_days=None)
    plain.send({"accounts": data("accounts", extra_uid0_accounts=[], empty_password=[]),
                "patches": data("patches", security_count=0, held_security=[]),
                "antivirus": av}, now + timedelta(hours=1))
    for rule in ("extra-uid0", "security-update-held", "av-update-failing", "empty-passwords"):
        assert {f.state for f in findings_of(engine, plain.agent_id, rule)} == {"verified"}, rule
