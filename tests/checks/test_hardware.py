"""hardware check: parsers on recorded outputs, a fake sysfs tree, and the real host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import jsonschema
from hostpatrol.agent.checks.hardware import HardwareCheck, parse_lsblk, parse_resolv_conf
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "hardware"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("hardware")).validate(data)


def no_commands(argv: Sequence[str], timeout: float) -> CommandResult:
    msg = f"{argv[0]}: command not found"
    raise CommandNotFound(msg)


def test_lsblk_keeps_whole_disks_only() -> None:
    disks = parse_lsblk(fixture("lsblk_debian12_vm.json"))
    assert disks == [{"name": "vda", "model": None, "serial": None,
                      "size_bytes": 274877906944, "rotational": True}]
    assert parse_lsblk("lsblk: unknown column") == []


def test_resolv_conf() -> None:
    text = "# generated\nsearch example.org\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n" \
           "nameserver 10.0.0.2\n"
    assert parse_resolv_conf(text) == ["10.0.0.2", "fe80::1%eth0"]


def make_tree(root: Path) -> None:
    dmi = root / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("Dell Inc.\n")
    (dmi / "product_name").write_text("OptiPlex 7090\n")
    (dmi / "product_serial").write_text("5CD1234XYZ\n")
    (dmi / "product_uuid").mkdir()  # unreadable: reported with the reason, value null
    blk = root / "sys/block/sda"
    (blk / "device").mkdir(parents=True)
    (blk / "queue").mkdir()
    (blk / "device/model").write_text("Samsung SSD 870 \n")
    (blk / "size").write_text("1953525168\n")
    (blk / "queue/rotational").write_text("0\n")
    (root / "sys/block/loop0").mkdir()
    (root / "proc/net").mkdir(parents=True)
    (root / "proc/net/route").write_text(fixture("proc_net_route_debian12.txt"))
    (root / "proc/cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU @ 3.00GHz\n")
    (root / "etc").mkdir()
    (root / "etc/resolv.conf").write_text("nameserver 127.0.0.53\n")


def test_check_on_a_fake_tree(tmp_path: Path) -> None:
    make_tree(tmp_path)

    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        if argv[0] == "resolvectl":
            return CommandResult(tuple(argv), 1, "", "Failed to get global data")
        return no_commands(argv, timeout)

    out = HardwareCheck(root=tmp_path, run=run, memory_total=lambda: 8 << 30,
                        cpu_counts=lambda: (8, 4)).collect()
    d = out.data
    assert out.status == "ok"
    assert (d["system"]["vendor"], d["system"]["model"], d["system"]["serial"]) == (
        "Dell Inc.", "OptiPlex 7090", "5CD1234XYZ")
    assert d["system"]["uuid"] is None
    assert d["unreadable"]["uuid"] == "Is a directory"
    assert d["unreadable"]["board_name"] == "absent"
    assert d["cpu"] == {"model": "Test CPU @ 3.00GHz", "logical": 8, "physical": 4}
    assert d["disks"] == [{"name": "sda", "model": "Samsung SSD 870", "serial": None,
                           "size_bytes": 1953525168 * 512, "rotational": False}]
    assert d["disk_source"] == "sysfs"
    assert d["gateways"][0]["gateway"] == "192.0.2.1"
    assert (d["dns_servers"], d["dns_source"]) == (["127.0.0.53"], "/etc/resolv.conf")
    validate(d)


def test_real_host_matches_lsblk_resolv_conf_and_ip_route() -> None:
    out = HardwareCheck().collect()
    validate(out.data)
    listed = json.loads(subprocess.run(
        ["lsblk", "-J", "-b", "-o", "NAME,MODEL,SERIAL,SIZE,TYPE,ROTA"], capture_output=True,
        text=True, check=True, timeout=30).stdout)
    expected = {d["name"]: d for d in listed["blockdevices"] if d["type"] == "disk"
                and not d["name"].startswith(("loop", "zram", "ram"))}
    assert {d["name"] for d in out.data["disks"]} == set(expected)
    for disk in out.data["disks"]:
        assert disk["size_bytes"] == expected[disk["name"]]["size"]
        assert disk["serial"] == expected[disk["name"]]["serial"]
    resolv = [ln.split()[1] for ln in Path("/etc/resolv.conf").read_text().splitlines()
              if ln.startswith("nameserver")]
    if out.data["dns_source"] == "/etc/resolv.conf":
        assert out.data["dns_servers"] == resolv
    routes = json.loads(subprocess.run(["ip", "-j", "route", "show", "default"],
                                       capture_output=True, text=True, check=True,
                                       timeout=30).stdout)
    mine = {r["gateway"] for r in out.data["gateways"] if r["family"] == "ipv4"}
    assert mine == {r.get("gateway") for r in routes}
    assert out.data["memory_bytes"] > 0
