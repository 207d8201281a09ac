"""patches on RPM systems: parsers for dnf/yum and zypper output, rpm --last, needs-restarting.

dnf/yum run with ``-C`` (cache only) and zypper with ``--no-refresh`` so the check never
refreshes the repository metadata; a stale cache shows up as the index age instead.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses local zypper output, no entities
from datetime import datetime, timedelta

from .model import Advisory, Host, ManagerReport, PendingUpdate, split_nevra

_EXPIRY = re.compile(
    r"Last metadata expiration check: (?:(?P<days>\d+) days?, )?"
    r"(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d) ago"
)
_UPDATEINFO4 = re.compile(r"^\s*(?P<id>\S+)\s+(?P<sev>[A-Za-z]+)/Sec\.\s+(?P<pkg>\S+)\s*$")
_UPDATEINFO5 = re.compile(
    r"^(?P<id>\S+)\s+(?P<type>security|bugfix|enhancement|newpackage|unspecified|unknown)\s+"
    r"(?P<sev>\S+)\s+(?P<pkg>\S+)"
)
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
RPM_TIME_FORMATS = ("%a %d %b %Y %I:%M:%S %p", "%a %b %d %H:%M:%S %Y",
                    "%a %d %b %Y %H:%M:%S")
ZYPP_CACHE = ("/var/cache/zypp/raw/*/repodata/repomd.xml", "/var/cache/zypp/solv/*/solv")


def parse_dnf_check_update(text: str) -> list[PendingUpdate]:
    """Pending packages from ``dnf/yum check-update`` (name.arch, version, repo columns)."""
    out: list[PendingUpdate] = []
    carry: list[str] = []
    for line in text.splitlines():
        if line.startswith(("Obsoleting Packages", "Security:")):
            break
        fields = carry + line.split()
        if not fields or "." not in fields[0] or line.startswith("Last metadata"):
            carry = []
            continue
        if len(fields) < 3:  # a long name wraps its version and repo onto the next line
            carry = fields
            continue
        carry = []
        name, _, arch = fields[0].rpartition(".")
        out.append(PendingUpdate(name=name, installed=None, candidate=fields[1], arch=arch,
                                 origin=fields[2]))
    return out


def parse_metadata_age(text: str) -> timedelta | None:
    """The age dnf prints as ``Last metadata expiration check: 0:07:38 ago``."""
    m = _EXPIRY.search(text)
    if not m:
        return None
    return timedelta(days=int(m["days"] or 0), hours=int(m["h"]), minutes=int(m["m"]),
                     seconds=int(m["s"]))


def parse_updateinfo(text: str) -> list[Advisory]:
    """Advisories from ``updateinfo list --security`` (dnf4/yum and dnf5 layouts)."""
    found: dict[str, tuple[str | None, bool, list[str]]] = {}
    for line in text.splitlines():
        m = _UPDATEINFO4.match(line)
        if m:
            sev, security = m["sev"], True
        else:
            m = _UPDATEINFO5.match(line)
            if not m:
                continue
            sev, security = m["sev"], m["type"] == "security"
        entry = found.setdefault(m["id"], (sev, security, []))
        entry[2].append(m["pkg"])
    return [Advisory(id=k, severity=None if v[0] in ("None", "Unknown") else v[0],
                     security=v[1], packages=tuple(v[2]))
            for k, v in found.items()]


def mark_security(updates: list[PendingUpdate], advisories: list[Advisory]) -> list[PendingUpdate]:
    """Flag pending packages that a security advisory names, with its ids and severity."""
    by_name: dict[str, list[Advisory]] = {}
    for adv in advisories:
        for pkg in adv.packages:
            by_name.setdefault(split_nevra(pkg)[0], []).append(adv)
    out = []
    for u in updates:
        advs = [a for a in by_name.get(u.name, []) if a.security]
        if advs:
            u = PendingUpdate(u.name, u.installed, u.candidate, u.arch, u.origin, True,
                              tuple(dict.fromkeys(a.id for a in advs)), advs[0].severity)
        out.append(u)
    return out


def parse_rpm_last(text: str) -> dict[str, str] | None:
    """The newest package from ``rpm -qa --last`` (first line: NEVRA and install time)."""
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        stamp = parts[1].strip()
        words = stamp.split()
        if len(words) > 1 and words[-1].isalpha() and words[-1].isupper():
            stamp = " ".join(words[:-1])  # a zone abbreviation (EDT): it is the host's own
        for fmt in RPM_TIME_FORMATS:
            try:
                when = datetime.strptime(stamp, fmt)
            except ValueError:
                continue
            name, evr, _arch = split_nevra(parts[0])
            return {"at": when.astimezone().isoformat(), "action": "install",
                    "package": name, "version": evr}
        return None
    return None


def parse_needs_restarting(returncode: int, text: str) -> tuple[bool | None, list[str]]:
    """``needs-restarting -r``: exit 1 means reboot needed; lists the core packages."""
    pkgs = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("* ")]
    if returncode == 1:
        return True, pkgs
    return (False, []) if returncode == 0 else (None, [])


def _xml_updates(text: str) -> list[ET.Element]:
    start = text.find("<?xml")
    root = ET.fromstring(text[start:] if start >= 0 else text)  # noqa: S314
    return root.findall("./update-status/update-list/update")


def parse_zypper_updates(text: str) -> list[PendingUpdate]:
    """Pending packages from ``zypper --xmlout list-updates``."""
    out = []
    for u in _xml_updates(text):
        if u.get("kind", "package") != "package":
            continue
        src = u.find("source")
        out.append(PendingUpdate(
            name=u.get("name", ""), installed=u.get("edition-old"), candidate=u.get("edition"),
            arch=u.get("arch"), origin=src.get("alias") if src is not None else None,
        ))
    return out


def parse_zypper_patches(text: str) -> list[Advisory]:
    """Needed patches from ``zypper --xmlout list-patches``, with their CVE ids."""
    out = []
    for u in _xml_updates(text):
        if u.get("kind") != "patch" or u.get("status", "needed") not in ("needed", "unwanted"):
            continue
        cves = [i.get("id", "") for i in u.findall("./issue-list/issue")
                if i.get("type") == "cve"]
        if not cves:
            cves = _CVE.findall(u.findtext("description") or "")
        out.append(Advisory(id=u.get("name", ""), severity=u.get("severity"),
                            security=u.get("category") == "security",
                            cves=tuple(dict.fromkeys(cves))))
    return out


def _last_install(host: Host, errors: list[str]) -> dict[str, str] | None:
    res, err = host.call(["rpm", "-qa", "--last"])
    if err:
        errors.append(err)
        return None
    return parse_rpm_last(res.stdout) if res else None


def collect_dnf(host: Host, tool: str, now: datetime) -> ManagerReport:
    """dnf or yum: check-update, security advisories, needs-restarting, rpm --last."""
    errors: list[str] = []
    updates: list[PendingUpdate] = []
    age = None
    res, err = host.call([tool, "-C", "check-update"], ok=(0, 100))
    if err:
        errors.append(err)
    elif res is not None:
        updates = parse_dnf_check_update(res.stdout)
        age = parse_metadata_age(res.stdout + "\n" + res.stderr)
    sec_args = ["updateinfo", "list", "security"] if tool == "yum" else \
        ["updateinfo", "list", "--security"]
    advisories: list[Advisory] = []
    res, err = host.call([tool, "-C", *sec_args])
    if err:
        errors.append(err)
    elif res is not None:
        advisories = [a for a in parse_updateinfo(res.stdout) if a.security]
    reboot, pkgs = None, []
    res, err = host.call(["needs-restarting", "-r"], ok=(0, 1))
    if res is not None and not err:
        reboot, pkgs = parse_needs_restarting(res.returncode, res.stdout)
    updated_at = (now - age).timestamp() if age is not None else None
    return ManagerReport(
        manager=tool, updates=tuple(mark_security(updates, advisories)),
        advisories=tuple(advisories), index_updated_at=updated_at,
        index_source="dnf metadata expiration check" if age is not None else None,
        reboot_required=reboot, reboot_packages=tuple(pkgs),
        last_change=_last_install(host, errors), errors=tuple(errors),
    )


def collect_zypper(host: Host) -> ManagerReport:
    """zypper: list-updates, security patches, needs-rebooting, rpm --last."""
    errors: list[str] = []
    base = ["zypper", "--non-interactive", "--no-refresh", "--xmlout"]
    updates: list[PendingUpdate] = []
    advisories: list[Advisory] = []
    for args, kind in ((["list-updates"], "u"), (["list-patches", "--category", "security"], "p")):
        res, err = host.call([*base, *args], ok=(0, 100, 101, 102, 103))
        if err or res is None:
            errors.append(err or "zypper: no output")
            continue
        try:
            if kind == "u":
                updates = parse_zypper_updates(res.stdout)
            else:
                advisories = [a for a in parse_zypper_patches(res.stdout) if a.security]
        except ET.ParseError as e:
            errors.append(f"zypper: unreadable XML output ({e})")
    res, err = host.call(["zypper", "needs-rebooting"], ok=(0, 102))
    reboot = None if err or res is None else res.returncode == 102
    newest, count = host.newest_mtime(ZYPP_CACHE)
    return ManagerReport(
        manager="zypper", updates=tuple(updates), advisories=tuple(advisories),
        index_updated_at=newest,
        index_source=f"newest of {count} zypp cache files" if count else None,
        reboot_required=reboot, last_change=_last_install(host, errors), errors=tuple(errors),
    )
