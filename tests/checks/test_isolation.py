"""isolation check: parsers on recorded outputs, loopback-only egress probes, real host.

No test here sends traffic to anything but 127.0.0.1: probes use an injected connector
and resolver, or target loopback ports opened (or not) by the test itself.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.isolation.check import IsolationCheck
from hostpatrol.agent.checks.isolation.net import (
    classify_interfaces,
    egress_probe,
    parse_ipv6_route,
    parse_proc_net_route,
    parse_target,
)
from hostpatrol.agent.checks.isolation.usb import (
    module_loaded,
    parse_kernel_usb_log,
    parse_modprobe_conf,
    parse_ps_usbstor,
    parse_reg_start,
    sysfs_usb_storage,
)
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "isolation"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("isolation")).validate(data)


def never_connect(host: str, port: int, timeout: float) -> None:
    raise AssertionError(f"internet-zone hosts must not be probed ({host}:{port})")


def never_resolve(name: str, timeout: float) -> list[str]:
    raise AssertionError(f"no lookup expected for {name}")


def no_commands(argv: Sequence[str], timeout: float) -> CommandResult:
    msg = f"{argv[0]}: command not found"
    raise CommandNotFound(msg)


def test_routes_from_proc() -> None:
    v4 = parse_proc_net_route(fixture("proc_net_route_debian12.txt"))
    assert [r.to_dict() for r in v4] == [
        {"interface": "eth0", "gateway": "192.0.2.1", "family": "ipv4", "metric": 0}]
    v6 = parse_ipv6_route(fixture("proc_net_ipv6_route_debian12.txt"))
    assert [(r.interface, r.gateway) for r in v6] == [("eth0", "fd00::1")]


def test_interface_kinds(tmp_path: Path) -> None:
    net = tmp_path / "net"
    for name, sub in [("br0", "bridge"), ("wlan0", "wireless"), ("wwan0", None),
                      ("eth0", "device"), ("veth1", None), ("lo", None)]:
        (net / name).mkdir(parents=True)
        (net / name / "operstate").write_text("up\n" if name != "veth1" else "down\n")
        if sub:
            (net / name / sub).mkdir()
    kinds = {i["name"]: (i["kind"], i["up"]) for i in classify_interfaces(net)}
    assert kinds == {"br0": ("bridge", True), "wlan0": ("wireless", True),
                     "wwan0": ("wwan", True), "eth0": ("physical", True),
                     "veth1": ("virtual", False)}


def test_kernel_log_journal_format() -> None:
    devices = parse_kernel_usb_log(fixture("journalctl_k_usb_storage.txt"))
    assert devices == [{
        "vendor_id": "aabb", "product_id": "ccdd", "vendor": "asdf", "product": "wqer",
        "serial": "62908886", "first_seen": "Mar 07 13:47:02", "last_seen": "Mar 07 13:47:02",
        "times_seen": 1, "source": "kernel-log"}]


def test_kernel_log_syslog_format_with_blank_manufacturer() -> None:
    devices = parse_kernel_usb_log(fixture("syslog_kernel_usb_raspberrypi.txt"))
    assert len(devices) == 2  # 1-1.3.2 (its description was before the excerpt) and 1-1.3.3
    stick = [d for d in devices if d["serial"] == "070B3A1D8E99D055"][0]
    assert (stick["vendor_id"], stick["product_id"]) == ("26bd", "9917")
    assert stick["product"] == "USB DISK 2.0"
    assert stick["vendor"] is None  # 'Manufacturer:         ' is blank
    assert stick["first_seen"] == "Mar  3 02:08:39"
    # The hub at 1-1.3.4 is not a storage device.
    assert not any(d["vendor_id"] == "1a40" for d in devices)


def test_dmesg_lines_use_monotonic_time() -> None:
    text = "\n".join(line.split("kernel: ", 1)[1]
                     for line in fixture("syslog_kernel_usb_raspberrypi.txt").splitlines())
    stick = [d for d in parse_kernel_usb_log(text) if d["serial"] == "070B3A1D8E99D055"][0]
    assert stick["first_seen"] == "+4.343670s"
    assert stick["last_seen"] == "+4.418810s"


def test_modprobe_and_modules() -> None:
    assert parse_modprobe_conf(fixture("modprobe_usb_storage_stig.conf")) == {
        "blacklisted": True, "install_blocked": True}
    assert parse_modprobe_conf("# install usb-storage /bin/true\noptions usb-storage quirks=x")\
        == {"blacklisted": False, "install_blocked": False}
    assert module_loaded(fixture("proc_modules_usb_storage.txt")) is True
    assert module_loaded("uas 32768 0 - Live 0x0000000000000000\n") is False


def test_windows_registry_outputs() -> None:
    assert parse_reg_start(fixture("reg_query_usbstor_start_enabled.txt")) == 3
    devices = parse_ps_usbstor(fixture("ps_usbstor_enum_pny.txt"))
    assert len(devices) == 1
    d = devices[0]
    assert (d["vendor"], d["product"], d["serial"]) == ("PNY", "USB_2.0_FD", "0510101000022047")
    assert d["friendly_name"] == "PNY USB 2.0 FD USB Device"


def test_sysfs_storage_devices(tmp_path: Path) -> None:
    for dev, cls in [("1-1", "08"), ("1-2", "03")]:
        d = tmp_path / dev
        (d / f"{dev}:1.0").mkdir(parents=True)
        (d / f"{dev}:1.0" / "bInterfaceClass").write_text(cls + "\n")
        (d / "idVendor").write_text("0781\n")
        (d / "idProduct").write_text("5591\n")
        (d / "serial").write_text(f"SER-{dev}\n")
        (d / "product").write_text("Ultra\n")
    devices = sysfs_usb_storage(tmp_path)
    assert [(d["serial"], d["vendor_id"], d["product"]) for d in devices] == [
        ("SER-1-1", "0781", "Ultra")]


def test_egress_probe_with_injected_tools() -> None:
    def connect(host: str, port: int, timeout: float) -> None:
        assert timeout == 2.0
        if port != 443:
            raise ConnectionRefusedError("refused")

    def resolve(name: str, timeout: float) -> list[str]:
        if name == "blocked.example":
            raise socket.gaierror(-3, "Temporary failure in name resolution")
        return ["192.0.2.10"]

    res = egress_probe(["198.51.100.1:443", "198.51.100.2:53", "bad"],
                       ["blocked.example", "leaky.example"], connect, resolve, 2.0)
    assert [t["reachable"] for t in res["tcp"]] == [True, False, False]
    assert res["reached"] == ["198.51.100.1:443", "leaky.example"]
    assert parse_target("[2001:db8::1]:443") == ("2001:db8::1", 443)


def test_internet_zone_skips_the_probe(tmp_path: Path) -> None:
    check = IsolationCheck(root=tmp_path, run=no_commands, system=lambda: "Linux",
                           connect=never_connect, resolve=never_resolve)
    out = check.collect()
    assert out.status == "ok"
    assert out.data["egress"] == {"performed": False,
                                  "reason": "internet zone: egress is allowed"}
    validate(out.data)


@pytest.fixture
def listener() -> Iterator[int]:
    """An open TCP port on 127.0.0.1 (reachable = a violation for isolated hosts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_isolated_host_reaching_a_loopback_listener_fails(listener: int, tmp_path: Path) -> None:
    cfg = {"zone": "isolated", "egress_targets": [f"127.0.0.1:{listener}"], "dns_probe_names": []}
    out = IsolationCheck(cfg, root=tmp_path, run=no_commands, system=lambda: "Linux").collect()
    assert out.status == "fail"
    assert out.data["egress"]["reached"] == [f"127.0.0.1:{listener}"]
    assert out.data["findings"][0] == f"reached outside: 127.0.0.1:{listener}"
    validate(out.data)


def test_isolated_host_with_closed_port_and_blocked_usb_passes(tmp_path: Path) -> None:
    (tmp_path / "etc/modprobe.d").mkdir(parents=True)
    (tmp_path / "etc/modprobe.d/usb.conf").write_text(fixture("modprobe_usb_storage_stig.conf"))
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/modules").write_text("uas 32768 0 - Live 0x0000000000000000\n")
    port = closed_port()
    cfg = {"zone": "intranet", "egress_targets": [f"127.0.0.1:{port}"], "dns_probe_names": []}
    out = IsolationCheck(cfg, root=tmp_path, run=no_commands, system=lambda: "Linux").collect()
    assert out.data["egress"]["tcp"][0]["reachable"] is False
    assert out.data["usb_storage"]["blocked"] is True
    assert out.data["usb_storage"]["policy_files"] == ["usb.conf"]
    assert (out.status, out.data["findings"]) == ("ok", [])
    validate(out.data)


def test_isolated_host_with_usb_loaded_and_wifi_warns(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/modules").write_text(fixture("proc_modules_usb_storage.txt"))
    (tmp_path / "sys/class/net/wlan0/wireless").mkdir(parents=True)

    def kernel_log(argv: Sequence[str], timeout: float) -> CommandResult:
        if argv[0] != "journalctl":
            return no_commands(argv, timeout)
        return CommandResult(tuple(argv), 0, fixture("journalctl_k_usb_storage.txt"), "")

    cfg = {"zone": "isolated", "egress_targets": [], "dns_probe_names": []}
    out = IsolationCheck(cfg, root=tmp_path, run=kernel_log, system=lambda: "Linux").collect()
    assert out.status == "warn"
    assert "USB mass storage is not blocked" in out.data["findings"]
    assert out.data["findings"][0] == "bridge/wireless/cellular interfaces: wlan0"
    assert out.data["usb_storage"]["devices"][0]["serial"] == "62908886"
    assert out.data["usb_storage"]["log_source"] == {"command": "journalctl", "available": True}
    validate(out.data)


def test_windows_usb_from_registry() -> None:
    answers = {"reg": fixture("reg_query_usbstor_start_enabled.txt"),
               "powershell": fixture("ps_usbstor_enum_pny.txt")}

    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        return CommandResult(tuple(argv), 0, answers[argv[0]], "")

    out = IsolationCheck(run=run, system=lambda: "Windows").collect()
    usb = out.data["usb_storage"]
    assert (usb["blocked"], usb["usbstor_start"]) == (False, 3)
    assert usb["devices"][0]["serial"] == "0510101000022047"
    validate(out.data)


def test_real_host_matches_ip_route_and_link() -> None:
    port = closed_port()
    cfg = {"zone": "isolated", "egress_targets": [f"127.0.0.1:{port}"], "dns_probe_names": []}
    out = IsolationCheck(cfg).collect()
    validate(out.data)
    assert out.data["egress"]["reached"] == []
    routes = json.loads(subprocess.run(["ip", "-j", "route", "show", "default"],
                                       capture_output=True, text=True, check=True,
                                       timeout=30).stdout)
    mine = [r for r in out.data["network"]["default_routes"] if r["family"] == "ipv4"]
    assert sorted((r["dev"], r.get("gateway")) for r in routes) == sorted(
        (r["interface"], r["gateway"]) for r in mine)
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True,
                                      check=True, timeout=30).stdout)
    assert sorted(link["ifname"] for link in links if link["ifname"] != "lo") == sorted(
        i["name"] for i in out.data["network"]["interfaces"])
    loaded = Path("/proc/modules").exists() and "usb_storage " in Path(
        "/proc/modules").read_text()
    assert out.data["usb_storage"]["module_loaded"] in ({loaded} if Path(
        "/proc/modules").exists() else {None})
