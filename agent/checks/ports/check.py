"""ports: listening TCP/UDP sockets with their owning process, and required services.

Needs root to see the owner of every socket (without it, sockets of other users have
no pid). Services are checked with ``systemctl is-active`` where systemd is the init
system, otherwise by process name. On Windows the sockets come from ``netstat -ano`` and
the services from ``Get-Service`` (see ``windows``); process names and users still
come from the pid lookup.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import psutil

from ... import ostext
from ...commands import CommandError
from ..base import Check, Option, Outcome
from . import linux as ports_linux
from . import windows as win

MAX_SOCKETS = 5000
MAX_NAME = 256


class Conn(NamedTuple):
    """The part of a psutil connection we use."""

    family: int
    type: int
    laddr: tuple[str, int] | tuple[()]
    raddr: tuple[str, int] | tuple[()]
    status: str
    pid: int | None


class ProcInfo(NamedTuple):
    """A process's name and user (None when gone or hidden)."""

    name: str | None
    user: str | None


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket, as reported."""

    protocol: str
    port: int
    address: str
    family: str
    pid: int | None
    process: str | None
    user: str | None
    process_bytes: str | None = None  # base64 of the name when it is not UTF-8 (ostext)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (``process_bytes`` only when there are such bytes)."""
        return {k: getattr(self, k) for k in self.__slots__
                if k != "process_bytes" or self.process_bytes is not None}


def listeners(conns: Iterable[Conn], proc: Callable[[int], ProcInfo]) -> list[Listener]:
    """Listening TCP and bound-but-unconnected UDP sockets (pure, given the lookups)."""
    found: set[Listener] = set()
    cache: dict[int, ProcInfo] = {}
    for c in conns:
        if not c.laddr:
            continue
        if c.type == socket.SOCK_STREAM and c.status == psutil.CONN_LISTEN:
            protocol = "tcp"
        elif c.type == socket.SOCK_DGRAM and not c.raddr:
            protocol = "udp"
        else:
            continue
        info = ProcInfo(None, None)
        if c.pid:
            if c.pid not in cache:
                cache[c.pid] = proc(c.pid)
            info = cache[c.pid]
        found.add(Listener(
            protocol=protocol, port=int(c.laddr[1]), address=str(c.laddr[0]).split("%")[0],
            family="ipv6" if c.family == socket.AF_INET6 else "ipv4",
            pid=c.pid or None, process=_shown(info.name), user=_shown(info.user),
            process_bytes=ostext.raw_b64(info.name and info.name[:MAX_NAME])))
    return sorted(found, key=lambda x: (x.protocol, x.port, x.address, x.family, x.pid or -1))


def _shown(text: str | None) -> str | None:
    """A process or user name as reported: visible (:mod:`ostext`) and bounded; psutil
    takes a long name from argv[0], which its process sets to anything."""
    return None if text is None else ostext.visible(text[:MAX_NAME])[:MAX_NAME]


def netstat_conns(rows: Iterable[win.NetstatRow]) -> list[Conn]:
    """``netstat -ano`` rows as the connections ``listeners`` reads (pure)."""
    out = []
    for r in rows:
        if not r.listening:
            continue
        family = socket.AF_INET6 if r.ipv6 else socket.AF_INET
        if r.protocol == "tcp":
            out.append(Conn(family, socket.SOCK_STREAM, (r.address, r.port), (),
                            psutil.CONN_LISTEN, r.pid))
        else:
            out.append(Conn(family, socket.SOCK_DGRAM, (r.address, r.port), (),
                            psutil.CONN_NONE, r.pid))
    return out


def psutil_connections() -> list[Conn]:
    """Every inet socket psutil can see."""
    return [Conn(c.family, c.type, tuple(c.laddr), tuple(c.raddr), c.status, c.pid)
            for c in psutil.net_connections(kind="inet")]


def proc_net_connections() -> list[Conn]:
    """The listening sockets only, from /proc/net (Linux; see ``linux``)."""
    return [Conn(family, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM,
                 (addr, port), (), psutil.CONN_LISTEN if protocol == "tcp" else psutil.CONN_NONE,
                 pid)
            for protocol, family, addr, port, pid in ports_linux.listening_sockets()]


def host_connections() -> list[Conn]:
    """/proc/net on Linux (a busy server's thousands of connections are never loaded),
    psutil elsewhere or when /proc/net cannot be read."""
    if sys.platform.startswith("linux"):
        try:
            return proc_net_connections()
        except OSError:
            pass
    return psutil_connections()


def psutil_proc(pid: int) -> ProcInfo:
    """Name and user of a process; None fields when it is gone or access is denied."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            name = p.name()
            try:
                user = p.username()
            except (psutil.AccessDenied, KeyError):
                user = None
        return ProcInfo(name, user)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ProcInfo(None, None)


def process_names() -> set[str]:
    """Names (and executable basenames) of running processes."""
    names: set[str] = set()
    for p in psutil.process_iter(["name", "exe"]):
        if p.info.get("name"):
            names.add(p.info["name"])
        if p.info.get("exe"):
            names.add(os.path.basename(p.info["exe"]))
    return names


def systemd_running() -> bool:
    """True when systemd is PID 1 (sd_booted(3): /run/systemd/system exists)."""
    return os.path.isdir("/run/systemd/system")


class PortsCheck(Check):
    """Listening ports and required services; root sees every socket's owner."""

    name: ClassVar[str] = "ports"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 30.0
    options: ClassVar = {
        "required_services": Option(list, [], "systemd units or process names that must run "
                                    "(Windows: service names or display names)"),
    }

    def __init__(self, *args: Any, connections: Callable[[], list[Conn]] = host_connections,
                 proc: Callable[[int], ProcInfo] = psutil_proc,
                 processes: Callable[[], set[str]] = process_names,
                 has_systemd: Callable[[], bool] = systemd_running,
                 platform: str = sys.platform, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = connections
        self.proc = proc
        self.processes = processes
        self.has_systemd = has_systemd
        self.platform = platform

    def collect(self) -> Outcome:
        """List listeners and check required services."""
        windows = self.platform == "win32"
        if windows:
            conns, error = self._netstat()
        else:
            try:
                conns, error = self.connections(), None
            except psutil.AccessDenied as e:
                conns, error = [], f"socket list denied: {e}"
        found = listeners(conns, self.proc)
        required = list(self.config["required_services"])
        if windows:
            services = self._windows_services(required) if required else []
        else:
            services = [self._service(s) for s in required]
        down = [s["name"] for s in services if not s["active"]]
        data = {
            "listening": [x.to_dict() for x in found[:MAX_SOCKETS]],
            "truncated": len(found) > MAX_SOCKETS,
            "tcp_ports": sorted({x.port for x in found if x.protocol == "tcp"}),
            "udp_ports": sorted({x.port for x in found if x.protocol == "udp"}),
            "owner_unknown": sum(1 for x in found if x.pid is None),
            "services": services,
            "services_down": down,
            "error": error,
        }
        return Outcome("fail" if down else "ok", data)

    def _netstat(self) -> tuple[list[Conn], str | None]:
        try:
            res = self.run(list(win.NETSTAT), 20.0)
        except CommandError as e:
            return [], f"netstat -ano: {e}"[:1000]
        if res.returncode != 0:
            return [], f"netstat -ano: exit {res.returncode}: {res.stderr.strip()}"[:1000]
        return netstat_conns(win.parse_netstat(res.stdout)), None

    def _windows_services(self, required: list[str]) -> list[dict[str, Any]]:
        try:
            res = self.run(list(win.GET_SERVICES), 30.0)
            if res.returncode != 0:
                why = f"exit {res.returncode}: {res.stderr.strip()}"
            else:
                return win.service_states(required, win.parse_services(res.stdout))
        except CommandError as e:
            why = str(e)
        except ValueError as e:  # json.JSONDecodeError
            why = f"unreadable Get-Service JSON ({e})"
        return [{"name": n, "method": "windows-service", "active": False,
                 "state": f"unknown: {why}"[:200]} for n in required]

    def _service(self, name: str) -> dict[str, Any]:
        if self.has_systemd():
            unit = name if "." in name else f"{name}.service"
            try:
                res = self.run(["systemctl", "is-active", unit], 15.0)
            except CommandError as e:
                return {"name": name, "method": "systemd", "active": False,
                        "state": f"unknown: {e}"[:200]}
            state = (res.stdout.strip() or res.stderr.strip() or "unknown")[:200]
            return {"name": name, "method": "systemd", "active": state == "active",
                    "state": state}
        running = name.removesuffix(".service") in self.processes()
        return {"name": name, "method": "process", "active": running,
                "state": "running" if running else "no such process"}
