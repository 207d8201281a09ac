"""hardware: vendor, model, serial, SMBIOS UUID, CPU, memory, disks, gateway and DNS servers.

Reads /sys/class/dmi/id (product_serial and product_uuid need root; without it they
are null with the reason), /proc/cpuinfo, psutil, ``lsblk -J`` (falling back to
/sys/block), /proc/net/route and /etc/resolv.conf (or ``resolvectl dns`` behind the
systemd-resolved stub). Always ok: changes are judged against the baseline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import psutil

from .. import ostext
from ..commands import CommandError
from .base import Check, Outcome
from .isolation.net import parse_ipv6_route, parse_proc_net_route

DMI_FIELDS = {
    "vendor": "sys_vendor", "model": "product_name", "version": "product_version",
    "serial": "product_serial", "uuid": "product_uuid", "board_vendor": "board_vendor",
    "board_name": "board_name", "board_serial": "board_serial", "bios_vendor": "bios_vendor",
    "bios_version": "bios_version", "bios_date": "bios_date", "chassis_type": "chassis_type",
}
SKIP_DISKS = re.compile(r"^(loop|ram|zram|fd|sr)\d")
STUB_RESOLVERS = {"127.0.0.53", "127.0.0.54"}
MAX_ADDRESS = 64  # an IPv6 address with a zone is shorter; the schema's bound


def parse_lsblk(text: str) -> list[dict[str, Any]]:
    """Whole disks from ``lsblk -J -b -o NAME,MODEL,SERIAL,SIZE,TYPE,ROTA``."""
    try:
        devices = json.loads(text).get("blockdevices", [])
    except (ValueError, AttributeError):
        return []
    out = []
    for d in devices[:1024]:
        if not isinstance(d, dict) or d.get("type") != "disk" or SKIP_DISKS.match(str(d["name"])):
            continue
        size = d.get("size")
        rota = d.get("rota")
        out.append({
            "name": str(d["name"]),
            "model": (str(d["model"]).strip() or None) if d.get("model") else None,
            "serial": (str(d["serial"]).strip() or None) if d.get("serial") else None,
            "size_bytes": int(size) if isinstance(size, int) or str(size).isdigit() else None,
            "rotational": rota in (True, "1", 1) if rota is not None else None,
        })
    return out


def parse_resolv_conf(text: str) -> list[str]:
    """Nameserver addresses from resolv.conf(5)."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "nameserver" and f[1] not in out \
                and len(f[1]) <= MAX_ADDRESS:  # longer is no address: not a server
            out.append(f[1])
    return out[:32]


def parse_resolvectl_dns(text: str) -> list[str]:
    """Servers from ``resolvectl dns`` ('Global: a b' / 'Link 2 (eth0): a b')."""
    out: list[str] = []
    for line in text.splitlines():
        _, sep, servers = line.partition("):") if "):" in line else line.partition(":")
        for s in servers.split() if sep else []:
            s = s.split("%")[0].split("#")[0]
            if s not in out and len(s) <= MAX_ADDRESS:
                out.append(s)
    return out[:32]


class HardwareCheck(Check):
    """Hardware identity and network attachment; serial and UUID need root."""

    name: ClassVar[str] = "hardware"
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 30.0

    def __init__(self, *args: Any, root: Path = Path("/"),
                 memory_total: Callable[[], int] = lambda: psutil.virtual_memory().total,
                 cpu_counts: Callable[[], tuple[int | None, int | None]] = lambda: (
                     psutil.cpu_count(logical=True), psutil.cpu_count(logical=False)),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root = root
        self.memory_total = memory_total
        self.cpu_counts = cpu_counts

    def _read(self, rel: str) -> tuple[str | None, str | None]:
        try:
            return ostext.read_text(self.root / rel, 1_000_000), None
        except PermissionError:
            return None, "needs root"
        except OSError as e:
            return None, "absent" if isinstance(e, FileNotFoundError) else (e.strerror or str(e))

    def collect(self) -> Outcome:
        """Gather hardware identity, disks and network attachment."""
        system: dict[str, Any] = {}
        unreadable: dict[str, str] = {}
        for key, fname in DMI_FIELDS.items():
            text, why = self._read(f"sys/class/dmi/id/{fname}")
            value = text.strip()[:256] if text else None
            system[key] = value or None
            if why:
                unreadable[key] = why
        logical, physical = self.cpu_counts()
        cpuinfo, _ = self._read("proc/cpuinfo")
        model = next((ln.partition(":")[2].strip() for ln in (cpuinfo or "").splitlines()
                      if ln.startswith(("model name", "Model", "Hardware"))), None)
        disks, disk_source = self._disks()
        route4, _ = self._read("proc/net/route")
        route6, _ = self._read("proc/net/ipv6_route")
        routes = parse_proc_net_route(route4 or "") + parse_ipv6_route(route6 or "")
        dns, dns_source = self._dns()
        return Outcome("ok", {
            "system": system,
            "unreadable": unreadable,
            "cpu": {"model": model or None, "logical": logical, "physical": physical},
            "memory_bytes": self.memory_total(),
            "disks": disks,
            "disk_source": disk_source,
            "gateways": [r.to_dict() for r in routes],
            "dns_servers": dns,
            "dns_source": dns_source,
        })

    def _disks(self) -> tuple[list[dict[str, Any]], str]:
        try:
            res = self.run(("lsblk", "-J", "-b", "-o", "NAME,MODEL,SERIAL,SIZE,TYPE,ROTA"), 15.0)
            if res.returncode == 0:
                return parse_lsblk(res.stdout), "lsblk"
        except CommandError:
            pass
        out = []
        try:
            names = sorted(p.name for p in (self.root / "sys/block").iterdir())[:1024]
        except OSError:
            names = []
        for name in names:
            if SKIP_DISKS.match(name):
                continue
            model, _ = self._read(f"sys/block/{name}/device/model")
            serial, _ = self._read(f"sys/block/{name}/device/serial")
            size, _ = self._read(f"sys/block/{name}/size")
            rota, _ = self._read(f"sys/block/{name}/queue/rotational")
            out.append({"name": name, "model": (model or "").strip() or None,
                        "serial": (serial or "").strip() or None,
                        "size_bytes": int(size) * 512 if size and size.strip().isdigit() else None,
                        "rotational": rota.strip() == "1" if rota else None})
        return out, "sysfs"

    def _dns(self) -> tuple[list[str], str]:
        text, _ = self._read("etc/resolv.conf")
        servers = parse_resolv_conf(text or "")
        if servers and not set(servers) <= STUB_RESOLVERS:
            return servers, "/etc/resolv.conf"
        try:
            res = self.run(("resolvectl", "dns"), 10.0)
            upstream = parse_resolvectl_dns(res.stdout) if res.returncode == 0 else []
            if upstream:
                return upstream, "resolvectl"
        except CommandError:
            pass
        return servers, "/etc/resolv.conf"
