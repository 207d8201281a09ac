"""Fleet simulator: enrolled agents with their own keys and realistic, pre-signed reports.

The report content comes from one real ``hostpatrol-agent check --json`` of this host,
mutated per simulated host (hostname, machine id, MACs, disk use, ports, pending updates)
so the fleet has variety and some deviations. The mix follows the default schedules:
a heartbeat (disk) every 15 minutes, a daily run (logs, antivirus, backups, ports, time,
firewall, isolation) and the weekly full inspection — per host and week 672 heartbeats,
7 daily and 1 weekly report (see :data:`MIX`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate, key_id, public_jwk
from hostpatrol.shared.report import format_time

BIN = Path(sys.executable).parent
HEARTBEAT = ("disk",)
DAILY = ("logs", "antivirus", "backups", "ports", "time", "firewall", "isolation")
# per host and week: 4 heartbeats an hour, one daily run a day, one weekly inspection
MIX = {"heartbeat": 672, "daily": 7, "weekly": 1}
ENROLL_FORMAT = "hostpatrol.enroll/1"
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a listener in a simulated report, nothing binds


def real_results(cache: Path) -> list[dict[str, Any]]:
    """Every check's result on this host (``hostpatrol-agent check --json``), cached."""
    if not cache.exists():
        out = subprocess.run([str(BIN / "hostpatrol-agent"), "check", "--json"],
                             capture_output=True, text=True, check=False, timeout=600)
        json.loads(out.stdout)  # refuse garbage before caching it
        cache.write_text(out.stdout, encoding="utf-8")
    return json.loads(cache.read_text(encoding="utf-8"))


def kind_at(i: int) -> str:
    """The report kind at position ``i`` of a mixed stream (680-report cycle of :data:`MIX`)."""
    slot = i % sum(MIX.values())
    if slot == 0:
        return "weekly"
    if slot % 97 == 48:
        return "daily"
    return "heartbeat"


@dataclass
class SimHost:
    """One simulated agent: its key, identity and counters."""

    agent_id: str
    key: Ed25519PrivateKey
    hostname: str
    machine_id: str
    rng: random.Random
    seq: int = 0
    kid: str = field(init=False)
    disk_use: dict[str, float] = field(default_factory=dict)  # mount -> current used %

    def __post_init__(self) -> None:
        self.kid = key_id(self.key.public_key())


def enroll_body(key: Ed25519PrivateKey, token: str, hostname: str,
                machine_id: str) -> dict[str, str]:
    """The POST /api/v1/enroll body: a proof of possession bound to ``token``."""
    claims = {"format": ENROLL_FORMAT,
              "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
              "created_at": format_time(utcnow()), "hostname": hostname,
              "machine_id": machine_id, "agent_version": "0.1.0", "os": "Debian GNU/Linux 12"}
    proof = jws.sign(jws.dumps_compact(claims), key, typ="hostpatrol.enroll+jws",
                     extra={"jwk": public_jwk(key.public_key())})
    return {"token": token, "proof": proof}


def new_host(index: int, seed: int = 8) -> tuple[SimHost, Ed25519PrivateKey]:
    """A simulated host not yet enrolled (agent_id filled in after enrollment)."""
    rng = random.Random(seed * 1_000_003 + index)
    key = generate()
    mid = hashlib.md5(f"sim-{seed}-{index}".encode(), usedforsecurity=False).hexdigest()
    return SimHost("", key, f"sim-{index:05d}.branch{index % 40:02d}.example", mid, rng), key


class ReportFactory:
    """Signed reports for simulated hosts, mutated from one real inspection."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.base = {r["check"]: r for r in results}

    def results_for(self, host: SimHost, kind: str, at: datetime) -> list[dict[str, Any]]:
        """The result list of a ``kind`` report of ``host`` started at ``at``."""
        names = (HEARTBEAT if kind == "heartbeat" else
                 (*HEARTBEAT, *DAILY) if kind == "daily" else tuple(self.base))
        out = []
        for name in names:
            if name not in self.base:
                continue
            r = copy.deepcopy(self.base[name])
            r["started_at"] = format_time(at)
            r["duration_ms"] = host.rng.randint(1, 400)
            mutate = getattr(self, f"_{name}", None)
            if mutate is not None:
                mutate(host, r)
            out.append(r)
        return out

    def signed(self, host: SimHost, kind: str, at: datetime | None = None) -> str:
        """One signed report of ``kind`` from ``host`` (seq advances)."""
        at = at or utcnow()
        host.seq += 1
        doc = {"format": "hostpatrol.report/1", "agent_id": host.agent_id,
               "report_id": str(uuid.uuid4()),
               "seq": host.seq, "created_at": format_time(at), "schedule": kind,
               "host": {"hostname": host.hostname, "machine_id": host.machine_id,
                        "agent_version": "0.1.0", "os": "Debian GNU/Linux 12"},
               "meta": {"agent_version": "0.1.0", "cpu_seconds": 0.3},
               "results": self.results_for(host, kind, at)}
        return jws.sign(jws.dumps_compact(doc), host.key, kid=host.kid,
                        typ="hostpatrol.report+jws")

    # -- per-check variety: realistic numbers, a few hosts past the thresholds --------
    @staticmethod
    def _disk(host: SimHost, r: dict[str, Any]) -> None:
        for fs in r["data"].get("filesystems", []):
            # each filesystem has its own level (55 % +- 20 across the fleet, so about
            # 7 % of them sit past 85 %) that wanders a little between reports, as real
            # disks do: deviating hosts keep deviating, a few cross a threshold now and then
            level = host.disk_use.get(fs["mount"])
            level = host.rng.gauss(55, 20) if level is None else level + host.rng.gauss(0, 0.3)
            level = host.disk_use[fs["mount"]] = min(99.5, max(3.0, level))
            pct = round(level, 2)
            total = fs["total_bytes"]
            fs["used_bytes"] = int(total * pct / 100)
            fs["free_bytes"] = total - fs["used_bytes"]
            fs["used_percent"] = pct
            fs["status"] = "fail" if pct >= 95 else "warn" if pct >= 85 else "ok"
        worst = [fs["status"] for fs in r["data"].get("filesystems", [])]
        r["status"] = "fail" if "fail" in worst else "warn" if "warn" in worst else "ok"

    @staticmethod
    def _inventory(host: SimHost, r: dict[str, Any]) -> None:
        d = r["data"]
        d["hostname"], d["machine_id"] = host.hostname.split(".")[0], host.machine_id
        d["fqdn"] = host.hostname
        for nic in d.get("interfaces", d.get("nics", [])) or []:
            if isinstance(nic, dict) and nic.get("mac"):
                nic["mac"] = "02:" + ":".join(f"{host.rng.randrange(256):02x}" for _ in range(5))

    @staticmethod
    def _ports(host: SimHost, r: dict[str, Any]) -> None:
        if host.rng.random() < 0.05:  # an unapproved listener now and then
            r["data"]["listening"].append({
                "protocol": "tcp", "port": host.rng.randint(1024, 65000),
                "address": ANY_ADDRESS, "family": "ipv4", "pid": None, "process": None,
                "user": None})

    @staticmethod
    def _patches(host: SimHost, r: dict[str, Any]) -> None:
        d = r["data"]
        keep = host.rng.randint(0, len(d.get("updates", [])))
        d["updates"] = d.get("updates", [])[:keep]
        d["pending_count"] = len(d["updates"])
        d["security_count"] = sum(1 for u in d["updates"] if u.get("security"))


def mixed_stream(factory: ReportFactory, hosts: list[SimHost], count: int,
                 start: int = 0) -> list[tuple[str, str]]:
    """``count`` (kind, JWS) pairs following :data:`MIX`, hosts taken round-robin."""
    now = utcnow() - timedelta(minutes=1)
    out = []
    for i in range(start, start + count):
        kind = kind_at(i)
        out.append((kind, factory.signed(hosts[i % len(hosts)], kind, now)))
    return out
