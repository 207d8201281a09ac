"""Pure parsers for host firewalls: nftables, iptables, ufw, firewalld, Windows, macOS.

Each returns a ``FirewallReading``: which firewall, whether it filters inbound traffic
(default policy drop/reject, or rules that drop), and its default inbound policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_CHAINS = 256


@dataclass(frozen=True, slots=True)
class FirewallReading:
    """What one firewall tool says about inbound filtering."""

    tool: str
    active: bool
    default_inbound: str | None = None
    rules: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {k: getattr(self, k) for k in self.__slots__}


def _drops(expr: Any) -> bool:
    """True when an nft rule's expression list ends in drop or reject."""
    return isinstance(expr, list) and any(
        isinstance(e, dict) and ("drop" in e or "reject" in e) for e in expr
    )


def parse_nft_json(text: str) -> FirewallReading | None:
    """``nft -j list ruleset``: input-hook chains, their policy and dropping rules."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return None
    input_chains: dict[tuple[str, str, str], str] = {}
    rules = 0
    dropping = 0
    for item in items:
        chain = item.get("chain") if isinstance(item, dict) else None
        is_input = isinstance(chain, dict) and chain.get("hook") == "input"
        if is_input and isinstance(chain, dict) and len(input_chains) < MAX_CHAINS:
            key = (str(chain.get("family")), str(chain.get("table")), str(chain.get("name")))
            input_chains[key] = str(chain.get("policy", "accept"))
    for item in items:
        rule = item.get("rule") if isinstance(item, dict) else None
        if isinstance(rule, dict):
            key = (str(rule.get("family")), str(rule.get("table")), str(rule.get("chain")))
            if key in input_chains:
                rules += 1
                dropping += _drops(rule.get("expr"))
    policies = set(input_chains.values())
    policy = "drop" if "drop" in policies else ("accept" if policies else None)
    active = policy == "drop" or dropping > 0
    return FirewallReading(
        tool="nftables", active=active, default_inbound=policy, rules=rules,
        detail=f"{len(input_chains)} input chain(s), {dropping} dropping rule(s)",
    )


def parse_iptables_s(text: str) -> FirewallReading | None:
    """``iptables -S`` / ``iptables-save``: '-P INPUT DROP' or INPUT rules to DROP/REJECT."""
    policy = None
    rules = 0
    dropping = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "-P" and parts[1] == "INPUT":
            policy = parts[2].lower()
        elif line.startswith(":INPUT "):  # iptables-save form ':INPUT DROP [0:0]'
            policy = parts[1].lower()
        elif len(parts) >= 2 and parts[0] == "-A" and parts[1] == "INPUT":
            rules += 1
            if re.search(r"-j (DROP|REJECT)\b", line):
                dropping += 1
    if policy is None:
        return None
    return FirewallReading(
        tool="iptables", active=policy in {"drop", "reject"} or dropping > 0,
        default_inbound=policy, rules=rules,
        detail=f"{dropping} INPUT rule(s) dropping or rejecting",
    )


def parse_ufw_status(text: str) -> FirewallReading | None:
    """``ufw status verbose``: 'Status: active' and 'Default: deny (incoming), ...'."""
    m = re.search(r"^Status:\s*(\w+)", text, re.MULTILINE)
    if not m:
        return None
    active = m.group(1) == "active"
    d = re.search(r"^Default:\s*(\w+) \(incoming\)", text, re.MULTILINE)
    policy = d.group(1) if d else None
    rules = len(re.findall(r"^\S.*\s(ALLOW|DENY|REJECT|LIMIT)(\s+(IN|OUT|FWD))?\s", text,
                           re.MULTILINE))
    return FirewallReading(tool="ufw", active=active and policy in {"deny", "reject", None},
                           default_inbound=policy, rules=rules if active else 0,
                           detail=f"ufw {m.group(1)}")


def parse_firewalld_state(state: str, zone: str | None = None) -> FirewallReading | None:
    """``firewall-cmd --state`` ('running'/'not running') and ``--get-default-zone``."""
    s = state.strip()
    if s not in {"running", "not running"}:
        return None
    zone = (zone or "").strip() or None
    # 'trusted' accepts everything; every other stock zone rejects unsolicited input.
    policy = None if zone is None else ("accept" if zone == "trusted" else "reject")
    return FirewallReading(tool="firewalld", active=s == "running" and zone != "trusted",
                           default_inbound=policy if s == "running" else None,
                           detail=f"firewalld {s}" + (f", default zone {zone}" if zone else ""))


_WIN_ACTION = {0: "notconfigured", 2: "allow", 4: "block"}


def parse_windows_profiles(text: str) -> FirewallReading | None:
    """``Get-NetFirewallProfile | Select Name,Enabled,DefaultInboundAction | ConvertTo-Json``."""
    try:
        doc = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return None
    profiles = doc if isinstance(doc, list) else [doc]
    seen = []
    for p in profiles[:16]:
        if not isinstance(p, dict) or "Name" not in p:
            return None
        enabled = p.get("Enabled")
        on = enabled is True or enabled == 1 or str(enabled).lower() == "true"
        action = p.get("DefaultInboundAction")
        action = _WIN_ACTION.get(action, str(action).lower()) if action is not None else None
        seen.append((str(p["Name"]), on, action))
    if not seen:
        return None
    # Block (or NotConfigured, which means Block) is the default; all profiles must filter.
    active = all(on and action != "allow" for _, on, action in seen)
    off = [n for n, on, _ in seen if not on]
    return FirewallReading(
        tool="windows-firewall", active=active,
        default_inbound="block" if all(a != "allow" for _, _, a in seen) else "allow",
        detail="profiles off: " + ", ".join(off) if off else "all profiles on",
    )


def parse_socketfilterfw(text: str) -> FirewallReading | None:
    """macOS ``socketfilterfw --getglobalstate``: State 0 off, 1 on, 2 block all."""
    m = re.search(r"\(State = (\d)\)", text)
    if not m:
        return None
    state = int(m.group(1))
    return FirewallReading(tool="macos-application-firewall", active=state > 0,
                           default_inbound={0: "allow", 1: "per-app", 2: "block"}.get(state),
                           detail=text.strip()[:200])
