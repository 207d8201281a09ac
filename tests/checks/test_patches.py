"""patches: parsers on recorded outputs, the check with injected OS, and for real on this host."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.base import CheckSkipped
from hostpatrol.agent.checks.patches.apt import (
    is_security_origin,
    parse_apt_simulation,
    parse_dpkg_log,
)
from hostpatrol.agent.checks.patches.check import PatchesCheck, kernel_facts, pick_manager
from hostpatrol.agent.checks.patches.model import split_nevra
from hostpatrol.agent.checks.patches.rpm import (
    mark_security,
    parse_dnf_check_update,
    parse_metadata_age,
    parse_needs_restarting,
    parse_rpm_last,
    parse_updateinfo,
    parse_zypper_patches,
    parse_zypper_updates,
)
from hostpatrol.agent.checks.patches.winmac import parse_softwareupdate, parse_windows_updates
from hostpatrol.agent.commands import CommandResult, CommandTimeout, run_command
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "patches"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("patches"))
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# --- apt ---------------------------------------------------------------------------------


def test_apt_simulation_real_bookworm_output():
    text = fixture("apt_dist_upgrade_bookworm.txt")
    updates, new, kept = parse_apt_simulation(text)
    inst = [line for line in text.splitlines() if line.startswith("Inst ")]
    assert len(updates) == len(inst) > 100
    assert new == []
    assert kept == []
    sec = {u.name for u in updates if u.security}
    assert len(sec) == sum("-security" in line for line in inst)
    by_name = {u.name: u for u in updates}
    apt = by_name["apt"]
    assert (apt.installed, apt.candidate, apt.arch) == ("2.6.1", "2.6.2", "amd64")
    assert apt.origin == "Debian-Security:12/oldstable-security"
    assert apt.security
    assert not by_name["libcap2"].security  # Debian:12.15/oldstable only
    both = by_name["libgnutls30"]  # in oldstable and oldstable-security, trailing " []"
    assert both.security
    assert "Debian:12.15/oldstable" in both.origin


def test_apt_origin_rule_matches_pockets_not_package_names():
    # Constructed origin strings in the Inst-line format (Ubuntu, ESM, Debian labels).
    assert is_security_origin("Ubuntu:22.04/jammy-security")
    assert is_security_origin("UbuntuESMApps:22.04/jammy-apps-security")
    assert is_security_origin("Debian-Security:12/bookworm-security")
    assert not is_security_origin("Ubuntu:22.04/jammy-updates")
    assert not is_security_origin("Debian:12.15/oldstable")


def test_apt_simulation_new_packages_and_kept_back():
    # Constructed: an Inst line without [old] (new dependency) and a kept-back block.
    text = ("The following packages have been kept back:\n  cloud-init libudev1\n  udev\n"
            "Inst curl (7.81.0-1ubuntu1.18 Ubuntu:22.04/jammy-updates, "
            "Ubuntu:22.04/jammy-security [amd64])\n"
            "Inst libcurl4 [7.81.0-1ubuntu1.17] (7.81.0-1ubuntu1.18 "
            "Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])\n")
    updates, new, kept = parse_apt_simulation(text)
    assert new == ["curl"]
    assert kept == ["cloud-init", "libudev1", "udev"]
    assert [(u.name, u.security) for u in updates] == [("libcurl4", True)]


def test_dpkg_log_newest_install_or_upgrade():
    last = parse_dpkg_log(fixture("dpkg_log_bookworm.txt"))
    lines = [x for x in fixture("dpkg_log_bookworm.txt").splitlines()
             if " install " in x or " upgrade " in x]
    assert last is not None
    ts, rest = lines[-1][:19], lines[-1][20:].split()
    assert (last["action"], last["package"], last["version"]) == (rest[0], rest[1], rest[3])
    assert last["action"] in {"install", "upgrade"}
    assert datetime.fromisoformat(last["at"]).replace(tzinfo=None) == \
        datetime.strptime(ts, "%Y-%m-%d %H:%M:%S")
    assert parse_dpkg_log("2026-11-28 13:52:38 status installed dbus:amd64 1.14\n") is None


# --- dnf / yum / zypper ------------------------------------------------------------------


def test_dnf_check_update_fedora():
    ups = parse_dnf_check_update(fixture("dnf_check_update_fedora25.txt"))
    assert len(ups) == 10
    assert (ups[0].name, ups[0].arch, ups[0].candidate, ups[0].origin) == \
        ("PackageKit", "x86_64", "1.1.4-2.fc25", "updates")
    assert ups[-1].name == "cockpit-ws"
    age = parse_metadata_age(fixture("dnf_check_update_fedora25.txt"))
    assert age == timedelta(minutes=7, seconds=38)
    assert parse_metadata_age("Last metadata expiration check: 2 days, 3:04:05 ago on …") == \
        timedelta(days=2, hours=3, minutes=4, seconds=5)


def test_dnf_check_update_wrapped_long_name():
    # Constructed: dnf wraps the columns of a name too long for its column.
    text = "python3-a-very-long-package-name-indeed.noarch\n    1.2-3.el9   appstream\n"
    ups = parse_dnf_check_update(text)
    assert [(u.name, u.candidate, u.origin) for u in ups] == \
        [("python3-a-very-long-package-name-indeed", "1.2-3.el9", "appstream")]


def test_yum_updateinfo_security_el7():
    advs = parse_updateinfo(fixture("yum_updateinfo_security_el7.txt"))
    ids = [a.id for a in advs]
    assert len(ids) == 12
    assert ids[0] == "RHSA-2014:1031"
    first = advs[0]
    assert first.security
    assert first.severity == "Important"
    assert first.packages == ("389-ds-base-1.3.1.6-26.el7_0.x86_64",
                              "389-ds-base-libs-1.3.1.6-26.el7_0.x86_64")
    assert {a.severity for a in advs} == {"Important", "Moderate"}


def test_dnf_updateinfo_fedora_and_dnf5():
    (adv,) = parse_updateinfo(fixture("dnf_updateinfo_security_fedora.txt"))
    assert (adv.id, adv.severity, adv.security) == ("FEDORA-2017-ad1937a146", "Moderate", True)
    five = parse_updateinfo(fixture("dnf5_updateinfo_list.txt"))
    assert [a.id for a in five] == ["FEDORA-2018-318f184112", "FEDORA-2999:002-02"]
    assert not any(a.security for a in five)  # enhancements, not security


def test_mark_security_joins_advisories_by_package_name():
    ups = parse_dnf_check_update("389-ds-base.x86_64  1.3.8.4-15.el7  rhel-7-server-rpms\n"
                                 "bash.x86_64  4.2.46-34.el7  rhel-7-server-rpms\n")
    marked = mark_security(ups, parse_updateinfo(fixture("yum_updateinfo_security_el7.txt")))
    ds, bash = marked
    assert ds.security
    assert "RHSA-2018:3127" in ds.advisories
    assert not bash.security
    assert split_nevra("openssl-1:3.0.7-17.el9_2.x86_64") == ("openssl", "1:3.0.7-17.el9_2",
                                                               "x86_64")


def test_needs_restarting_and_rpm_last_alma():
    reboot, pkgs = parse_needs_restarting(1, fixture("needs_restarting_alma8.txt"))
    assert reboot is True
    assert pkgs == ["glibc", "linux-firmware"]
    assert parse_needs_restarting(0, "No core libraries or services have been updated.\n") == \
        (False, [])
    assert parse_needs_restarting(2, "")[0] is None
    last = parse_rpm_last(fixture("rpm_last_alma8.txt"))
    assert last is not None
    assert last["package"] == "linux-firmware"
    assert datetime.fromisoformat(last["at"]).replace(tzinfo=None) == \
        datetime(2023, 10, 7, 8, 25, 51)


def test_zypper_updates_sle12_and_leap16():
    sle = parse_zypper_updates(fixture("zypper_list_updates_sle12.xml"))
    assert [u.name for u in sle] == ["SUSEConnect", "bind-libs", "bind-utils"]
    assert sle[1].candidate == "9.9.6P1-35.1"
    assert sle[1].origin == "SLE12-SP1-x86_64-Update"
    assert sle[1].installed is None  # old zypper gives no edition-old
    leap = parse_zypper_updates(fixture("zypper_list_updates_leap16.xml"))
    assert len(leap) == 4
    assert (leap[0].name, leap[0].installed, leap[0].candidate) == \
        ("kernel-default", "6.12.0-160000.7.1", "6.12.0-160000.8.1")


def test_zypper_security_patches_leap16():
    (p,) = parse_zypper_patches(fixture("zypper_list_patches_security_leap16.xml"))
    assert (p.id, p.severity, p.security) == ("openSUSE-Leap-16.0-112", "important", True)
    assert p.cves == ("CVE-2025-11234", "CVE-2025-12464")


# --- Windows / macOS ---------------------------------------------------------------------


def test_windows_updates_server2019():
    ups, extras = parse_windows_updates(fixture("windows_update_server2019.json"))
    assert extras == {}
    assert len(ups) == 5
    assert ups[0].advisories == ("KB4467708",)
    assert [u.name for u in ups if u.security] == [
        "2018-11 Security Update for Adobe Flash Player for Windows Server 2019 "
        "for x64-based Systems (KB4477029)"]


def test_windows_update_object_and_single_item_flattening():
    # Constructed in the shape of our script's ConvertTo-Json output; a one-element
    # array comes out as a bare value.
    text = ('{"Updates":{"Title":"2024-01 Cumulative Update (KB5034127)","KBArticleIDs":"5034127",'
            '"MsrcSeverity":"Critical","Categories":"Security Updates"},'
            '"RebootRequired":true,"LastSearchSuccessDate":"2024-01-10T08:00:00.0000000Z"}')
    (u,), extras = parse_windows_updates(text)
    assert u.security
    assert u.severity == "Critical"
    assert u.advisories == ("KB5034127",)
    assert extras["RebootRequired"] is True
    (plain,), _ = parse_windows_updates(
        '[{"Title":"Feature Update","KBArticleIDs":[],"MsrcSeverity":null,'
        '"Categories":["Feature Packs"]}]')
    assert not plain.security


@pytest.mark.parametrize(("name", "title", "version"), [
    ("macos_softwareupdate_bigsur.txt", "macOS Big Sur 11.1 Beta 2", "11.1"),
    ("macos_softwareupdate_catalina.txt", "Safari", "14.0"),
    ("macos_softwareupdate_mojave.txt", "Safari", "14.0"),
])
def test_softwareupdate_layouts(name, title, version):
    (u,) = parse_softwareupdate(fixture(name))
    assert (u.name, u.candidate, u.security) == (title, version, False)
    assert u.origin
    assert u.origin.startswith(("macOS Big Sur", "Safari14.0"))


# --- the check with injected OS -----------------------------------------------------------


class FakeRun:
    """Answers commands from a table; records what was run and with which timeout."""

    def __init__(self, answers: dict[str, CommandResult | Exception]) -> None:
        self.answers, self.calls = answers, []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append((tuple(argv), timeout))
        ans = next((self.answers[k] for k in (" ".join(argv[:3]), " ".join(argv[:2]), argv[0])
                    if k in self.answers), None)
        if isinstance(ans, Exception):
            raise ans
        if ans is None:
            return CommandResult(tuple(argv), 0, "", "")
        return ans


def ok(out: str, rc: int = 0) -> CommandResult:
    return CommandResult((), rc, out, "")


def make(run, *, tools=("apt-get",), system="Linux", files=None, mtimes=None, globs=None,
         config=None, release="6.1.0-9-amd64", ctimes=None):
    files, mtimes, globs = files or {}, mtimes or {}, globs or {}
    return PatchesCheck(
        config, run=run, which=lambda t: f"/usr/bin/{t}" if t in tools else None,
        system=lambda: system, release=lambda: release, now=lambda: NOW,
        read=files.get, mtime=mtimes.get, glob=lambda p: globs.get(p, []),
        ctime=(mtimes if ctimes is None else ctimes).get,
    )


def test_check_apt_injected_security_fails_and_facts_reported():
    run = FakeRun({"apt-get": ok(fixture("apt_dist_upgrade_bookworm.txt")),
                   "apt-mark": ok("linux-image-amd64\n")})
    lists = "/var/lib/apt/lists/*Release"
    release = "/var/lib/apt/lists/x_InRelease"
    check = make(run, files={"/var/log/dpkg.log": fixture("dpkg_log_bookworm.txt"),
                             "/var/run/reboot-required.pkgs": "linux-image-6.1\nlinux-image-6.1\n"},
                 mtimes={release: (NOW - timedelta(days=10)).timestamp(),
                         "/var/run/reboot-required": 1.0},
                 globs={lists: [release], "/boot/vmlinuz-*": [
                     "/boot/vmlinuz-6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-18-amd64"]})
    out = check.collect()
    d = out.data
    VALIDATOR.validate(d)
    assert out.status == "fail"
    assert d["manager"] == "apt"
    assert d["security_count"] > 0
    assert d["updates"][0]["security"]
    assert d["held"] == ["linux-image-amd64"]
    assert d["index"]["age_days"] == 10.0
    assert d["reboot"] == {
        "required": True, "packages": ["linux-image-6.1"]}
    assert d["kernel"]["newest_installed"] == "6.1.0-18-amd64"
    assert d["kernel"]["update_pending"]
    assert d["last_package_change"]["source"] == "/var/log/dpkg.log"
    assert any("index is 10.0 days old" in r for r in d["reasons"])
    assert all(t == 60.0 for _, t in run.calls)
    assert any(c[0][:2] == ("apt-get", "-s") for c in run.calls)
    assert not any("update" == a for c in run.calls for a in c[0][1:2])  # never refreshes
    relaxed = make(run, config={"fail_on_security": False, "index_max_age_days": 30},
                   mtimes={release: (NOW - timedelta(days=10)).timestamp()},
                   globs={lists: [release]}).collect()
    assert relaxed.status == "warn"
    assert not any("index" in r for r in relaxed.data["reasons"])


def test_check_hung_package_manager_is_data_not_crash():
    run = FakeRun({"apt-get": CommandTimeout("apt-get: no answer within 60s (killed)")})
    out = make(run).collect()
    VALIDATOR.validate(out.data)
    assert out.status == "warn"
    assert out.data["errors"] == ["apt-get: no answer within 60s (killed)"]
    assert out.data["pending_count"] == 0


def test_check_real_slow_command_is_killed_at_the_configured_timeout():
    def slow(argv: Sequence[str], timeout: float) -> CommandResult:
        return run_command(["sleep", "30"], timeout)  # a real hung process
    started = time.monotonic()
    out = make(slow, config={"command_timeout": 0.5}).collect()
    assert time.monotonic() - started < 10
    VALIDATOR.validate(out.data)
    assert out.status == "warn"
    assert out.data["errors"][0] == "sleep: no answer within 0.5s (killed)"


def test_check_dnf_zypper_windows_macos_injected():
    dnf = FakeRun({
        "dnf -C check-update": ok(fixture("dnf_check_update_fedora25.txt"), 100),
        "dnf -C updateinfo": ok(fixture("dnf_updateinfo_security_fedora.txt")),
        "needs-restarting": ok(fixture("needs_restarting_alma8.txt"), 1),
        "rpm": ok(fixture("rpm_last_alma8.txt")),
    })
    out = make(dnf, tools=("dnf", "yum")).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "dnf"
    assert out.data["pending_count"] == 10
    assert out.data["errors"] == []
    assert out.data["security_advisory_count"] == 1
    assert out.status == "fail"
    assert out.data["last_package_change"]["package"] == "linux-firmware"
    assert out.data["reboot"]["required"] is True
    assert out.data["index"]["updated_at"] == "2026-11-28T11:52:22.000Z"
    assert ("dnf", "-C", "check-update") in [c[0] for c in dnf.calls]
    zyp = FakeRun({"zypper --non-interactive": ok(fixture("zypper_list_updates_leap16.xml"))})
    out = make(zyp, tools=("zypper",)).collect()
    VALIDATOR.validate(out.data)
    assert out.data["manager"] == "zypper"
    assert out.data["pending_count"] == 4
    assert all("--no-refresh" in c[0] for c in zyp.calls if c[0][1:2] == ("--non-interactive",))
    win = FakeRun({"powershell": ok(fixture("windows_update_server2019.json"))})
    out = make(win, tools=("powershell",), system="Windows").collect()
    VALIDATOR.validate(out.data)
    assert out.status == "fail"
    assert out.data["security_count"] == 1
    assert out.data["kernel"]["running"] is None
    mac = FakeRun({"softwareupdate": ok(fixture("macos_softwareupdate_bigsur.txt"))})
    out = make(mac, tools=("softwareupdate",), system="Darwin").collect()
    VALIDATOR.validate(out.data)
    assert out.status == "warn"
    assert out.data["pending_count"] == 1


def test_no_package_manager_skips():
    with pytest.raises(CheckSkipped, match="no supported package manager"):
        make(FakeRun({}), tools=()).collect()
    assert pick_manager("Linux", lambda t: t if t == "yum" else None) == "yum"
    assert pick_manager("Windows", lambda t: None) is None


def test_frozen_mirror_is_not_an_old_index():
    # the mirror last changed 40 days ago; this host fetched its Release files an hour ago
    lists = "/var/lib/apt/lists/*Release"
    release = "/var/lib/apt/lists/x_InRelease"
    run = FakeRun({"apt-get": ok(""), "apt-mark": ok("")})
    d = make(run, mtimes={release: (NOW - timedelta(days=40)).timestamp()},
             ctimes={release: (NOW - timedelta(hours=1)).timestamp()},
             globs={lists: [release]}).collect().data
    assert d["index"]["age_days"] == round(1 / 24, 3)
    assert not any("index" in r for r in d["reasons"])


def test_held_security_update_stays_counted_and_named():
    sim = ("Inst libzstd1 [1.5.4+dfsg2-5] (1.5.4+dfsg2-5+deb12u1 Debian-Security:12/"
           "oldstable-security [amd64])\n")
    run = FakeRun({"apt-mark": ok("libzstd1\n")})
    calls = []

    def apt(argv, timeout):
        calls.append(list(argv))
        return ok(sim if "--ignore-hold" in argv else "")

    def both(argv, timeout):
        return apt(argv, timeout) if argv[0] == "apt-get" else run(argv, timeout)

    out = make(both).collect()
    VALIDATOR.validate(out.data)
    d = out.data
    assert [c for c in calls if "--ignore-hold" in c]
    assert (d["security_count"], d["pending_count"]) == (1, 1)
    assert d["updates"][0]["held"] is True
    assert d["held_security"] == ["libzstd1"]
    assert any("held back by apt-mark hold: libzstd1" in r for r in d["reasons"])
    assert out.status == "fail"


def test_kernel_facts_natural_order_and_rescue():
    k = kernel_facts("5.14.0-70.el9.x86_64", [
        "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64", "/boot/vmlinuz-5.14.0-70.el9.x86_64",
        "/boot/vmlinuz-0-rescue-0123456789abcdef"])
    assert k["newest_installed"] == "5.14.0-362.8.1.el9_3.x86_64"
    assert k["update_pending"]
    assert kernel_facts("6.1.0-18-amd64", [])["update_pending"] is None


# --- for real on this Debian host ---------------------------------------------------------


def _apt_list_upgradable() -> dict[str, list[str]]:
    out = subprocess.run(["apt", "list", "--upgradable"], capture_output=True, text=True,
                         check=True, env={**os.environ, "LC_ALL": "C"}).stdout
    rows = {}
    for line in out.splitlines():
        if "/" in line and "[upgradable from" in line:
            name, _, rest = line.partition("/")
            rows[name] = rest.split()[0].split(",")
    return rows


def _apt_get_upgrade_names() -> set[str]:
    out = subprocess.run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "LC_ALL": "C"}).stdout
    return {line.split()[1] for line in out.splitlines()
            if line.startswith("Inst ") and " [" in line.split("(")[0]}


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="Debian/Ubuntu only")
def test_real_host_agrees_with_apt_list_and_apt_get_upgrade():
    # Other processes may install packages meanwhile: compare snapshots taken together.
    for _attempt in range(3):
        before = _apt_list_upgradable()
        out = PatchesCheck().collect()
        listed = _apt_list_upgradable()
        upgrade = _apt_get_upgrade_names()
        if before == listed:
            break
    d = out.data
    VALIDATOR.validate(d)
    ours = {u["name"] for u in d["updates"]}
    assert d["manager"] == "apt"
    assert d["errors"] == []
    assert ours | set(d["kept_back"]) | (set(d["held"]) & set(listed)) == set(listed)
    assert d["pending_count"] == len(ours)
    assert upgrade <= ours
    sec_listed = {n for n, suites in listed.items() if any(s.endswith("-security")
                                                           for s in suites)}
    assert {u["name"] for u in d["updates"] if u["security"]} == sec_listed & ours
    assert d["security_count"] == len(sec_listed & ours)
    expected = "fail" if sec_listed & ours else ("warn" if ours else None)
    if expected:
        assert out.status == expected


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="Debian/Ubuntu only")
def test_real_host_index_age_dpkg_log_and_reboot_flag():
    out = PatchesCheck().collect()
    d = out.data
    lists = sorted(str(p) for p in Path("/var/lib/apt/lists").glob("*Release"))
    assert lists, "this Debian host has apt lists"
    # stat's %Z: when this host wrote the file (apt sets %Y, the mtime, to the mirror's time)
    ctimes = [int(x) for x in subprocess.run(["stat", "-c", "%Z", *lists], capture_output=True,
                                             text=True, check=True).stdout.split()]
    newest = datetime.fromtimestamp(max(ctimes), UTC)
    age = (datetime.now(UTC) - newest).total_seconds() / 86400
    assert abs(d["index"]["age_days"] - age) < 0.01
    assert "written here" in d["index"]["source"]
    assert d["reboot"]["required"] == Path("/var/run/reboot-required").exists()
    log = Path("/var/log/dpkg.log").read_text(errors="replace").splitlines()
    changes = [x for x in log if " install " in x or " upgrade " in x]
    if changes:
        assert d["last_package_change"]["package"] in {x.split()[3] for x in changes[-50:]}
    assert d["kernel"]["running"] == os.uname().release
