"""ports: listener extraction on recorded-shape data, services, and for real against ss."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import jsonschema
import psutil
import pytest
from hostpatrol.agent.checks.ports import check as ports
from hostpatrol.agent.checks.ports.check import Conn, PortsCheck, ProcInfo, listeners
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

TCP, UDP = socket.SOCK_STREAM, socket.SOCK_DGRAM
V4, V6 = socket.AF_INET, socket.AF_INET6
ANY4 = "0.0.0.0"  # noqa: S104 - data, nothing binds here


def validate(data):
    jsonschema.Draft202012Validator(load_schema("ports")).validate(data)


def test_listeners_keep_listen_tcp_and_unconnected_udp_only():
    conns = [
        Conn(V4, TCP, (ANY4, 22), (), psutil.CONN_LISTEN, 100),
        Conn(V6, TCP, ("::", 22), (), psutil.CONN_LISTEN, 100),
        Conn(V4, TCP, ("10.0.0.5", 22), ("10.0.0.9", 50000), psutil.CONN_ESTABLISHED, 101),
        Conn(V4, UDP, ("127.0.0.1", 323), (), psutil.CONN_NONE, 200),
        Conn(V4, UDP, ("10.0.0.5", 40000), ("10.0.0.1", 53), psutil.CONN_NONE, 300),
        Conn(V6, TCP, ("fe80::1%eth0", 8080), (), psutil.CONN_LISTEN, None),
        Conn(V4, TCP, (ANY4, 22), (), psutil.CONN_LISTEN, 100),  # same socket, other fd
    ]
    calls = []

    def proc(pid):
        calls.append(pid)
        return {100: ProcInfo("sshd", "root"), 200: ProcInfo("chronyd", "_chrony")}[pid]

    found = [x.to_dict() for x in listeners(conns, proc)]
    assert found == [
        {"protocol": "tcp", "port": 22, "address": ANY4, "family": "ipv4", "pid": 100,
         "process": "sshd", "user": "root"},
        {"protocol": "tcp", "port": 22, "address": "::", "family": "ipv6", "pid": 100,
         "process": "sshd", "user": "root"},
        {"protocol": "tcp", "port": 8080, "address": "fe80::1", "family": "ipv6", "pid": None,
         "process": None, "user": None},
        {"protocol": "udp", "port": 323, "address": "127.0.0.1", "family": "ipv4", "pid": 200,
         "process": "chronyd", "user": "_chrony"},
    ]
    assert sorted(calls) == [100, 200]  # one lookup per pid


def _check(conns, has_systemd, run=None, processes=frozenset(), **config):
    return PortsCheck(config, connections=lambda: conns, proc=lambda pid: ProcInfo("x", "y"),
                      processes=lambda: set(processes), has_systemd=lambda: has_systemd,
                      run=run or (lambda argv, t: (_ for _ in ()).throw(AssertionError(argv))))


def test_required_services_by_systemctl():
    states = {"ssh.service": ("active", 0), "cron.service": ("inactive", 3),
              "nginx.service": ("failed", 3)}
    seen = []

    def run(argv, timeout):
        seen.append(list(argv))
        out, rc = states[argv[2]]
        return CommandResult(tuple(argv), rc, out + "\n", "")

    out = _check([], True, run=run, required_services=["ssh", "cron", "nginx.service"]).collect()
    validate(out.data)
    assert seen[0] == ["systemctl", "is-active", "ssh.service"]
    assert [(s["name"], s["active"], s["state"]) for s in out.data["services"]] == [
        ("ssh", True, "active"), ("cron", False, "inactive"), ("nginx.service", False, "failed")]
    assert out.data["services_down"] == ["cron", "nginx.service"]
    assert out.status == "fail"


def test_required_services_without_systemd_use_process_names():
    out = _check([], False, processes={"cron", "sshd"},
                 required_services=["cron", "sshd.service", "nginx"]).collect()
    validate(out.data)
    assert [(s["method"], s["active"]) for s in out.data["services"]] == [
        ("process", True), ("process", True), ("process", False)]
    assert out.status == "fail"


def test_systemctl_missing_is_reported_not_raised():
    def run(argv, timeout):
        raise CommandNotFound("systemctl: command not found")

    out = _check([], True, run=run, required_services=["ssh"]).collect()
    assert out.data["services"][0]["state"].startswith("unknown: systemctl")
    assert out.data["services"][0]["active"] is False


def test_access_denied_is_data():
    def denied():
        raise psutil.AccessDenied(pid=None)

    chk = PortsCheck({}, connections=denied, has_systemd=lambda: False)
    out = chk.collect()
    validate(out.data)
    assert out.data["error"].startswith("socket list denied")
    assert out.data["listening"] == []


@pytest.fixture
def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    yield s.getsockname()[1], u.getsockname()[1]
    s.close()
    u.close()


def _ss_tcp_ports() -> set[int]:
    ss = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True)
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in ss.stdout.splitlines()}


def test_real_host_reports_our_socket_and_matches_ss(listening_socket):
    tcp_port, udp_port = listening_socket
    before = _ss_tcp_ports()
    out = PortsCheck({"required_services": [psutil.Process().name()]}
                     ).collect()
    after = _ss_tcp_ports()
    validate(out.data)
    mine = [x for x in out.data["listening"] if x["port"] == tcp_port and x["protocol"] == "tcp"]
    assert mine == [{"protocol": "tcp", "port": tcp_port, "address": "127.0.0.1",
                     "family": "ipv4", "pid": os.getpid(), "process": psutil.Process().name(),
                     "user": psutil.Process().username()}]
    assert any(x["port"] == udp_port and x["protocol"] == "udp" and x["pid"] == os.getpid()
               for x in out.data["listening"])
    # other processes (a test's collector, a helper) open and close listeners meanwhile:
    # every port ss saw both before and after is ours, and ours are ones ss saw
    assert before & after <= set(out.data["tcp_ports"]) <= before | after
    assert tcp_port in before & after
    assert out.data["services"][0]["active"] is True
    assert out.data["services"][0]["method"] == ("systemd" if os.path.isdir(
        "/run/systemd/system") else "process")


def test_proc_net_reads_only_listeners_with_their_owners():
    """Real sockets of this process: listeners on v4/v6 TCP and UDP are found with our pid;
    established connections and a connected UDP socket are not; the same as psutil's
    full walk for our pid."""
    from hostpatrol.agent.checks.ports import linux as ports_linux

    opened = []

    def keep(s: socket.socket) -> socket.socket:
        opened.append(s)
        return s

    try:
        tcp4 = keep(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        tcp4.bind(("127.0.0.1", 0))
        tcp4.listen(64)
        tcp6 = keep(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        tcp6.bind(("::1", 0))
        tcp6.listen(1)
        udp4 = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp4.bind(("127.0.0.1", 0))
        talker = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        talker.bind(("127.0.0.1", 0))
        talker.connect(udp4.getsockname())  # connected: not a listener
        for _ in range(50):  # established connections on both ends: not listeners
            keep(socket.create_connection(tcp4.getsockname()))
            keep(tcp4.accept()[0])
        me = os.getpid()
        rows = {(proto, fam, addr, port) for proto, fam, addr, port, pid
                in ports_linux.listening_sockets() if pid == me}
        assert rows == {
            ("tcp", socket.AF_INET, "127.0.0.1", tcp4.getsockname()[1]),
            ("tcp", socket.AF_INET6, "::1", tcp6.getsockname()[1]),
            ("udp", socket.AF_INET, "127.0.0.1", udp4.getsockname()[1]),
        }
        proc = PortsCheck({})
        ours = {x for x in ports.listeners(ports.proc_net_connections(), ports.psutil_proc)
                if x.pid == me}
        walked = {x for x in ports.listeners(ports.psutil_connections(), ports.psutil_proc)
                  if x.pid == me}
        assert ours == walked
        assert len(ours) == 3
        assert proc.connections is ports.host_connections
    finally:
        for s in opened:
            s.close()


def test_proc_net_addresses_decode_in_host_byte_order():
    from hostpatrol.agent.checks.ports import linux as ports_linux

    # proc(5): 32-bit words in host order; this machine is little-endian
    assert sys.byteorder == "little"
    assert ports_linux.decode_address("0100007F", socket.AF_INET) == "127.0.0.1"
    assert ports_linux.decode_address("3500007F", socket.AF_INET) == "127.0.0.53"
    assert ports_linux.decode_address("00000000000000000000000001000000",
                                      socket.AF_INET6) == "::1"
    assert ports_linux.decode_address("0000000000000000FFFF00000100007F",
                                      socket.AF_INET6) == "::ffff:127.0.0.1"
