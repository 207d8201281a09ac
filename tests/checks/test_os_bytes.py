"""Any bytes from the OS, through every check's parsers, end in a signed report the collector takes.

Each check is fed the bytes where it reads the OS: command output and files decoded by
the agent's rule (``ostext.decode``, as ``run_command`` and the file readers do), names
from OS APIs in Python's surrogateescape form (psutil, ``os.listdir``), real files and
directories with such names where the check walks a tree. Recorded real outputs
(``tests/fixtures/<area>``) with bytes spliced in drive the parsers past their first
line. Whatever the check makes of it, the report is signed, verifies, parses strictly
as UTF-8 JSON and passes the collector's own validation (envelope and, for a result that
is not an error, the compiled data schema).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hostpatrol.agent import ostext
from hostpatrol.agent.checks import BUILTIN_CHECKS
from hostpatrol.agent.checks.accounts.check import AccountsCheck
from hostpatrol.agent.checks.antivirus.check import AntivirusCheck
from hostpatrol.agent.checks.antivirus.host import Host
from hostpatrol.agent.checks.backups import BackupsCheck
from hostpatrol.agent.checks.base import Check
from hostpatrol.agent.checks.disk import DiskCheck, Partition, Usage
from hostpatrol.agent.checks.firewall.check import FirewallCheck
from hostpatrol.agent.checks.hardware import DMI_FIELDS, HardwareCheck
from hostpatrol.agent.checks.inventory import InventoryCheck
from hostpatrol.agent.checks.isolation.check import IsolationCheck
from hostpatrol.agent.checks.logs.check import LogsCheck
from hostpatrol.agent.checks.patches.check import PatchesCheck
from hostpatrol.agent.checks.ports.check import Conn, PortsCheck, ProcInfo
from hostpatrol.agent.checks.software_policy import SoftwarePolicyCheck
from hostpatrol.agent.checks.timesync.check import TimeCheck, kernel_view
from hostpatrol.agent.commands import CommandResult
from hostpatrol.agent.runner import build_report, run_one, sign_report
from hostpatrol.shared import jws
from hostpatrol.shared.keys import generate
from hostpatrol.shared.report import validate_report
from hostpatrol.shared.schemas import load_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = generate()
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
AGENT_ID = str(uuid.UUID(int=7))


def _fixtures(area: str) -> list[bytes]:
    return [p.read_bytes()[:20_000] for p in sorted((FIXTURES / area).iterdir())
            if p.name != "SOURCES.md"]


ALL_FIXTURES = [b for area in sorted(p.name for p in FIXTURES.iterdir()) for b in
                _fixtures(area)]


@st.composite
def os_bytes(draw: Any) -> bytes:
    """Arbitrary bytes, or a recorded real output with bytes spliced in or flipped high."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=3000))
    data = bytearray(draw(st.sampled_from(ALL_FIXTURES)))
    for _ in range(draw(st.integers(0, 12))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()) and at < len(data):
            data[at] = draw(st.integers(0x80, 0xFF))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def os_str(blob: bytes) -> str:
    """What Python's OS APIs (os.listdir, psutil) hand over for these bytes."""
    return blob.decode("utf-8", "surrogateescape")


def file_name(blob: bytes) -> bytes:
    """A name the file system takes: no slash or NUL, not too long, never . or .."""
    name = blob.replace(b"/", b"_").replace(b"\0", b"_")[:120]
    return b"n" + name if name in (b"", b".", b"..") else name


def byte_run(blob: bytes) -> Callable[..., CommandResult]:
    """Every command prints these bytes (decoded as run_command decodes them)."""
    def run(argv: Any, timeout: float = 30.0) -> CommandResult:
        return CommandResult(tuple(argv), 0, ostext.decode(blob), ostext.decode(blob[:200]))
    return run


def _write(root: Path, rel: str | bytes, blob: bytes) -> None:
    path = os.path.join(os.fsencode(root), rel if isinstance(rel, bytes) else rel.encode())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(blob)


def fake_root(root: Path, blob: bytes) -> Path:
    """A /sys, /proc and /etc whose files hold ``blob`` and whose entries are named by it
    (as long as the kernel lets such names be: IFNAMSIZ, DISK_NAME_LEN)."""
    name = file_name(blob[:15])
    for fname in DMI_FIELDS.values():
        _write(root, f"sys/class/dmi/id/{fname}", blob)
    for rel in ("proc/cpuinfo", "proc/net/route", "proc/net/ipv6_route", "etc/resolv.conf",
                "proc/modules", "etc/modprobe.d/x.conf"):
        _write(root, rel, blob)
    for leaf in ("device/model", "device/serial", "size", "queue/rotational"):
        _write(root, b"sys/block/" + name + b"/" + leaf.encode(), blob)
    for leaf in ("uevent", "operstate", "address", "type"):
        _write(root, b"sys/class/net/" + name + b"/" + leaf.encode(), blob)
    for leaf in ("idVendor", "idProduct"):  # the kernel prints these as %04x
        _write(root, b"sys/bus/usb/devices/" + name + b"/" + leaf.encode(), b"0781\n")
    for leaf in ("manufacturer", "product", "serial"):  # what the device says: anything
        _write(root, b"sys/bus/usb/devices/" + name + b"/" + leaf.encode(), blob)
    _write(root, b"sys/bus/usb/devices/" + name + b"/" + name + b":1.0/bInterfaceClass",
           b"08\n")
    return root


def passwd_text(blob: bytes) -> str:
    """/etc/passwd and friends with the bytes in a user's name and GECOS field."""
    odd = file_name(blob).replace(b":", b"_").replace(b"\n", b"_")
    return ostext.decode(b"root:x:0:0:root:/root:/bin/bash\n" + odd + b":x:1000:1000:" + odd
                         + b",,,:/home/u:/bin/bash\n" + blob)


def journal_lines(blob: bytes) -> list[str]:
    """journalctl JSON, which gives a field that is not UTF-8 as a list of byte values."""
    entry = {"__CURSOR": "s=1", "MESSAGE": list(blob[:500]), "_COMM": list(blob[:15]),
             "SYSLOG_IDENTIFIER": list(blob[:20]), "PRIORITY": "3", "SYSLOG_FACILITY": "4"}
    return [json.dumps(entry) + "\n", *ostext.decode(blob).splitlines(True)]


BUILDERS: dict[str, Callable[[bytes, Path], Check]] = {
    "disk": lambda b, _: DiskCheck(
        partitions=lambda: [Partition("/dev/sda1", "/", "ext4", "rw"),
                            Partition(os_str(b[:60]) or "/dev/x", "/mnt/" + os_str(file_name(b)),
                                      os_str(b[:10]) or "ext4", os_str(b[:40]))],
        usage=lambda p: Usage(10**9, 5 * 10**8, 5 * 10**8, 1000, 10, 990, dev=hash(p))),
    "inventory": lambda b, _: InventoryCheck(read=lambda p: ostext.decode(b),
                                             manager=lambda: "dpkg-query", run=byte_run(b)),
    "patches": lambda b, _: PatchesCheck(
        run=byte_run(b), which=lambda t: f"/usr/bin/{t}", system=lambda: "Linux",
        release=lambda: os_str(b[:40]), now=lambda: NOW, read=lambda p: ostext.decode(b),
        glob=lambda p: [f"/boot/vmlinuz-{os_str(file_name(b))}"], mtime=lambda p: 1.7e9),
    "antivirus": lambda b, _: AntivirusCheck(host=Host(
        run=byte_run(b), which=lambda t: f"/usr/bin/{t}", exists=lambda p: True,
        listdir=lambda p: [os_str(file_name(b)), "main.cvd", "daily.cld"],
        mtime=lambda p: 1.7e9, size=lambda p: len(b), head=lambda p, n: b[:n],
        tail=lambda p, n: ostext.decode(b[-n:]), processes=lambda: {os_str(b[:30])},
        system="Linux", now=lambda: NOW)),
    "logs": lambda b, root: LogsCheck(
        {"system_files": [], "extra_files": [str(root / "app.log")]}, state_dir=root,
        streamer=lambda argv, timeout: iter(journal_lines(b)),
        processes=lambda: {os_str(b[:30]), "rsyslogd"}, journald=lambda: True,
        platform="linux", clock=lambda: NOW.timestamp()),
    "accounts": lambda b, _: AccountsCheck(
        read=lambda p: passwd_text(b), listdir=lambda p: [os_str(file_name(b))],
        now=lambda: NOW, platform="linux", run=byte_run(b)),
    "ports": lambda b, _: PortsCheck(
        {"required_services": ["sshd"]},
        connections=lambda: [Conn(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 22), (),
                                  "LISTEN", 100),
                             Conn(socket.AF_INET6, socket.SOCK_DGRAM, ("::", 53), (), "NONE",
                                  200)],
        proc=lambda pid: ProcInfo(os_str(b), os_str(b[:32])),
        processes=lambda: {os_str(b)}, has_systemd=lambda: True, platform="linux",
        run=byte_run(b)),
    "software_policy": lambda b, _: SoftwarePolicyCheck(
        {"deny": ["*game*"], "allow": []}, manager=lambda: "dpkg-query", run=byte_run(b)),
    "backups": lambda b, root: BackupsCheck(
        {"locations": [{"name": "db", "path": str(root / "backups") + "/*",
                        "max_age_hours": 24}]}, now=lambda: NOW),
    "hardware": lambda b, root: HardwareCheck(root=fake_root(root, b), run=byte_run(b)),
    "isolation": lambda b, root: IsolationCheck(
        {"zone": "internet"}, root=fake_root(root, b), system=lambda: "Linux",
        run=byte_run(b)),
    "time": lambda b, _: TimeCheck(run=byte_run(b), system=lambda: "Linux",
                                   adjtimex=lambda: kernel_view(0, 1000, 10, 0)),
    "firewall": lambda b, _: FirewallCheck(run=byte_run(b), system=lambda: "Linux"),
}
VALIDATORS = {name: fastjsonschema.compile({k: v for k, v in load_schema(name).items()
                                            if k != "$schema"}) for name in BUILDERS}


def test_every_check_has_a_builder() -> None:
    assert sorted(BUILDERS) == sorted(c.name for c in BUILTIN_CHECKS)


def _prepare(root: Path, blob: bytes) -> None:
    (root / "app.log").write_bytes(blob + b"\nerror: " + blob[:80] + b"\n")
    backups = os.path.join(os.fsencode(root), b"backups")
    os.makedirs(backups)
    with open(os.path.join(backups, file_name(blob)), "wb") as f:
        f.write(blob)


@pytest.mark.parametrize("name", sorted(BUILDERS))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(blob=os_bytes())
def test_any_os_bytes_end_in_a_signed_report_the_collector_takes(name: str,
                                                                 blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _prepare(root, blob)
        result = run_one(BUILDERS[name](blob, root))
    assert "could not be serialised" not in (result.error or ""), result.error
    token = sign_report(build_report(AGENT_ID, 1, "manual", [result]), KEY)
    payload = jws.verify(jws.parse(token), KEY.public_key())
    payload.decode("utf-8")  # strict: what the collector reads
    doc = jws.loads_strict(payload)
    report = validate_report(doc)
    (got,) = report.results
    if got.status not in ("error", "skipped"):
        VALIDATORS[name](got.data)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in payload.decode("utf-8"))
