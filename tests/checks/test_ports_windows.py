"""ports on Windows: netstat -ano and Get-Service parsers on recorded outputs, and the wiring."""

from __future__ import annotations

from pathlib import Path

import jsonschema
from hostpatrol.agent.checks.ports import windows as win
from hostpatrol.agent.checks.ports.check import PortsCheck, ProcInfo, listeners, netstat_conns
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "ports"
NETSTAT = (FIX / "netstat_ano_win10.txt").read_bytes().decode()
SERVICE = (FIX / "get_service_dnscache.json").read_text()
ANY4 = "0.0.0.0"  # noqa: S104 - data, nothing binds here
NAMES = {1712: "svchost.exe", 4: "System", 9396: "vmware-hostd.exe", 8844: "svchost.exe"}


def validate(data):
    jsonschema.Draft202012Validator(load_schema("ports")).validate(data)


def proc(pid: int) -> ProcInfo:
    return ProcInfo(NAMES.get(pid), "NT AUTHORITY\\SYSTEM" if pid in NAMES else None)


def test_netstat_rows_from_recorded_windows10_output():
    rows = win.parse_netstat(NETSTAT)
    assert "\r\n" in NETSTAT  # recorded with Windows line ends; they must not leak in
    assert len(rows) == 208  # every TCP/UDP line; header and title skipped
    assert rows[0] == win.NetstatRow("tcp", ANY4, 135, False, True, 1712)
    established = [r for r in rows if r.protocol == "tcp" and not r.listening]
    assert len(established) == 32
    assert established[0] == win.NetstatRow("tcp", "127.0.0.1", 1031, False, False, 10644)
    assert win.NetstatRow("tcp", "::1", 1025, True, True, 6088) in rows
    assert rows[-1] == win.NetstatRow("udp", "fe80::f5d1:8bf7:c410:e325%64", 52284, True,
                                      True, 8844)


def test_listening_state_comes_from_the_foreign_port_not_the_translated_word():
    german = ("  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN         1712\n"
              "  TCP    10.0.0.5:50000         10.0.0.9:443           HERGESTELLT     88\n")
    rows = win.parse_netstat(german)
    assert [(r.port, r.listening) for r in rows] == [(135, True), (50000, False)]


def test_netstat_rows_become_the_same_listener_model_as_linux():
    found = listeners(netstat_conns(win.parse_netstat(NETSTAT)), proc)
    tcp = sorted({x.port for x in found if x.protocol == "tcp"})
    assert tcp == [135, 139, 443, 445, 902, 1025, 1310, 2179, 2869, 5939, 7680, 8307, 8884,
                   13656, 29802, 30776, 44440, 49664, 49665, 49666, 49667, 49668, 49681,
                   57621, 65001]
    by_key = {(x.protocol, x.address, x.port): x.to_dict() for x in found}
    assert by_key[("tcp", ANY4, 135)] == {
        "protocol": "tcp", "port": 135, "address": ANY4, "family": "ipv4",
        "pid": 1712, "process": "svchost.exe", "user": "NT AUTHORITY\\SYSTEM"}
    assert by_key[("tcp", "::", 443)]["family"] == "ipv6"
    assert by_key[("tcp", "::", 443)]["process"] == "vmware-hostd.exe"
    # the zone index is dropped as on Linux; UDP duplicates (same pid) collapse
    assert by_key[("udp", "fe80::244e:2f1e:2096:62b2", 1900)]["pid"] == 8844
    assert sum(1 for x in found if (x.protocol, x.address, x.port) == ("udp", ANY4, 53)) == 1
    # 0.0.0.0:5353 is bound by three processes: three listeners
    assert {x.pid for x in found if (x.protocol, x.address, x.port)
            == ("udp", ANY4, 5353)} == {3404, 14156, 27696}


def test_get_service_json_single_object_and_list():
    one = win.parse_services(SERVICE)
    assert one == [{"name": "dnscache", "display_name": "DNS Client", "status": "Running"}]
    # several services come as a JSON array of the same objects
    assert win.parse_services(f"[{SERVICE.strip()},{SERVICE.strip()}]") == one + one
    assert win.parse_services("") == []
    assert win.parse_services('{"Name":"Spooler","DisplayName":"Print Spooler",'
                              '"Status":"Stopped"}')[0]["status"] == "Stopped"


def test_required_services_match_name_or_display_name():
    states = win.service_states(["Dnscache", "DNS Client", "NcaSvc"], win.parse_services(SERVICE))
    assert [(s["name"], s["active"], s["state"]) for s in states] == [
        ("Dnscache", True, "Running"), ("DNS Client", True, "Running"),
        ("NcaSvc", False, "no such service")]  # only a dependent inside the object
    assert {s["method"] for s in states} == {"windows-service"}


def fake_run(outputs, seen):
    def run(argv, timeout):
        seen.append(list(argv))
        value = outputs[argv[0]]
        if isinstance(value, Exception):
            raise value
        return CommandResult(tuple(argv), 0, value, "")
    return run


def never(*a):
    raise AssertionError("the Windows path must not ask psutil or systemd")


def test_check_on_windows_uses_netstat_and_get_service():
    seen: list[list[str]] = []
    run = fake_run({"netstat": NETSTAT, "powershell": SERVICE}, seen)
    out = PortsCheck({"required_services": ["dnscache", "NcaSvc"]}, run=run, proc=proc,
                     connections=never, has_systemd=never, processes=never,
                     platform="win32").collect()
    validate(out.data)
    assert seen[0] == ["netstat", "-ano"]
    assert seen[1][0] == "powershell"
    assert "Get-Service" in seen[1][-1]
    assert out.data["tcp_ports"][:4] == [135, 139, 443, 445]
    assert 5353 in out.data["udp_ports"]
    assert out.data["error"] is None
    assert out.data["owner_unknown"] == 0
    assert out.data["services_down"] == ["NcaSvc"]
    assert out.status == "fail"


def test_check_on_windows_reports_missing_tools_as_data():
    seen: list[list[str]] = []
    missing = CommandNotFound("netstat: command not found")
    run = fake_run({"netstat": missing, "powershell": CommandNotFound("powershell: nope")},
                   seen)
    out = PortsCheck({"required_services": ["Spooler"]}, run=run, proc=proc,
                     platform="win32").collect()
    validate(out.data)
    assert out.data["error"].startswith("netstat -ano: netstat: command not found")
    assert out.data["listening"] == []
    assert out.data["services"] == [{"name": "Spooler", "method": "windows-service",
                                     "active": False, "state": "unknown: powershell: nope"}]
