"""patches on 信创 distributions: the manager follows the os-release, a missing one is said.

The os-release files are recorded ones (tests/fixtures/inventory/SOURCES.md). No recording
of a package manager's output on Kylin, openEuler or Anolis was found (same SOURCES.md), so
the dnf answers are the recorded Fedora/EL ones and the apt answer the recorded Debian 12
one: these tests assert which manager is asked and what the check says about the
distribution, not how Kylin's dnf prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.base import CheckFailed
from hostpatrol.agent.checks.patches.check import PatchesCheck
from hostpatrol.agent.checks.patches.distro import apt_security_known, choose, read_identity
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.agent.runner import run_one
from hostpatrol.shared.schemas import load_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("patches"))
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LISTS = "/var/lib/apt/lists/*Release"


def os_release(name: str) -> str:
    return (FIXTURES / "inventory" / name).read_text(encoding="utf-8")


def recorded(name: str) -> str:
    return (FIXTURES / "patches" / name).read_text(encoding="utf-8")


class Run:
    """Answers by the first words of the command; records what was asked."""

    def __init__(self, answers: dict[str, CommandResult]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        line = " ".join(argv)
        for key, ans in self.answers.items():
            if line.startswith(key):
                return ans
        raise CommandNotFound(f"{argv[0]}: command not found")


def ok(out: str, rc: int = 0) -> CommandResult:
    return CommandResult((), rc, out, "")


DNF = {"dnf -C check-update": ok(recorded("dnf_check_update_fedora25.txt"), 100),
       "dnf -C updateinfo": ok(recorded("dnf_updateinfo_security_fedora.txt")),
       "yum -C check-update": ok(recorded("dnf_check_update_fedora25.txt"), 100),
       "yum -C updateinfo": ok(recorded("yum_updateinfo_security_el7.txt")),
       "rpm": ok(recorded("rpm_last_alma8.txt"))}
APT = {"apt-get": ok(recorded("apt_dist_upgrade_bookworm.txt")), "apt-mark": ok("")}


def check(release: str | None, tools: Sequence[str], run: Run,
          lists: Sequence[str] = ()) -> PatchesCheck:
    files = {"/etc/os-release": os_release(release)} if release else {}
    return PatchesCheck(run=run, which=lambda t: f"/usr/bin/{t}" if t in tools else None,
                        system=lambda: "Linux", release=lambda: "4.19.90", now=lambda: NOW,
                        read=files.get, mtime=lambda p: None,
                        glob=lambda p: list(lists) if p == LISTS else [])


def test_kylin_server_asks_dnf_even_when_apt_get_is_there() -> None:
    run = Run({**DNF, **APT})
    out = check("kylin_server_v10_sword.os-release", ("dnf", "apt-get"), run).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "dnf"
    assert not any(c[0] == "apt-get" for c in run.calls)
    assert out.data["distribution"] == {
        "id": "kylin", "name": "Kylin Linux Advanced Server", "edition": "server",
        "package_family": "dnf", "domestic": True, "note": None}
    assert out.data["security_advisory_count"] == 1
    assert "unclassified_count" not in out.data


def test_kylin_desktop_v11_without_id_like_asks_apt_not_dnf() -> None:
    run = Run({**DNF, **APT})
    lists = ["/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_"
             "InRelease"]
    out = check("kylin_desktop_v11.os-release", ("dnf", "apt-get"), run, lists).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "apt"
    assert not any(c[0] == "dnf" for c in run.calls)
    assert out.data["distribution"]["edition"] == "desktop"


@pytest.mark.parametrize(("release", "tools", "wanted"), [
    ("kylin_server_v10_sword.os-release", ("apt-get",), "dnf or yum"),
    ("openeuler_24.03.os-release", ("zypper",), "dnf or yum"),
    ("anolis_8.8.os-release", (), "dnf or yum"),
    ("deepin_20.9.os-release", ("dnf",), "apt-get"),
    ("uos_server_20_fou.os-release", ("yum",), "apt-get"),
])
def test_missing_distribution_manager_is_said_not_guessed(release: str, tools: tuple,
                                                          wanted: str) -> None:
    run = Run({**DNF, **APT})
    with pytest.raises(CheckFailed, match=f"but {wanted} is not installed"):
        check(release, tools, run).collect()
    assert run.calls == []  # no other manager was asked


def test_uos_server_uel20_falls_back_to_yum_within_its_family() -> None:
    run = Run(DNF)
    out = check("uos_server_20_uel20.os-release", ("yum",), run).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "yum"
    assert out.data["distribution"]["edition"] == "uel20"


def test_uos_desktop_25_ostree_is_reported_as_unreadable() -> None:
    run = Run(APT)
    with pytest.raises(CheckFailed, match="OSTree"):
        check("uos_desktop_25.os-release", ("apt-get",), run).collect()
    assert run.calls == []


def test_runner_records_the_reason_as_the_error() -> None:
    result = run_one(check("kylin_server_v10_sword.os-release", ("apt-get",), Run(APT)))
    assert result.status == "error"
    assert result.error.startswith("Kylin Linux Advanced Server (server) is dnf-based but "
                                   "dnf or yum is not installed")


def test_unrecognised_distribution_uses_the_tool_found_and_says_so() -> None:
    out = check(None, ("apt-get",), Run(APT)).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "apt"
    assert out.data["distribution"]["note"] == (
        "distribution not recognised (ID=unknown); asked apt-get, the package manager "
        "found on this host")


def test_apt_without_security_suite_counts_unclassified_updates() -> None:
    kylin_lists = ["/var/lib/apt/lists/archive.kylinos.cn_kylin_KYLIN-ALL_dists_10.1_"
                   "InRelease"]
    out = check("kylin_desktop_v10sp1.os-release", ("apt-get",), Run(APT),
                kylin_lists).collect()
    VALIDATOR.validate(out.data)
    d = out.data
    assert d["unclassified_count"] == d["pending_count"] - d["security_count"] > 0
    assert any("cannot be told apart from security fixes" in r for r in d["reasons"])
    assert out.status == "fail"  # the Debian recording does carry -security origins


def test_apt_security_suite_detection_on_list_names() -> None:
    # The names of this Debian 12 host's /var/lib/apt/lists files (Debian and security).
    assert apt_security_known(
        ["/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease",
         "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"])
    assert not apt_security_known(
        ["/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm-updates_InRelease"])
    assert not apt_security_known([])


def test_identity_reads_usr_lib_when_etc_is_absent() -> None:
    files = {"/usr/lib/os-release": os_release("deepin_20.4.os-release")}
    ident = read_identity(files.get)
    assert (ident.distro, ident.package_family) == ("deepin", "apt")
    choice = choose(ident, lambda t: t, lambda: None)
    assert choice.manager == "apt-get"
