"""firewall: is a host firewall filtering inbound traffic, and what is its default policy.

Linux: nftables (``nft -j list ruleset``), iptables (``iptables -S``), ufw, firewalld;
Windows: firewall profiles via PowerShell; macOS: the application firewall. Listing
nftables/iptables/ufw rules needs root: without it each is reported "needs root".
Active = some input filtering exists (default policy drop/reject, or dropping rules).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ...commands import CommandError, CommandResult
from ..base import Check, Outcome
from .parsers import (
    FirewallReading,
    parse_firewalld_state,
    parse_iptables_s,
    parse_nft_json,
    parse_socketfilterfw,
    parse_ufw_status,
    parse_windows_profiles,
)

PERMISSION_HINTS = ("Operation not permitted", "Permission denied", "must be root",
                    "need to be root", "you need to be root")
WINDOWS_PROFILES = (
    "powershell", "-NoProfile", "-NonInteractive", "-Command",
    "Get-NetFirewallProfile | Select-Object Name,Enabled,DefaultInboundAction | ConvertTo-Json",
)
SOCKETFILTERFW = ("/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate")

Parser = Callable[[str], FirewallReading | None]


class FirewallCheck(Check):
    """Host firewall state; listing rules on Linux needs root."""

    name: ClassVar[str] = "firewall"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 30.0

    def __init__(self, *args: Any, system: Callable[[], str] = platform.system,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.system = system

    def collect(self) -> Outcome:
        """Ask every firewall tool of this platform; active if any filters input."""
        readings: list[FirewallReading] = []
        unavailable: list[dict[str, Any]] = []
        system = self.system()
        if system == "Linux":
            plan: list[tuple[Sequence[str], Parser]] = [
                (("nft", "-j", "list", "ruleset"), parse_nft_json),
                (("iptables", "-S"), parse_iptables_s),
                (("ufw", "status", "verbose"), parse_ufw_status),
            ]
        elif system == "Windows":
            plan = [(WINDOWS_PROFILES, parse_windows_profiles)]
        elif system == "Darwin":
            plan = [(SOCKETFILTERFW, parse_socketfilterfw)]
        else:
            plan = []
        for argv, parser in plan:
            self._ask(argv, parser, readings, unavailable)
        if system == "Linux":
            self._firewalld(readings, unavailable)
        return self._outcome(readings, unavailable)

    def _outcome(self, readings: list[FirewallReading],
                 unavailable: list[dict[str, Any]]) -> Outcome:
        active = [r for r in readings if r.active]
        needs_root = any(u.get("needs_root") for u in unavailable)
        if active:
            status, summary = "ok", "inbound filtering by " + ", ".join(r.tool for r in active)
        elif readings:
            status, summary = "fail", "no inbound filtering (" + ", ".join(
                r.tool for r in readings) + " report none)"
        elif needs_root:
            status, summary = "warn", "needs root to list firewall rules"
        else:
            status, summary = "warn", "no firewall tool found"
        return Outcome(status, {
            "active": bool(active),
            "summary": summary,
            "needs_root": needs_root and not readings,
            "firewalls": [r.to_dict() for r in readings],
            "unavailable": unavailable,
        })

    def _run(self, argv: Sequence[str]) -> CommandResult | str:
        try:
            return self.run(argv, 10.0)
        except CommandError as e:
            return str(e)

    def _ask(self, argv: Sequence[str], parser: Parser, readings: list[FirewallReading],
             unavailable: list[dict[str, Any]]) -> None:
        res = self._run(argv)
        if isinstance(res, str):
            unavailable.append({"command": " ".join(argv), "reason": res, "needs_root": False})
            return
        reading = parser(res.stdout) if res.returncode == 0 else None
        if reading is not None:
            readings.append(reading)
            return
        err = (res.stderr or res.stdout).strip()
        denied = any(h.lower() in err.lower() for h in PERMISSION_HINTS)
        first = err.splitlines()[0][:200] if err else "no output"
        reason = f"needs root: {first}" if denied else f"exit {res.returncode}: {first}"
        unavailable.append({"command": " ".join(argv), "reason": reason, "needs_root": denied})

    def _firewalld(self, readings: list[FirewallReading],
                   unavailable: list[dict[str, Any]]) -> None:
        state = self._run(("firewall-cmd", "--state"))
        if isinstance(state, str):
            unavailable.append({"command": "firewall-cmd --state", "reason": state,
                                "needs_root": False})
            return
        zone = None
        if state.stdout.strip() == "running":
            z = self._run(("firewall-cmd", "--get-default-zone"))
            zone = z.stdout if not isinstance(z, str) and z.returncode == 0 else None
        reading = parse_firewalld_state(state.stdout or state.stderr, zone)
        if reading is not None:
            readings.append(reading)
        else:
            unavailable.append({"command": "firewall-cmd --state", "needs_root": False,
                                "reason": f"exit {state.returncode}: unrecognised output"})
