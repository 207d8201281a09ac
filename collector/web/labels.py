"""Translatable names for check areas, statuses, OS families and roles on the dashboard."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CHECKS = {
    "disk": _l("Disk"), "patches": _l("Patches"), "antivirus": _l("Antivirus"),
    "logs": _l("Logs"), "inventory": _l("Inventory"), "hardware": _l("Hardware"),
    "accounts": _l("Accounts"), "ports": _l("Ports & services"),
    "software_policy": _l("Unauthorised software"), "backups": _l("Backups"),
    "isolation": _l("Isolation"), "time": _l("Time"), "firewall": _l("Firewall"),
}

STATUSES = {
    "ok": _l("ok"), "warn": _l("warning"), "fail": _l("failed"), "error": _l("error"),
    "skipped": _l("skipped"), "pending": _l("pending"), "active": _l("active"),
    "revoked": _l("revoked"), "silent": _l("silent"), "reporting": _l("reporting"),
}

# OS families (hostpatrol.shared.osfamily.FAMILIES) and the domestic distributions.
FAMILIES = {
    "xinchuang": _l("Domestic (Xinchuang) OS"), "windows": _l("Windows"),
    "macos": _l("macOS"), "debian": _l("Debian / Ubuntu"), "rhel": _l("RHEL-like"),
    "suse": _l("SUSE"), "other_linux": _l("Other Linux"), "unknown": _l("Unknown OS"),
}
DISTROS = {
    "kylin": _l("Kylin"), "uos": _l("UnionTech UOS"), "openeuler": _l("openEuler"),
    "anolis": _l("Anolis OS"), "openkylin": _l("openKylin"), "deepin": _l("Deepin"),
}

ROLES = {
    "admin": _l("admin"), "operator": _l("operator"), "approver": _l("approver"),
    "auditor": _l("auditor"), "viewer": _l("viewer"),
}


def check_label(name: str) -> str:
    """The check's display name (its raw name when unknown)."""
    return str(CHECKS[name]) if name in CHECKS else name


def status_label(name: str | None) -> str:
    """The status's display name."""
    if name is None:
        return "—"
    return str(STATUSES[name]) if name in STATUSES else name


def role_label(name: str) -> str:
    """The role's display name."""
    return str(ROLES[name]) if name in ROLES else name


# Words of the report's further tables (reports.figures breakdowns), stored untranslated.
BREAKDOWN_WORDS = {
    "Hosts by operating system": _l("Hosts by operating system"),
    "OS family": _l("OS family"), "Hosts": _l("Hosts"), "Share": _l("Share"),
}


def breakdown_text(value: object) -> str:
    """A word or cell of a report breakdown table in the current language."""
    if value is None:
        return "—"
    text = str(value)
    if text.startswith("family:"):
        return family_label(text[7:])
    if text.startswith("distro:"):
        return "· " + distro_label(text[7:])
    return str(BREAKDOWN_WORDS[text]) if text in BREAKDOWN_WORDS else text


def family_label(name: str) -> str:
    """An OS family's display name."""
    return str(FAMILIES[name]) if name in FAMILIES else name


def distro_label(name: str) -> str:
    """A domestic distribution's display name (its key when unknown)."""
    return str(DISTROS[name]) if name in DISTROS else name
