"""Which operating system a host runs, from its os-release fields: distribution, family, 信创.

One table both sides read: the agent picks the package-manager family from it (a Kylin
server is dnf-based, a Kylin desktop apt-based), the collector groups hosts by family and
counts the domestic (信创) ones. Pure functions over the os-release(5) fields as the
inventory check reports them (``id``, ``id_like``, ``name``, ``version``, ``pretty_name``,
``platform_id``, ``version_us``, ``version_codename``) plus the platform's system name;
every rule below names the recorded os-release file it was written from
(``tests/fixtures/inventory/SOURCES.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Families in display order; the dashboard and the report list them in this order.
FAMILIES = ("xinchuang", "windows", "macos", "debian", "rhel", "suse", "other_linux",
            "unknown")
PACKAGE_FAMILIES = ("apt", "dnf", "zypper", "ostree")
_DEBIAN = frozenset({"debian", "ubuntu", "raspbian", "linuxmint", "pop", "elementary",
                     "kali", "devuan", "neon", "zorin"})
_RHEL = frozenset({"rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn",
                   "scientific", "eurolinux", "miraclelinux", "tencentos", "alinux",
                   "opencloudos", "circle", "virtuozzo", "cloudlinux"})
_SUSE = frozenset({"sles", "sled", "opensuse", "opensuse-leap", "opensuse-tumbleweed",
                   "sles_sap", "sl-micro"})


@dataclass(frozen=True, slots=True)
class OsIdentity:
    """What a host runs: distribution key, edition, family, 信创, package family, desktop."""

    distro: str  # kylin, uos, openeuler, anolis, openkylin, deepin, windows, … or the os ID
    name: str  # display name (English), e.g. "Kylin Linux Advanced Server"
    edition: str | None  # "server", "desktop", "Professional", "uel20", … when known
    family: str  # one of FAMILIES
    domestic: bool  # a Chinese domestic (信创) operating system
    package_family: str | None  # apt | dnf | zypper | ostree; None when not known
    desktop: bool | None  # a desktop (terminal) OS; None when the fields do not say

    def to_dict(self) -> dict[str, Any]:
        """The wire form (inventory ``os.identity``), text cut to 256 characters."""
        return {k: v[:256] if isinstance(v, str) else v for k, v in asdict(self).items()}


def _field(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return value.strip() if isinstance(value, str) else ""


def _like(fields: Mapping[str, Any]) -> set[str]:
    return set(_field(fields, "id_like").lower().split())


def _generic(os_id: str, like: set[str]) -> tuple[str, str | None]:
    if os_id in _DEBIAN or like & {"debian", "ubuntu"}:
        return "debian", "apt"
    if os_id in _RHEL or like & {"rhel", "fedora", "centos"}:
        return "rhel", "dnf"
    if os_id in _SUSE or os_id.startswith("opensuse") or "suse" in like:
        return "suse", "zypper"
    return ("other_linux", None) if os_id else ("unknown", None)


def _kylin(f: Mapping[str, Any], like: set[str]) -> OsIdentity:
    name = _field(f, "name")
    if "server" in name.lower():  # "Kylin Linux Advanced Server": no ID_LIKE at all
        return OsIdentity("kylin", name, "server", "xinchuang", True, "dnf", False)
    desktop = "desktop" in _field(f, "version_us").lower() or "debian" in like
    if desktop:  # V10 SP1 and V4 say ID_LIKE=debian; V11 dropped ID_LIKE, keeps VERSION_US
        return OsIdentity("kylin", "Kylin Desktop", "desktop", "xinchuang", True, "apt", True)
    family = "dnf" if like & {"rhel", "fedora", "centos"} else None
    return OsIdentity("kylin", name or "Kylin", None, "xinchuang", True, family, None)


def _uos(f: Mapping[str, Any]) -> OsIdentity:
    pretty = _field(f, "pretty_name")
    name = _field(f, "name")
    platform = _field(f, "platform_id").lower()
    if "server" in f"{name} {pretty}".lower():
        if platform.startswith("platform:uel"):  # uel20 / uelc20: RPM platform ids
            return OsIdentity("uos", "UnionTech OS Server", platform.split(":", 1)[1],
                              "xinchuang", True, "dnf", False)
        return OsIdentity("uos", "UnionTech OS Server", "server", "xinchuang", True, "apt",
                          False)
    edition = None
    words = pretty.split()
    if len(words) >= 4 and words[:2] == ["UOS", "Desktop"]:
        edition = " ".join(words[3:])  # "UOS Desktop 20 Professional"
    # UOS Desktop 25 ("snipe") is an OSTree system: apt only lists app-store packages.
    immutable = _field(f, "version_codename").lower() == "snipe"
    return OsIdentity("uos", "UOS Desktop", edition, "xinchuang", True,
                      "ostree" if immutable else "apt", True)


def identify(fields: Mapping[str, Any], system: str = "Linux") -> OsIdentity:
    """The identity of a host from its os-release fields (lower-case keys) and system."""
    sysname = (system or "").strip()
    name = _field(fields, "name")
    if sysname == "Windows" or name.lower().startswith("windows"):
        text = f"{name} {_field(fields, 'pretty_name')} {_field(fields, 'edition')}".lower()
        server = "server" in text
        return OsIdentity("windows", name or "Windows", "server" if server else "desktop",
                          "windows", False, None, not server)
    if sysname == "Darwin" or name.lower().startswith(("macos", "mac os")):
        return OsIdentity("macos", "macOS", "desktop", "macos", False, None, True)
    os_id = _field(fields, "id").lower()
    like = _like(fields)
    if os_id == "kylin":
        return _kylin(fields, like)
    if os_id == "uos" or name.lower().startswith("uniontech"):
        return _uos(fields)
    if os_id == "openeuler":
        return OsIdentity("openeuler", "openEuler", "server", "xinchuang", True, "dnf", False)
    if os_id == "anolis":
        return OsIdentity("anolis", "Anolis OS", "server", "xinchuang", True, "dnf", False)
    if os_id == "openkylin":
        return OsIdentity("openkylin", "openKylin", "desktop", "xinchuang", True, "apt", True)
    if os_id == "deepin":
        return OsIdentity("deepin", "Deepin", "desktop", "xinchuang", True, "apt", True)
    family, manager = _generic(os_id, like)
    return OsIdentity(os_id or "unknown", name or sysname or "unknown", None, family, False,
                      manager, None)


def family_from_os_name(os_name: str | None) -> str:
    """A family from the one-line OS an agent states at enrollment ("Linux 6.1.0", …)."""
    text = (os_name or "").strip().lower()
    if text.startswith("windows"):
        return "windows"
    if text.startswith(("darwin", "macos", "mac os")):
        return "macos"
    return "unknown"

