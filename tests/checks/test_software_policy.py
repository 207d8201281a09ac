"""software_policy: list parsers on recorded outputs, policy logic, and for real vs dpkg-query."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import jsonschema
from hostpatrol.agent.checks import software_policy as sp
from hostpatrol.agent.commands import CommandResult, CommandTimeout
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "software_policy"


def validate(data):
    jsonschema.Draft202012Validator(load_schema("software_policy")).validate(data)


def test_dpkg_parser_on_recorded_output():
    text = (FIX / "debian12_dpkg_query.txt").read_text()
    pkgs = sp.list_installed_dpkg(text)
    assert len(pkgs) == len(text.splitlines())
    assert all(p.arch in ("amd64", "all") for p in pkgs)
    assert sp.list_installed_dpkg("foo\t1.0\tamd64\trc \nbar\t2.0\tall\tii \n") == [
        sp.Package("bar", "2.0", "all")]


def test_rpm_parser_on_recorded_rhel_output():
    pkgs = sp.list_installed_rpm((FIX / "rhel_rpm_qa.txt").read_text())
    assert len(pkgs) == 18
    assert pkgs[0] == sp.Package("basesystem", "8.0-5.1.1", "noarch")
    assert sp.Package("xz", "4.999.9-0.5.beta.20091007git.el6", "x86_64") in pkgs
    assert sp.list_installed_rpm("bind 32 9.11.4 26.P2.el7 x86_64\ngpg-pubkey (none) "
                                 "fd431d51 4ae0493b (none)\n") == [
        sp.Package("bind", "32:9.11.4-26.P2.el7", "x86_64"),
        sp.Package("gpg-pubkey", "fd431d51-4ae0493b", None)]


def test_windows_and_macos_parsers_on_recorded_outputs():
    win = sp.list_installed_windows((FIX / "windows_uninstall.json").read_text())
    assert [p.name for p in win] == [
        "Microsoft .NET Runtime - 8.0.30 (arm64)", "Microsoft .NET Host - 8.0.30 (arm64)",
        "Microsoft .NET Host FX Resolver - 8.0.30 (arm64)",
        "Microsoft .NET Runtime - 8.0.30 (arm64)"]
    assert win[3].version == "8.0.30.36317"
    mac = sp.list_installed_macos((FIX / "macos_applications.json").read_text())
    assert mac == [sp.Package("Installer", "6.2.0"), sp.Package("TextEdit", "1.17")]


def test_violations_deny_allow_and_case():
    pkgs = [sp.Package("Steam", "1.0"), sp.Package("bash", "5.2"), sp.Package("nethack", "3.6")]
    v = sp.violations(pkgs, allow=[], deny=["steam*", "*hack"])
    assert [(x["name"], x["rule"], x["pattern"]) for x in v] == [
        ("Steam", "deny", "steam*"), ("nethack", "deny", "*hack")]
    v = sp.violations(pkgs, allow=["bash", "steam"], deny=["nethack"])
    assert [(x["name"], x["rule"]) for x in v] == [("nethack", "deny")]
    v = sp.violations(pkgs, allow=["bash"], deny=[])
    assert [(x["name"], x["rule"]) for x in v] == [("Steam", "not_allowed"),
                                                    ("nethack", "not_allowed")]


def test_fingerprint_is_order_independent_and_sees_version_drift():
    a = [sp.Package("a", "1"), sp.Package("b", "2")]
    assert sp.fingerprint(a) == sp.fingerprint(list(reversed(a)))
    assert sp.fingerprint(a) == hashlib.sha256(b"a=1\nb=2").hexdigest()
    assert sp.fingerprint(a) != sp.fingerprint([sp.Package("a", "1"), sp.Package("b", "3")])


def test_check_on_recorded_rpm_output_and_statuses():
    text = (FIX / "rhel_rpm_qa.txt").read_text()

    def run(argv, timeout):
        assert list(argv) == list(sp.RPM_ARGV)
        return CommandResult(tuple(argv), 0, text, "")

    out = sp.SoftwarePolicyCheck({"deny": ["gcc*"]}, run=run, manager=lambda: "rpm").collect()
    validate(out.data)
    assert out.status == "fail"
    assert out.data["installed_count"] == 18
    assert out.data["denied_count"] == 1
    assert out.data["violations"][0]["name"] == "gcc"
    out = sp.SoftwarePolicyCheck({"allow": ["*"], "deny": []}, run=run,
                                 manager=lambda: "rpm").collect()
    assert out.status == "ok"
    out = sp.SoftwarePolicyCheck({"allow": ["bash", "zlib"]}, run=run,
                                 manager=lambda: "rpm").collect()
    assert out.status == "warn"
    assert out.data["not_allowed_count"] == 16


def test_timeout_is_reported_as_data():
    def run(argv, timeout):
        raise CommandTimeout("dpkg-query: no answer within 110s (killed)")

    out = sp.SoftwarePolicyCheck({}, run=run, manager=lambda: "dpkg-query").collect()
    validate(out.data)
    assert out.status == "warn"
    assert "no answer" in out.data["error"]
    assert out.data["fingerprint"] is None


def test_real_host_matches_dpkg_query():
    out = sp.SoftwarePolicyCheck({"deny": ["coreutils", "nonexistent-game-*"]}).collect()
    validate(out.data)
    raw = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version} ${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    installed = [line.split()[0] for line in raw.splitlines() if line.endswith(" installed")]
    assert out.data["installed_count"] == len(installed)
    expected = hashlib.sha256("\n".join(sorted(set(installed))).encode()).hexdigest()
    assert out.data["fingerprint"] == expected
    assert [v["name"] for v in out.data["violations"]] == ["coreutils"]
    assert out.status == "fail"
