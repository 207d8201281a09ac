"""OS identity from recorded os-release files of 信创 and other distributions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostpatrol.agent.checks.inventory import os_facts, parse_os_release
from hostpatrol.shared.osfamily import FAMILIES, family_from_os_name, identify
from hypothesis import given
from hypothesis import strategies as st

FIX = Path(__file__).parent.parent / "fixtures" / "inventory"


def ident(name: str):
    return identify(os_facts(parse_os_release((FIX / name).read_text("utf-8")), "Linux",
                             "5.10.0"), "Linux")


# file → (distro, family, domestic, package family, desktop, edition)
EXPECTED = {
    "kylin_server_v10_sword.os-release": ("kylin", "xinchuang", True, "dnf", False, "server"),
    "kylin_desktop_v10sp1.os-release": ("kylin", "xinchuang", True, "apt", True, "desktop"),
    "kylin_desktop_v11.os-release": ("kylin", "xinchuang", True, "apt", True, "desktop"),
    "kylin_desktop_v4.os-release": ("kylin", "xinchuang", True, "apt", True, "desktop"),
    "uos_desktop_20.os-release": ("uos", "xinchuang", True, "apt", True, "Professional"),
    "uos_desktop_25.os-release": ("uos", "xinchuang", True, "ostree", True, "Professional"),
    "uos_server_20_fou.os-release": ("uos", "xinchuang", True, "apt", False, "server"),
    "uos_server_20_uel20.os-release": ("uos", "xinchuang", True, "dnf", False, "uel20"),
    "uos_server_20_uelc20.os-release": ("uos", "xinchuang", True, "dnf", False, "uelc20"),
    "openeuler_20.03.os-release": ("openeuler", "xinchuang", True, "dnf", False, "server"),
    "openeuler_24.03.os-release": ("openeuler", "xinchuang", True, "dnf", False, "server"),
    "anolis_8.8.os-release": ("anolis", "xinchuang", True, "dnf", False, "server"),
    "openkylin_2.0.os-release": ("openkylin", "xinchuang", True, "apt", True, "desktop"),
    "deepin_20.4.os-release": ("deepin", "xinchuang", True, "apt", True, "desktop"),
    "deepin_20.9.os-release": ("deepin", "xinchuang", True, "apt", True, "desktop"),
    "ubuntu_kylin_22.04.os-release": ("ubuntu", "debian", False, "apt", None, None),
    "tencentos_4.2.os-release": ("tencentos", "rhel", False, "dnf", None, None),
    "rhel_9.2.os-release": ("rhel", "rhel", False, "dnf", None, None),
    "opensuse_leap_15.5.os-release": ("opensuse-leap", "suse", False, "zypper", None, None),
    "debian_12_this_host.os-release": ("debian", "debian", False, "apt", None, None),
}


@pytest.mark.parametrize(("fixture", "expected"), sorted(EXPECTED.items()))
def test_recorded_os_release(fixture: str, expected: tuple) -> None:
    got = ident(fixture)
    assert (got.distro, got.family, got.domestic, got.package_family, got.desktop,
            got.edition) == expected


def test_every_fixture_is_covered() -> None:
    on_disk = {p.name for p in FIX.glob("*.os-release")}
    assert on_disk == set(EXPECTED)


def test_display_names() -> None:
    assert ident("kylin_server_v10_sword.os-release").name == "Kylin Linux Advanced Server"
    assert ident("uos_server_20_uel20.os-release").name == "UnionTech OS Server"
    assert ident("uos_desktop_25.os-release").name == "UOS Desktop"
    assert ident("openeuler_20.03.os-release").name == "openEuler"


def test_inventory_os_carries_the_quirk_fields() -> None:
    facts = os_facts(parse_os_release((FIX / "kylin_desktop_v11.os-release").read_text("utf-8")),
                     "Linux", "6.6.0")
    assert facts["version_us"] == "Kylin Linux Desktop V11"
    assert "id_like" not in facts
    assert facts["identity"]["package_family"] == "apt"
    uel = os_facts(parse_os_release((FIX / "uos_server_20_uel20.os-release").read_text()),
                   "Linux", "4.19")
    assert uel["platform_id"] == "platform:uel20"


def test_windows_and_macos_from_platform() -> None:
    server = os_facts({}, "Windows", "2019Server", "ServerStandard")
    assert server["pretty_name"] == "Windows 2019Server ServerStandard"
    assert server["identity"]["family"] == "windows"
    assert server["identity"]["desktop"] is False
    pc = os_facts({}, "Windows", "10", "Enterprise")
    assert (pc["identity"]["desktop"], pc["identity"]["edition"]) == (True, "desktop")
    mac = identify({"name": "Darwin"}, "Darwin")
    assert (mac.family, mac.desktop) == ("macos", True)


def test_family_from_enrollment_os_line() -> None:
    assert family_from_os_name("Windows 10") == "windows"
    assert family_from_os_name("Darwin 23.1.0") == "macos"
    assert family_from_os_name("Linux 4.19.90-24.4.v2101.ky10.x86_64") == "unknown"
    assert family_from_os_name(None) == "unknown"


@given(st.dictionaries(st.sampled_from(["id", "id_like", "name", "pretty_name",
                                        "platform_id", "version_us", "version_codename"]),
                       st.one_of(st.text(max_size=300), st.none(), st.integers()), max_size=5),
       st.sampled_from(["Linux", "Windows", "Darwin", "", "FreeBSD"]))
def test_any_fields_give_a_valid_identity(fields: dict, system: str) -> None:
    got = identify(fields, system).to_dict()
    assert got["family"] in FAMILIES
    assert got["package_family"] in ("apt", "dnf", "zypper", "ostree", None)
    assert all(len(v) <= 256 for v in got.values() if isinstance(v, str))
