"""ports: listener extraction on recorded-shape data, services, and for real against ss."""

from __future__ import annotations

import os
import socket
import subprocess

import jsonschema
import psutil
import pytest
from hostpatrol.agent.checks.ports import Conn, PortsCheck, ProcInfo, listeners
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


def test_real_host_reports_our_socket_and_matches_ss(listening_socket):
    tcp_port, udp_port = listening_socket
    out = PortsCheck({"required_services": [psutil.Process().name()]}
                     ).collect()
    validate(out.data)
    mine = [x for x in out.data["listening"] if x["port"] == tcp_port and x["protocol"] == "tcp"]
    assert mine == [{"protocol": "tcp", "port": tcp_port, "address": "127.0.0.1",
                     "family": "ipv4", "pid": os.getpid(), "process": psutil.Process().name(),
                     "user": psutil.Process().username()}]
    assert any(x["port"] == udp_port and x["protocol"] == "udp" and x["pid"] == os.getpid()
               for x in out.data["listening"])
    ss = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True)
    ss_ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in ss.stdout.splitlines()}
    assert set(out.data["tcp_ports"]) == ss_ports
    assert out.data["services"][0]["active"] is True
    assert out.data["services"][0]["method"] == ("systemd" if os.path.isdir(
        "/run/systemd/system") else "process")
