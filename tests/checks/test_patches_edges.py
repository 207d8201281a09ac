"""patches at the edges: a held package with a security update (a real apt-mark hold on
this machine, judged against apt-get, apt-mark and apt-cache), and a kernel fixed under the
same ABI name (recorded /proc/version lines, ordered by the real dpkg)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.patches.check import PatchesCheck
from hostpatrol.agent.checks.patches.kernel import (
    package_facts,
    parse_dpkg_versions,
    running_package_version,
)
from hostpatrol.agent.checks.patches.model import Host
from hostpatrol.agent.commands import CommandResult, run_command
from hostpatrol.shared.schemas import load_schema
from machine import held, sh

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "patches"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("patches"))
needs_apt = pytest.mark.skipif(shutil.which("apt-get") is None, reason="Debian/Ubuntu only")


def test_running_package_version_from_recorded_proc_version():
    deb = (FIX / "proc_version_debian12.txt").read_text()
    assert running_package_version(deb, "6.1.0-10-amd64") == "6.1.38-2"
    ubu = (FIX / "proc_version_ubuntu2004.txt").read_text()
    assert running_package_version(ubu, "5.4.0-110-generic") == "5.4.0-110.124"
    rpi = (FIX / "proc_version_rpi_debian12.txt").read_text()
    assert running_package_version(rpi, "6.6.20+rpt-rpi-v8") == "1:6.6.20-1+rpt1"
    this = Path("/proc/version").read_text()
    assert running_package_version(this, "6.18.44-fc-v1147") is None or "Debian" in this


def _host(installed: dict[str, str], proc_version: str) -> Host:
    """dpkg-query answers from ``installed``; dpkg --compare-versions is the real dpkg."""
    def run(argv, timeout):
        if argv[0] == "dpkg-query":
            lines = [f"{n} ii  {installed[n]}" for n in argv[4:] if n in installed]
            return CommandResult(tuple(argv), 0 if lines else 1, "\n".join(lines) + "\n", "")
        return run_command(argv, timeout)
    return Host(run=run, timeout=30, read=lambda p: proc_version if p == "/proc/version" else None)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg orders Debian versions")
@pytest.mark.parametrize(("name", "release", "installed", "pending"), [
    # Debian fixed 6.1.38 under the same ABI name: /boot still says 6.1.0-10-amd64
    ("proc_version_debian12.txt", "6.1.0-10-amd64", "6.1.38-4", True),
    ("proc_version_debian12.txt", "6.1.0-10-amd64", "6.1.38-2", False),
    ("proc_version_debian12.txt", "6.1.0-10-amd64", "6.1.38-2~bpo11+1", False),
    ("proc_version_ubuntu2004.txt", "5.4.0-110-generic", "5.4.0-110.125", True),
    ("proc_version_ubuntu2004.txt", "5.4.0-110-generic", "5.4.0-110.124", False),
    ("proc_version_rpi_debian12.txt", "6.6.20+rpt-rpi-v8", "1:6.6.20-1+rpt2", True),
])
def test_same_abi_newer_build_is_a_pending_kernel(name, release, installed, pending):
    host = _host({f"linux-image-{release}": installed}, (FIX / name).read_text())
    facts = package_facts(host, release)
    assert facts["package"] == f"linux-image-{release}"
    assert facts["installed_version"] == installed
    assert facts["package_update_pending"] is pending
    gt = run_command(["dpkg", "--compare-versions", installed, "gt",
                      facts["running_version"]], 10).returncode == 0
    assert gt is pending


def test_dpkg_query_lines_and_removed_packages():
    text = "linux-image-6.1.0-9-amd64 rc  6.1.27-1\nlinux-image-6.1.0-10-amd64 ii  6.1.38-4\n"
    assert parse_dpkg_versions(text) == {"linux-image-6.1.0-10-amd64": "6.1.38-4"}


@needs_apt
def test_this_kernel_without_a_package_says_so():
    d = PatchesCheck().collect().data
    VALIDATOR.validate(d)
    release = d["kernel"]["running"]
    owner = sh("dpkg", "-S", f"/boot/vmlinuz-{release}", check=False)
    if owner.returncode != 0:  # a kernel no package installed (this VM's)
        assert d["kernel"]["package"] is None
        assert d["kernel"]["package_note"] == f"no installed package holds kernel {release}"
    else:
        assert d["kernel"]["package"] == owner.stdout.split(":")[0]


def _security_candidates() -> list[str]:
    out = sh("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade").stdout
    return [line.split()[1] for line in out.splitlines()
            if line.startswith("Inst ") and re.search(r"-security[ /\]]", line)]


@needs_apt
def test_held_package_with_security_update_stays_counted():
    candidates = _security_candidates()
    if not candidates:
        pytest.skip("no pending security update on this host to hold (CI runs apt-get update)")
    before = sh("apt-mark", "showhold").stdout.split()
    package = next(p for p in candidates if p not in before)
    base = PatchesCheck().collect().data
    with held(package):
        assert package in sh("apt-mark", "showhold").stdout.split()
        sim = sh("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade").stdout
        assert not re.search(rf"^Inst {re.escape(package)} ", sim, re.M)  # apt skips it
        policy = sh("apt-cache", "policy", package).stdout
        candidate = re.search(r"Candidate: (\S+)", policy)[1]
        out = PatchesCheck().collect()
        d = out.data
        VALIDATOR.validate(d)
        row = next(u for u in d["updates"] if u["name"] == package)
        assert (row["held"], row["security"], row["candidate"]) == (True, True, candidate)
        assert package in d["held_security"]
        # what the hold keeps out (the package and any that must move with it) still counts
        assert set(d["held_security"]) <= {u["name"] for u in base["updates"] if u["security"]}
        assert d["security_count"] == base["security_count"]
        assert d["pending_count"] == base["pending_count"]
        assert out.status == "fail"
    assert package not in sh("apt-mark", "showhold").stdout.split()
