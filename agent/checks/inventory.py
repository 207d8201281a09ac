"""inventory: who this host is — hostname, OS, kernel, CPU, memory, NICs, software.

Needs no privileges. Reads /etc/os-release (or the platform module elsewhere),
/etc/machine-id, psutil's view of CPUs, memory and interfaces, and the installed
packages with versions (dpkg-query or rpm; the parsers live in software_policy) so the
collector can keep the register of each computer (登记备案) and see software drift.
Hardware details (serials, disks, gateways, DNS) are the ``hardware`` check.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import psutil
from hostpatrol.shared.osfamily import identify
from hostpatrol.shared.report import format_time

from .. import ostext
from .base import Check, Option, Outcome
from .software_policy import fingerprint, installed_packages, package_tool

MAC_FAMILIES = {getattr(psutil, "AF_LINK", -1), getattr(socket, "AF_PACKET", -2)}
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
# os-release keys reported as they are (lower-case); the distribution rules read them.
OS_KEYS = ("ID_LIKE", "VERSION_CODENAME", "PLATFORM_ID", "VARIANT_ID", "VERSION_US")


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5): KEY=value lines, values optionally quoted."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[key.strip()] = value
    return out


def os_facts(os_release: dict[str, str], system: str, release: str,
             edition: str | None = None) -> dict[str, Any]:
    """The inventory's ``os`` object: os-release fields, or the platform's on Windows/macOS."""
    if system == "Windows":
        name = "Windows"
        pretty = " ".join(p for p in (name, release, edition) if p)
        out: dict[str, Any] = {"system": system, "name": name, "id": "windows",
                               "version": release or None, "pretty_name": pretty,
                               "edition": edition}
    else:
        out = {"system": system, "name": os_release.get("NAME", system),
               "id": os_release.get("ID"), "version": os_release.get("VERSION_ID", release),
               "pretty_name": os_release.get("PRETTY_NAME", f"{system} {release}")}
        out.update({k.lower(): os_release[k][:256] for k in OS_KEYS if k in os_release})
    out["identity"] = identify(out, system).to_dict()
    return out


def read_os_release(read: Callable[[str], str | None]) -> dict[str, str]:
    """os-release(5): /etc/os-release, else /usr/lib/os-release (never both)."""
    for path in OS_RELEASE:
        text = read(path)
        if text is not None:
            return parse_os_release(text)
    return {}


def read_text(path: str) -> str | None:
    """A small file's text, or None when it is absent or unreadable."""
    try:
        return ostext.read_text(path)
    except OSError:
        return None


def interfaces(addrs: dict[str, list[Any]], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """NICs with their MAC, IPv4/IPv6 addresses and link state (pure, given psutil's data)."""
    out = []
    for name in sorted(addrs):
        mac = None
        ips = []
        for a in addrs[name]:
            if a.family in MAC_FAMILIES:
                mac = a.address or None
            elif a.family in (socket.AF_INET, socket.AF_INET6):
                ips.append({"address": a.address.split("%")[0], "netmask": a.netmask,
                            "family": "ipv4" if a.family == socket.AF_INET else "ipv6"})
        st = stats.get(name)
        out.append({
            "name": name,
            "mac": mac if mac and mac != "00:00:00:00:00:00" else None,
            "addresses": ips,
            "up": bool(st.isup) if st is not None else None,
            "speed_mbps": st.speed if st is not None and st.speed else None,
            "mtu": st.mtu if st is not None else None,
        })
    return out


MAX_MACHINE_ID = 128  # 32 hex digits; a damaged file must not cost the whole result


class InventoryCheck(Check):
    """Basic host identity; no privileges needed."""

    name: ClassVar[str] = "inventory"
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 60.0
    options: ClassVar = {
        "max_packages": Option(int, 10000, "most installed packages listed (the count and "
                                           "fingerprint always cover all)"),
    }

    def __init__(self, *args: Any, read: Callable[[str], str | None] = read_text,
                 manager: Callable[[], str | None] = package_tool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read = read
        self.manager = manager

    def collect(self) -> Outcome:
        """Gather identity facts."""
        uname = platform.uname()
        edition = platform.win32_edition() if uname.system == "Windows" else None
        machine_id = (self.read("/etc/machine-id") or "").strip()[:MAX_MACHINE_ID] or None
        freq = psutil.cpu_freq()
        data = {
            "hostname": socket.gethostname(),
            "fqdn": socket.getfqdn(),
            "machine_id": machine_id,
            "os": os_facts(read_os_release(self.read), uname.system, uname.release, edition),
            "kernel": uname.release,
            "arch": uname.machine,
            "cpu": {
                "model": self._cpu_model() or uname.processor or None,
                "logical": psutil.cpu_count(logical=True),
                "physical": psutil.cpu_count(logical=False),
                "mhz": round(freq.max or freq.current) if freq else None,
            },
            "memory_bytes": psutil.virtual_memory().total,
            "swap_bytes": psutil.swap_memory().total,
            "boot_time": format_time(datetime.fromtimestamp(psutil.boot_time(), UTC)),
            "interfaces": interfaces(psutil.net_if_addrs(), psutil.net_if_stats()),
            "software": self._software(),
        }
        return Outcome("ok", data)

    def _software(self) -> dict[str, Any]:
        tool = self.manager()
        if tool is None:
            return {"source": None, "count": 0, "fingerprint": None, "packages": [],
                    "truncated": False, "error": "no package manager known here"}
        packages = installed_packages(self.run, tool, self.timeout / 2)
        if isinstance(packages, str):
            return {"source": tool, "count": 0, "fingerprint": None, "packages": [],
                    "truncated": False, "error": packages}
        cap = self.config["max_packages"]
        listed = sorted(packages, key=lambda p: (p.name, p.arch or ""))
        return {"source": tool, "count": len(packages), "fingerprint": fingerprint(packages),
                "packages": [p.to_dict() for p in listed[:cap]],
                "truncated": len(packages) > cap, "error": None}

    def _cpu_model(self) -> str | None:
        for line in (self.read("/proc/cpuinfo") or "").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
        return None
