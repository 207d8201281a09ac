"""A fleet for the list tests: hosts sending real inventory, patches and accounts data (varied
per host: addresses, packages, pending security updates, users, full disks) through the real
ingest path, in two groups, some with an owner."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from findings_kit import enroll_host, real_data
from forge import disk, result
from hostpatrol.collector.store import profiles
from hostpatrol.shared.clock import utcnow

NGINX = ("1.22.1", "1.24.0", "1.26.2")


def host_name(i: int) -> str:
    """Mixed case, so that a case-sensitive order would differ: ``Host-001``, ``host-002``."""
    return f"{'Host' if i % 2 else 'host'}-{i:03d}"


def address(i: int) -> str:
    """The host's address: 10.20.<i // 200>.<i % 200 + 1>."""
    return f"10.20.{i // 200}.{i % 200 + 1}"


def _inventory(i: int) -> dict[str, Any]:
    d = copy.deepcopy(real_data()["inventory"])
    pkgs = [p for p in d["software"]["packages"] if p["name"] != "nginx"][:40]
    if i % 2 == 0:
        pkgs.append({"name": "nginx", "version": NGINX[i % 3], "arch": "amd64"})
    d["software"].update(packages=pkgs, count=len(pkgs), truncated=False)
    d["interfaces"] = [
        {"name": "lo", "mac": None, "addresses": [{"address": "127.0.0.1", "netmask": None,
                                                   "family": "ipv4"}]},
        {"name": "eth0", "mac": None, "addresses": [
            {"address": address(i), "netmask": "255.255.255.0", "family": "ipv4"},
            {"address": "fe80::1", "netmask": None, "family": "ipv6"}]}]
    return d


def _patches(i: int) -> dict[str, Any]:
    d = copy.deepcopy(real_data()["patches"])
    base = {"installed": "3.0.11", "candidate": "3.0.15", "arch": "amd64", "origin": "x",
            "advisories": [], "severity": None}
    updates = []
    if i % 3 == 0:
        updates.append({"name": "openssl", **base, "security": True})
    if i % 4 == 0:
        updates.append({"name": "tzdata", **base, "security": False})
    d.update(updates=updates, pending_count=len(updates),
             security_count=sum(u["security"] for u in updates), updates_truncated=False)
    return d


def _accounts(i: int) -> dict[str, Any]:
    d = copy.deepcopy(real_data()["accounts"])
    root = next(u for u in d["users"] if u["name"] == "root")
    person = {**root, "name": f"clerk{i % 7}", "uid": 1000, "admin": False,
              "login_capable": True}
    d["users"] = [root, person]
    return d


def results(i: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Host ``i``'s report: inventory, patches, accounts, and a disk full on every tenth."""
    return [result("disk", disk(97.0 if i % 10 == 0 else 40.0), now),
            result("inventory", _inventory(i), now), result("patches", _patches(i), now),
            result("accounts", _accounts(i), now)]


def seed(engine: sa.Engine, hosts: int, now: datetime | None = None) -> dict[str, str]:
    """``hosts`` hosts (hostname → agent id) in g1 and g2, reporting at ``now`` through the
    real ingest path; every fifth owned by ``wang``."""
    now = now or utcnow()
    ids = {}
    for i in range(hosts):
        name = host_name(i)
        host = enroll_host(engine, "g1" if i % 2 else "g2", now, hostname=name)
        host.send({r["check"]: r["data"] for r in results(i, now)}, now)
        ids[name] = host.agent_id
        if i % 5 == 0:
            with engine.begin() as conn:
                profiles.set_profile(conn, host.agent_id, by="test", now=now, owner="wang")
    return ids
