"""Listening sockets on Linux straight from ``/proc/net``: listeners only, read as a stream.

``psutil.net_connections()`` builds an object for every socket of the host and maps each
one to its processes; on a busy server (tens of thousands of established and TIME_WAIT
connections) that costs the agent tens of megabytes. Here ``/proc/net/{tcp,tcp6,udp,udp6}``
are read line by line and only listening TCP sockets (state ``0A``) and UDP sockets with
no remote end are kept — the sockets psutil reports as ``LISTEN`` or with an empty
``raddr`` — and only their inodes are looked up under ``/proc/<pid>/fd``. Addresses are
in the kernel's byte order (``sys.byteorder``), ports in network order, all in hex.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

TCP_LISTEN = "0A"
FILES = (("tcp", socket.AF_INET, "tcp"), ("tcp6", socket.AF_INET6, "tcp"),
         ("udp", socket.AF_INET, "udp"), ("udp6", socket.AF_INET6, "udp"))


def decode_address(hex_addr: str, family: int) -> str:
    """An address as /proc/net prints it (32-bit words in host order) in text form."""
    raw = bytes.fromhex(hex_addr)
    if sys.byteorder == "little":  # each 32-bit word is stored in host order
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw)


def parse(lines: Iterable[str], protocol: str, family: int) -> Iterator[tuple[str, int, int]]:
    """(address, port, inode) of each listening socket in one /proc/net table (pure)."""
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[0] == "sl":
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if protocol == "tcp" and state != TCP_LISTEN:
            continue
        if protocol == "udp" and not remote.endswith(":0000"):
            continue  # a connected UDP socket talks to one peer: not a listener
        address, port = local.rsplit(":", 1)
        if int(port, 16) == 0:
            continue
        yield decode_address(address, family), int(port, 16), int(inode)


def socket_owners(inodes: set[int], proc: Path = Path("/proc")) -> dict[int, list[int]]:
    """The pids holding each socket inode (several for pre-forked servers); what cannot be
    read (another user's process without root) is left out."""
    owners: dict[int, list[int]] = {}
    if not inodes:
        return owners
    try:
        pids = [e.name for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        return owners
    for pid in pids:
        try:
            fds = os.scandir(proc / pid / "fd")
        except OSError:
            continue  # gone, or not ours to read
        try:
            with fds:  # streamed: a process may hold tens of thousands of descriptors
                for fd in fds:
                    try:
                        target = os.readlink(fd.path)
                    except OSError:
                        continue
                    if target.startswith("socket:["):
                        inode = int(target[8:-1])
                        if inode in inodes:
                            owners.setdefault(inode, []).append(int(pid))
        except OSError:
            continue  # the process exited while we read its descriptors
    return owners


def listening_sockets(net: Path = Path("/proc/net"), proc: Path = Path("/proc")
                      ) -> list[tuple[str, int, str, int, int | None]]:
    """(protocol, family, address, port, pid) of every listener (pid None when its owner
    cannot be seen); raises OSError when /proc/net cannot be read."""
    found: list[tuple[str, int, str, int, int]] = []
    for name, family, protocol in FILES:
        try:
            with open(net / name, encoding="ascii") as f:
                found += [(protocol, family, addr, port, inode)
                          for addr, port, inode in parse(f, protocol, family)]
        except FileNotFoundError:
            continue  # no IPv6 on this host
    owners = socket_owners({row[4] for row in found}, proc)
    # a socket shared by a pre-forked server's processes is reported once, with the
    # lowest pid (its parent, as a rule), not once per worker
    return [(protocol, family, addr, port, min(owners[inode]) if inode in owners else None)
            for protocol, family, addr, port, inode in found]
