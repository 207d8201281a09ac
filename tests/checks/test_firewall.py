"""firewall check: parsers on recorded outputs, injected tools, and a real netns firewall."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.firewall.check import FirewallCheck
from hostpatrol.agent.checks.firewall.parsers import (
    parse_firewalld_state,
    parse_iptables_s,
    parse_nft_json,
    parse_socketfilterfw,
    parse_ufw_status,
    parse_windows_profiles,
)
from hostpatrol.agent.commands import CommandNotFound, CommandResult, run_command
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "firewall"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("firewall")).validate(data)


def test_nft_input_chain_with_drop_policy() -> None:
    r = parse_nft_json(fixture("nft_input_drop.json"))
    assert r is not None
    assert (r.tool, r.active, r.default_inbound, r.rules) == ("nftables", True, "drop", 3)


def test_nft_empty_ruleset_filters_nothing() -> None:
    r = parse_nft_json(fixture("nft_empty.json"))
    assert r is not None
    assert (r.active, r.default_inbound, r.rules) == (False, None, 0)
    assert parse_nft_json("Error: Could not process rule: Operation not permitted") is None


def test_nft_accept_policy_with_a_drop_rule_is_active() -> None:
    doc = ('{"nftables": [{"chain": {"family": "inet", "table": "t", "name": "in", '
           '"hook": "input", "policy": "accept"}}, {"rule": {"family": "inet", "table": "t", '
           '"chain": "in", "expr": [{"drop": null}]}}]}')
    r = parse_nft_json(doc)
    assert r is not None
    assert (r.active, r.default_inbound, r.rules) == (True, "accept", 1)


def test_iptables_policies() -> None:
    drop = parse_iptables_s(fixture("iptables_S_drop.txt"))
    assert drop is not None
    assert (drop.active, drop.default_inbound, drop.rules) == (True, "drop", 2)
    accept = parse_iptables_s(fixture("iptables_S_accept.txt"))
    assert accept is not None
    assert (accept.active, accept.default_inbound, accept.rules) == (False, "accept", 0)
    assert parse_iptables_s("iptables v1.8.9 (nf_tables): Permission denied (you must be root)") \
        is None


def test_ufw_active_and_inactive() -> None:
    on = parse_ufw_status(fixture("ufw_status_verbose_active.txt"))
    assert on is not None
    assert (on.active, on.default_inbound, on.rules) == (True, "deny", 4)
    off = parse_ufw_status(fixture("ufw_status_inactive.txt"))
    assert off is not None
    assert (off.active, off.rules) == (False, 0)


def test_firewalld_state_and_zone() -> None:
    running = parse_firewalld_state("running\n", "public\n")
    assert running is not None
    assert (running.active, running.default_inbound) == (True, "reject")
    trusted = parse_firewalld_state("running\n", "trusted\n")
    assert trusted is not None
    assert trusted.active is False
    stopped = parse_firewalld_state("not running\n")
    assert stopped is not None
    assert stopped.active is False
    assert parse_firewalld_state("FirewallD is not running\n") is None


def test_windows_profiles_json() -> None:
    r = parse_windows_profiles(fixture("windows_profiles_constructed.json"))
    assert r is not None
    assert r.active is False  # the Public profile is off in this sample
    assert r.detail == "profiles off: Public"
    assert parse_windows_profiles("Get-NetFirewallProfile : Access is denied.") is None


def test_macos_application_firewall_states() -> None:
    on = parse_socketfilterfw(fixture("socketfilterfw_state2.txt"))
    assert on is not None
    assert (on.active, on.default_inbound) == (True, "block")
    off = parse_socketfilterfw(fixture("socketfilterfw_state0.txt"))
    assert off is not None
    assert off.active is False


class FakeRun:
    """argv -> (rc, stdout, stderr); anything else is not installed."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str, str]]) -> None:
        self.answers = answers

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        if tuple(argv) not in self.answers:
            msg = f"{argv[0]}: command not found"
            raise CommandNotFound(msg)
        return CommandResult(tuple(argv), *self.answers[tuple(argv)])


def test_without_root_it_says_needs_root() -> None:
    run = FakeRun({
        ("nft", "-j", "list", "ruleset"): (1, "", "Error: Operation not permitted\n"),
        ("iptables", "-S"): (4, "", "iptables v1.8.9 (nf_tables): Permission denied "
                                    "(you must be root)\n"),
    })
    out = FirewallCheck(run=run, system=lambda: "Linux").collect()
    assert out.status == "warn"
    assert out.data["needs_root"] is True
    assert out.data["summary"] == "needs root to list firewall rules"
    assert [u["needs_root"] for u in out.data["unavailable"][:2]] == [True, True]
    validate(out.data)


def test_no_tool_and_inactive_firewall() -> None:
    out = FirewallCheck(run=FakeRun({}), system=lambda: "Linux").collect()
    assert (out.status, out.data["summary"]) == ("warn", "no firewall tool found")
    validate(out.data)
    run = FakeRun({("ufw", "status", "verbose"): (0, fixture("ufw_status_inactive.txt"), "")})
    off = FirewallCheck(run=run, system=lambda: "Linux").collect()
    assert off.status == "fail"
    assert off.data["active"] is False
    validate(off.data)


def test_macos_and_firewalld_paths() -> None:
    mac = FakeRun({("/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"):
                   (0, fixture("socketfilterfw_state2.txt"), "")})
    out = FirewallCheck(run=mac, system=lambda: "Darwin").collect()
    assert (out.status, out.data["firewalls"][0]["tool"]) == ("ok", "macos-application-firewall")
    validate(out.data)
    fwd = FakeRun({("firewall-cmd", "--state"): (0, "running\n", ""),
                   ("firewall-cmd", "--get-default-zone"): (0, "public\n", "")})
    out = FirewallCheck(run=fwd, system=lambda: "Linux").collect()
    assert out.status == "ok"
    assert out.data["summary"] == "inbound filtering by firewalld"
    validate(out.data)


@pytest.fixture
def netns() -> Iterator[str]:
    """A private network namespace, so the host's own firewall is never touched."""
    name = f"hp-fw-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def in_netns(name: str):
    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        res = run_command(["ip", "netns", "exec", name, *argv], timeout)
        return CommandResult(tuple(argv), res.returncode, res.stdout, res.stderr)
    return run


def test_real_nft_drop_policy_in_a_namespace(netns: str) -> None:
    empty = FirewallCheck(run=in_netns(netns)).collect()
    assert empty.status == "fail"
    assert empty.data["active"] is False
    validate(empty.data)
    rules = ("table inet hptest {\n chain input {\n  type filter hook input priority 0; "
             "policy drop;\n  iif \"lo\" accept\n  tcp dport 22 accept\n }\n}\n")
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=rules, text=True,
                   check=True, timeout=30)
    listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset"],
                            capture_output=True, text=True, check=True, timeout=30).stdout
    expected = parse_nft_json(listed)
    assert expected is not None
    out = FirewallCheck(run=in_netns(netns)).collect()
    assert out.status == "ok"
    assert out.data["active"] is True
    nft = [f for f in out.data["firewalls"] if f["tool"] == "nftables"][0]
    assert nft == expected.to_dict()
    assert nft["default_inbound"] == "drop"
    validate(out.data)


def test_real_iptables_drop_policy_in_a_namespace(netns: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "iptables", "-P", "INPUT", "DROP"],
                   check=True, timeout=30)
    out = FirewallCheck(run=in_netns(netns)).collect()
    ipt = [f for f in out.data["firewalls"] if f["tool"] == "iptables"][0]
    assert (ipt["active"], ipt["default_inbound"]) == (True, "drop")
    assert out.status == "ok"
    validate(out.data)


def test_real_host_matches_nft_listing() -> None:
    out = FirewallCheck().collect()
    validate(out.data)
    listed = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True,
                            check=False, timeout=30)
    mine = [f for f in out.data["firewalls"] if f["tool"] == "nftables"]
    if listed.returncode == 0:
        expected = parse_nft_json(listed.stdout)
        assert expected is not None
        assert mine == [expected.to_dict()]
    else:
        assert not mine
