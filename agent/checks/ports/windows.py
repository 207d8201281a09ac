"""Pure parsers for the Windows sources of the ports check: ``netstat -ano``, Get-Service.

``netstat -ano`` lists every TCP and UDP endpoint of both families with the owning PID
and needs no elevation. Only the column layout is relied on, never the State word, which
Windows translates: a TCP row whose foreign endpoint has port 0 is a listener. The
services come from ``Get-Service`` as JSON, whose Status is a number in Windows
PowerShell 5.1 and may be a name in PowerShell 7; both are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NETSTAT = ("netstat", "-ano")
GET_SERVICES = ("powershell", "-NoProfile", "-NonInteractive", "-Command",
                "Get-Service | Select-Object Name,DisplayName,Status | ConvertTo-Json -Compress")

# System.ServiceProcess.ServiceControllerStatus
SERVICE_STATUS = {1: "Stopped", 2: "StartPending", 3: "StopPending", 4: "Running",
                  5: "ContinuePending", 6: "PausePending", 7: "Paused"}


@dataclass(frozen=True, slots=True)
class NetstatRow:
    """One endpoint line of ``netstat -ano``."""

    protocol: str  # "tcp" or "udp"
    address: str  # brackets removed, zone (%9) kept
    port: int
    ipv6: bool
    listening: bool  # TCP: foreign port 0; UDP: always (netstat shows bound sockets)
    pid: int | None


def split_endpoint(text: str) -> tuple[str, int] | None:
    """``0.0.0.0:135`` / ``[::1]:1025`` / ``[fe80::1%9]:1900`` → (address, port); ``*:*`` → None."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def parse_netstat(text: str) -> list[NetstatRow]:
    """Every TCP/UDP endpoint line; headers, ``-b`` owner lines and the rest are skipped."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0].upper() not in ("TCP", "UDP"):
            continue
        local = split_endpoint(parts[1])
        if local is None:
            continue
        protocol = parts[0].lower()
        remote = split_endpoint(parts[2])
        listening = protocol == "udp" or (remote is not None and remote[1] == 0)
        pid = int(parts[-1]) if parts[-1].isdigit() else None
        rows.append(NetstatRow(protocol=protocol, address=local[0], port=local[1],
                               ipv6=":" in local[0], listening=listening, pid=pid))
    return rows


def _as_list(doc: Any) -> list[Any]:
    """ConvertTo-Json writes a one-element pipeline as a bare object; undo that."""
    if doc is None:
        return []
    return doc if isinstance(doc, list) else [doc]


def parse_services(text: str) -> list[dict[str, str]]:
    """``Get-Service … | ConvertTo-Json`` → [{name, display_name, status}] (status as a name)."""
    text = text.lstrip("\ufeff").strip()
    if not text:
        return []
    out = []
    for s in _as_list(json.loads(text)):
        if not isinstance(s, dict):
            continue
        name = s.get("Name") or s.get("ServiceName")
        if not isinstance(name, str) or not name:
            continue
        status = s.get("Status")
        if isinstance(status, int) and not isinstance(status, bool):
            status = SERVICE_STATUS.get(status, f"status {status}")
        out.append({"name": name, "display_name": str(s.get("DisplayName") or ""),
                    "status": str(status) if status is not None else "unknown"})
    return out


def service_states(required: list[str], services: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Each required service by name or display name (case-insensitive), running or not."""
    by_name = {s["name"].lower(): s for s in services}
    by_display = {s["display_name"].lower(): s for s in services if s["display_name"]}
    out = []
    for want in required:
        key = want.lower()
        s = by_name.get(key) or by_display.get(key)
        state = s["status"] if s else "no such service"
        out.append({"name": want, "method": "windows-service", "active": state == "Running",
                    "state": state[:200]})
    return out
