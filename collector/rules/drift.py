"""Baselines: the sets taken from a host's first inspection, and drift against them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..policy.model import Rule
from .model import Deviation, HostFacts, Result

LOOPBACK = ("127.", "::1")


def _ports(data: Mapping[str, Any]) -> set[str]:
    return {f"{p['protocol']}/{p['port']}" for p in data.get("listening") or []
            if not str(p.get("address", "")).startswith(LOOPBACK)}


def _admins(data: Mapping[str, Any]) -> set[str]:
    return {a["name"] for a in data.get("admins") or [] if a.get("name")}


def _software(data: Mapping[str, Any]) -> set[str]:
    fp = data.get("fingerprint")
    return {f"fingerprint {fp}"} if fp else set()


def _network(data: Mapping[str, Any]) -> set[str]:
    out = set()
    for nic in data.get("interfaces") or []:
        if nic.get("name") == "lo":
            continue
        if nic.get("mac"):
            out.add(f"{nic['name']} mac {nic['mac']}")
        for a in nic.get("addresses") or []:
            if a.get("family") == "ipv4":
                out.add(f"{nic['name']} ip {a['address']}")
    return out


def _hardware(data: Mapping[str, Any]) -> set[str]:
    system = data.get("system") or {}
    out = {f"system {k} {system[k]}" for k in ("vendor", "model", "serial", "uuid")
           if system.get(k)}
    cpu = (data.get("cpu") or {}).get("model")
    if cpu:
        out.add(f"cpu {cpu}")
    if data.get("memory_bytes"):
        out.add(f"memory {data['memory_bytes']}")
    for disk in data.get("disks") or []:
        out.add(f"disk {disk.get('name')} {disk.get('model')} {disk.get('serial')}")
    for gw in data.get("gateways") or []:
        if isinstance(gw, dict) and gw.get("gateway"):
            out.add(f"gateway {gw['gateway']}")
    out.update(f"dns {d}" for d in data.get("dns_servers") or [])
    return out


# baseline kind → (check that feeds it, extractor)
BASELINES: dict[str, tuple[str, Callable[[Mapping[str, Any]], set[str]]]] = {
    "ports": ("ports", _ports),
    "admins": ("accounts", _admins),
    "software": ("software_policy", _software),
    "network": ("inventory", _network),
    "hardware": ("hardware", _hardware),
}


def extract(kind: str, data: Mapping[str, Any]) -> frozenset[str]:
    """The baseline set of ``kind`` from a check's data."""
    return frozenset(BASELINES[kind][1](data))


def kinds_for(check: str) -> list[str]:
    """Baseline kinds fed by ``check``."""
    return [k for k, (c, _) in BASELINES.items() if c == check]


def drift(rule: Rule, host: HostFacts, results: Mapping[str, Result],
          baseline: Mapping[str, frozenset[str]], now: datetime) -> list[Deviation]:
    """Items not in the approved baseline (and, with ``removed``, items gone from it)."""
    kind = rule.param("baseline")
    base = baseline.get(kind)
    check = BASELINES[kind][0]
    if base is None or check not in results:
        return []  # no baseline yet: the first inspection becomes it
    current = extract(kind, results[check].data)
    out = [Deviation(rule.id, item, rule.level, f"{rule.title}: {item} is not in the baseline",
                     {"fact": "drift_added", "added": item}) for item in sorted(current - base)]
    if rule.param("removed"):
        out += [Deviation(rule.id, f"removed {item}", rule.level,
                          f"{rule.title}: {item} is gone from the host",
                          {"fact": "drift_removed", "removed": item})
                for item in sorted(base - current)]
    return out
