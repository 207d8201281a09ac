"""patches on Debian/Ubuntu: parsers for apt-get's simulation, apt-mark and dpkg.log.

Nothing here takes the dpkg/apt lock or refreshes the index: ``apt-get -s`` with
``Debug::NoLocking`` only reads the package lists as they are. Needs no root.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from .model import Host, ManagerReport, PendingUpdate

# Inst name [installed] (candidate Origin:ver/suite, Origin2:ver/suite2 [arch]) [broken-deps]
_INST = re.compile(
    r"^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])? \((?P<new>\S+)"
    r"(?: (?P<origins>.*?))? \[(?P<arch>[^\]]+)\]\)"
)
_DPKG_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<action>install|upgrade) "
    r"(?P<pkg>\S+) (?P<old>\S+) (?P<new>\S+)\s*$"
)

APT_LISTS = ("/var/lib/apt/lists/*Release",)
APT_STAMP = "/var/lib/apt/periodic/update-success-stamp"
DPKG_LOGS = ("/var/log/dpkg.log", "/var/log/dpkg.log.1")
REBOOT_FILE = "/var/run/reboot-required"


def is_security_origin(origin: str) -> bool:
    """True for a Debian/Ubuntu security pocket (``bookworm-security``, ``Debian-Security``)."""
    label, _, suite = origin.strip().partition("/")
    label = label.split(":", 1)[0]
    return suite.endswith("-security") or label.lower().endswith("-security")


def parse_apt_simulation(text: str) -> tuple[list[PendingUpdate], list[str], list[str]]:
    """Upgrades, newly pulled-in packages and kept-back names from ``apt-get -s``."""
    updates: list[PendingUpdate] = []
    new: list[str] = []
    kept: list[str] = []
    in_kept = False
    for line in text.splitlines():
        if line.startswith("  ") and in_kept:
            kept.extend(line.split())
            continue
        in_kept = line.startswith("The following packages have been kept back")
        m = _INST.match(line)
        if not m:
            continue
        origins = [o.strip() for o in (m["origins"] or "").split(",") if o.strip()]
        if m["old"] is None:
            new.append(m["name"])
            continue
        updates.append(PendingUpdate(
            name=m["name"], installed=m["old"] or None, candidate=m["new"], arch=m["arch"],
            origin=", ".join(origins) or None,
            security=any(is_security_origin(o) for o in origins),
        ))
    return updates, new, kept


def parse_showhold(text: str) -> list[str]:
    """Package names from ``apt-mark showhold`` (one a line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_dpkg_log(text: str) -> dict[str, str] | None:
    """The newest install/upgrade in a dpkg.log: local time, action, package, version."""
    last = None
    for line in text.splitlines():
        m = _DPKG_LINE.match(line)
        if m:
            last = m
    if last is None:
        return None
    local = datetime.strptime(last["ts"], "%Y-%m-%d %H:%M:%S").astimezone()
    return {"at": local.isoformat(), "action": last["action"], "package": last["pkg"],
            "version": last["new"]}


def parse_reboot_pkgs(text: str | None) -> list[str]:
    """Unique package names from /var/run/reboot-required.pkgs."""
    seen: dict[str, None] = {}
    for line in (text or "").splitlines():
        if line.strip():
            seen.setdefault(line.strip(), None)
    return list(seen)


def held_updates(host: Host, pending: set[str], errors: list[str]) -> list[PendingUpdate]:
    """Updates the upgrade skips because of a hold (the package itself, or one that must
    move with it): they are still pending (a held security fix is an open hole), so they
    are counted and named."""
    res, err = host.call(["apt-get", "-s", "-o", "Debug::NoLocking=1", "--ignore-hold",
                          "dist-upgrade"])
    if err or res is None:
        errors.append(err or "apt-get --ignore-hold: no output")
        return []
    found, _new, _kept = parse_apt_simulation(res.stdout)
    return [replace(u, held=True) for u in found if u.name not in pending]


def index_refreshed(host: Host) -> tuple[float | None, str | None]:
    """When this host last refreshed its package index. apt stamps each Release file with
    the mirror's Last-Modified (a frozen mirror's are months old), so the time apt wrote
    them here (ctime) counts, as does the APT::Periodic success stamp."""
    newest, count = host.newest_ctime(APT_LISTS)
    source = f"newest of {count} apt list Release files (written here)" if count else None
    stamp = host.mtime(APT_STAMP)
    if stamp is not None and (newest is None or stamp > newest):
        newest, source = stamp, APT_STAMP
    return newest, source


def collect_apt(host: Host) -> ManagerReport:
    """Run the read-only apt commands and read apt/dpkg state files."""
    errors: list[str] = []
    updates: list[PendingUpdate] = []
    kept: list[str] = []
    res, err = host.call(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"])
    if err:
        errors.append(err)
    if res is not None and not err:
        updates, _new, kept = parse_apt_simulation(res.stdout)
    held: list[str] = []
    res, err = host.call(["apt-mark", "showhold"])
    if err:
        errors.append(err)
    elif res is not None:
        held = parse_showhold(res.stdout)
    if held:
        updates += held_updates(host, {u.name for u in updates}, errors)
    newest, source = index_refreshed(host)
    last = None
    for path in DPKG_LOGS:
        last = parse_dpkg_log(host.read(path) or "")
        if last:
            last["source"] = path
            break
    return ManagerReport(
        manager="apt", updates=tuple(updates), held=tuple(held), kept_back=tuple(kept),
        index_updated_at=newest, index_source=source,
        reboot_required=host.mtime(REBOOT_FILE) is not None,
        reboot_packages=tuple(parse_reboot_pkgs(host.read(REBOOT_FILE + ".pkgs"))),
        last_change=last, errors=tuple(errors),
    )
