"""Seed a store directly (no HTTP, no rules): N hosts, a year of weekly reports, findings.

Bulk inserts into the store's own tables (``hostpatrol.collector.store.schema``), one
week of the whole fleet per statement batch, so 10,000 hosts x 52 weeks (520,000
reports, 6.76 million check results) take minutes, not hours. Every weekly report
carries all 13 checks. To keep the database at a few GB, only the newest week carries
the full (trimmed) data of every check; older weeks keep full data for the checks
whose history the dossier draws (disk, patches, antivirus; lists cut to one item) and
``{}`` for the rest — the row counts, which are what a query plan meets, are those of a
real year. The evidence column holds one real signed JWS per host (heartbeat-sized),
re-used weekly: ``storage.py`` measures real sizes.
"""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.collector.store import findingcounts, partitions
from hostpatrol.collector.store.schema import (
    agents,
    check_results,
    finding_events,
    findings,
    host_latest,
    host_profiles,
    host_tags,
    reports,
)
from hostpatrol.shared import jws
from hostpatrol.shared.keys import public_b64
from hostpatrol.shared.report import format_time

HISTORY = ("disk", "patches", "antivirus")
HEARTBEAT = ("disk",)
FINDING_RULES = (  # (rule, check, title, level, subject)
    ("disk-used", "disk", "Disk used", 4, "/"),
    ("security-updates", "patches", "Security updates pending", 4, "security"),
    ("av-signatures", "antivirus", "Antivirus signatures old", 4, "ClamAV"),
    ("firewall-off", "firewall", "Host firewall off", 4, "firewall"),
    ("clock-unsynchronised", "time", "Clock not synchronised", 4, "clock"),
    ("av-running", "antivirus", "Antivirus not running", 3, "ClamAV"),
)
STATES = ("open", "open", "assigned", "in_progress", "verified", "closed", "fixed")


def trim(o: Any, n: int = 3) -> Any:
    """Lists cut to ``n`` items, recursively."""
    if isinstance(o, list):
        return [trim(x, n) for x in o[:n]]
    if isinstance(o, dict):
        return {k: trim(v, n) for k, v in o.items()}
    return o


def _disk(data: dict[str, Any], pct: float) -> dict[str, Any]:
    d = copy.deepcopy(data)
    for fs in d.get("filesystems", []):
        fs["used_percent"] = round(pct, 2)
        fs["used_bytes"] = int(fs["total_bytes"] * pct / 100)
        fs["free_bytes"] = fs["total_bytes"] - fs["used_bytes"]
    return d


def seed(engine: sa.Engine, results: list[dict[str, Any]], hosts: int, *, weeks: int = 52,
         now: datetime | None = None, seed_value: int = 8) -> list[str]:
    """Seed ``hosts`` hosts with ``weeks`` weekly reports each; return the agent ids."""
    rng = random.Random(seed_value)
    now = now or datetime.now(UTC)
    base = {r["check"]: r for r in results}
    full = {c: trim(r["data"]) for c, r in base.items()}
    small = {c: trim(r["data"], 1) for c, r in base.items()}
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(hosts)]
    growth = [rng.uniform(0.05, 0.6) for _ in range(hosts)]  # disk %-points per week
    start = [rng.uniform(10, 60) for _ in range(hosts)]
    # 2 % of hosts are silent, but at least a page (50), so that the silent filter shows
    # a full page at every size and the pages compared render the same rows
    silent = set(range(0, hosts, max(1, min(50, hosts // 50))))
    with engine.begin() as conn:
        conn.execute(agents.insert(), [{
            "id": aid, "kid": uuid.uuid4().hex + uuid.uuid4().hex[:11],
            "public_key": public_b64(key.public_key()), "status": "active",
            "hostname": f"sim-{i:05d}.branch{i % 40:02d}.example",
            "machine_id": uuid.uuid4().hex, "group_name": f"branch-{i % 40:02d}",
            "agent_version": "0.1.0", "os_name": "Debian GNU/Linux 12",
            "enrolled_at": now - timedelta(weeks=weeks + 1), "approved_at": now - timedelta(
                weeks=weeks + 1),
            "last_seen_at": now - timedelta(minutes=60 * 80 if i in silent
                                            else rng.randint(1, 14)),
        } for i, aid in enumerate(ids)])
        # profiles as admins keep them: a zone tag and a role tag each, 10 % critical
        conn.execute(host_profiles.insert(), [{
            "agent_id": aid, "critical": i % 10 == 0,
            "tags": sorted({("isolated" if i % 20 == 0 else "intranet" if i % 3 == 0
                             else "internet"), ("db", "web", "file", "app")[i % 4]}),
            "owner": f"ops-{i % 40:02d}", "updated_at": now, "updated_by": "seed",
        } for i, aid in enumerate(ids)])
        conn.execute(host_tags.insert(), [
            {"agent_id": row["agent_id"], "tag": tag}
            for row in conn.execute(sa.select(host_profiles)).mappings() for tag in row["tags"]])
    evidence = {}
    for i, aid in enumerate(ids):
        doc = {"format": "hostpatrol.report/1", "agent_id": aid, "report_id": str(uuid.uuid4()),
               "seq": 1, "created_at": format_time(now), "schedule": "weekly",
               "host": {"hostname": f"sim-{i:05d}"}, "meta": {},
               "results": [{"check": c, "status": base[c]["status"],
                            "started_at": format_time(now), "duration_ms": 5, "error": None,
                            "data": small[c]} for c in HEARTBEAT]}
        evidence[aid] = jws.sign(jws.dumps_compact(doc), key, kid="seed")
    for w in range(weeks):
        at = now - timedelta(weeks=weeks - 1 - w, hours=2)
        last = w == weeks - 1
        with engine.begin() as conn:
            if partitions.partitioned(conn):  # the week's partitions, as the job makes them
                partitions.ensure(conn, at)
            pks = conn.execute(reports.insert().returning(reports.c.id,
                                                          sort_by_parameter_order=True), [{
                "agent_id": aid, "report_id": str(uuid.uuid4()), "seq": w + 1,
                "created_at": at, "received_at": at, "schedule": "weekly", "source": "http",
                "sha256": "0" * 64, "jws": evidence[aid]} for aid in ids]).scalars().all()
            rows = []
            for i, (aid, pk) in enumerate(zip(ids, pks, strict=True)):
                pct = min(99.0, start[i] + growth[i] * w)
                for c, r in base.items():
                    if c == "disk":
                        data = _disk(full[c], pct)
                    elif last:
                        data = full[c]
                    else:
                        data = small[c] if c in HISTORY else {}
                    status = ("fail" if pct >= 95 else "warn" if pct >= 85 else "ok") \
                        if c == "disk" else r["status"]
                    rows.append({"report_pk": pk, "agent_id": aid, "check_name": c,
                                 "status": status, "started_at": at, "duration_ms": 5,
                                 "data": data, "error": None, "received_at": at})
            if not last:  # a plain executemany: no ids needed
                conn.execute(check_results.insert(), rows)
                continue
            rids = conn.execute(check_results.insert().returning(
                check_results.c.id, sort_by_parameter_order=True), rows).scalars().all()
            if last:
                conn.execute(host_latest.insert(), [
                    {"agent_id": r["agent_id"], "check_name": r["check_name"],
                     "result_id": rid, "status": r["status"], "started_at": r["started_at"],
                     "received_at": r["received_at"]}
                    for r, rid in zip(rows, rids, strict=True)])
                conn.execute(agents.update().where(agents.c.id == sa.bindparam("aid")).values(
                    last_report_at=sa.bindparam("at"), last_seq=weeks,
                    worst_status="fail"), [{"aid": aid, "at": at} for aid in ids])
    _findings(engine, ids, rng, now)
    return ids


def _findings(engine: sa.Engine, ids: list[str], rng: random.Random, now: datetime) -> None:
    rows = []
    for i, aid in enumerate(ids):
        for rule, check, title, level, subject in rng.sample(FINDING_RULES, 4):
            first = now - timedelta(days=rng.randint(1, 360))
            state = rng.choice(STATES)
            rows.append({
                "dedup_key": uuid.uuid4().hex + uuid.uuid4().hex, "agent_id": aid,
                "rule_id": rule, "subject": subject, "check_name": check, "title": title,
                "group_name": f"branch-{i % 40:02d}", "state": state, "level": level,
                "base_level": level, "factors": [], "spread": False, "owner": None,
                "backup_owner": None, "deadline": first + timedelta(days=30 if level == 4
                                                                    else 7),
                "first_seen": first, "opened_at": first, "last_seen": now - timedelta(days=1),
                "state_changed_at": first, "repeat_count": 0, "occurrences": 5,
                "evidence": {"message": title}, "last_result_id": None, "policy_version": 1})
    with engine.begin() as conn:
        fids = conn.execute(findings.insert().returning(
            findings.c.id, sort_by_parameter_order=True), rows).scalars().all()
        findingcounts.compact(conn)  # the triggers' deltas folded, as the job's next round
        conn.execute(finding_events.insert(), [
            {"finding_id": fid, "at": r["first_seen"], "actor": "agent", "action": "opened",
             "from_state": None, "to_state": "open", "note": r["title"], "details": {}}
            for fid, r in zip(fids, rows, strict=True)])
        # and the change to its state, as a person's transition records it: the register's
        # timeline then gives each finding the state its row has (the report reads that)
        conn.execute(finding_events.insert(), [
            {"finding_id": fid, "at": r["first_seen"], "actor": "seed", "action": "transition",
             "from_state": "open", "to_state": r["state"], "note": None, "details": {}}
            for fid, r in zip(fids, rows, strict=True) if r["state"] != "open"])
