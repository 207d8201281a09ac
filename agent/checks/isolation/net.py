"""Network side of isolation: default routes, NIC kinds from sysfs, and the egress probe.

Route parsers are pure (text of /proc/net/route and /proc/net/ipv6_route). The probe
takes an injected connector and resolver so tests never send traffic anywhere.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import ostext

MAX_INTERFACES = 256
RTF_UP = 0x0001
RTF_GATEWAY = 0x0002

Connector = Callable[[str, int, float], None]
Resolver = Callable[[str, float], list[str]]


@dataclass(frozen=True, slots=True)
class Route:
    """One default route: interface, gateway (None when on-link), address family, metric."""

    interface: str
    gateway: str | None
    family: str
    metric: int

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {k: getattr(self, k) for k in self.__slots__}


def parse_proc_net_route(text: str) -> list[Route]:
    """Default IPv4 routes from /proc/net/route (hex little-endian addresses)."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        try:
            dest, gw, flags, metric, mask = (int(f[1], 16), int(f[2], 16), int(f[3], 16),
                                             int(f[6]), int(f[7], 16))
        except ValueError:
            continue
        if dest != 0 or mask != 0 or not flags & RTF_UP or not 0 <= gw < 2**32:
            continue
        gateway = socket.inet_ntoa(struct.pack("<I", gw)) if flags & RTF_GATEWAY else None
        out.append(Route(f[0], gateway, "ipv4", metric))
    return out


def parse_ipv6_route(text: str) -> list[Route]:
    """Default IPv6 routes from /proc/net/ipv6_route (::/0 with a next hop, not loopback)."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 10 or f[0] != "0" * 32 or f[1] != "00" or f[9] == "lo":
            continue
        try:
            flags, metric = int(f[8], 16), int(f[5], 16)
            hop = ipaddress.IPv6Address(bytes.fromhex(f[4]))
        except ValueError:  # AddressValueError too: not 16 bytes
            continue
        if not flags & RTF_UP:
            continue
        out.append(Route(f[9], None if hop.is_unspecified else str(hop), "ipv6", metric))
    return out


def classify_interfaces(sys_class_net: Path) -> list[dict[str, Any]]:
    """Every NIC but lo with its kind: bridge, wireless, wwan, physical or virtual."""
    try:
        names = sorted(p.name for p in sys_class_net.iterdir())[:MAX_INTERFACES]
    except OSError:
        return []
    out = []
    for name in names:
        if name == "lo":
            continue
        d = sys_class_net / name
        uevent = _read(d / "uevent")
        if (d / "bridge").is_dir():
            kind = "bridge"
        elif (d / "wireless").is_dir() or (d / "phy80211").exists():
            kind = "wireless"
        elif name.startswith("wwan") or "DEVTYPE=wwan" in uevent:
            kind = "wwan"
        elif (d / "device").exists():
            kind = "physical"
        else:
            kind = "virtual"
        out.append({"name": name, "kind": kind,
                    "up": _read(d / "operstate").strip() == "up",
                    "mac": _read(d / "address").strip()[:64] or None})  # 20 bytes: 59
    return out


def _read(path: Path) -> str:
    try:
        return ostext.read_text(path, 4096)
    except OSError:
        return ""


def parse_target(text: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' into (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        msg = f"egress target {text!r} is not host:port"
        raise ValueError(msg)
    return host.strip("[]"), int(port)


def tcp_connect(host: str, port: int, timeout: float) -> None:
    """Open and close a TCP connection; raises OSError when it cannot."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


def resolve_name(name: str, timeout: float) -> list[str]:
    """Addresses for ``name`` via the system resolver, giving up after ``timeout``."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, name, None)
        infos = future.result(timeout=timeout)
    except FutureTimeout as e:
        msg = f"no answer within {timeout:g}s"
        raise TimeoutError(msg) from e
    finally:
        pool.shutdown(wait=False)
    return sorted({str(i[4][0]) for i in infos})


def egress_probe(targets: list[str], names: list[str], connect: Connector,
                 resolve: Resolver, timeout: float) -> dict[str, Any]:
    """Try each target and name; anything that answers is reachable (a violation)."""
    tcp = []
    for t in targets[:64]:
        try:
            host, port = parse_target(t)
            connect(host, port, timeout)
            tcp.append({"target": t, "reachable": True, "error": None})
        except (OSError, ValueError) as e:
            tcp.append({"target": t, "reachable": False, "error": str(e)[:200] or type(e).__name__})
    dns = []
    for n in names[:64]:
        try:
            addrs = resolve(n, timeout)
            dns.append({"name": n, "resolved": bool(addrs), "addresses": addrs[:16], "error": None})
        except (OSError, UnicodeError) as e:
            dns.append({"name": n, "resolved": False, "addresses": [],
                        "error": str(e)[:200] or type(e).__name__})
    reached = [x["target"] for x in tcp if x["reachable"]] + [x["name"] for x in dns
                                                                if x["resolved"]]
    return {"performed": True, "tcp": tcp, "dns": dns, "reached": reached}
