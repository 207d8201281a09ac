"""software_policy: installed software checked against allow and deny glob lists.

Needs no privileges. Lists packages with dpkg-query (Debian/Ubuntu) or rpm (RHEL,
SUSE…); parsers for the Windows uninstall registry and macOS system_profiler JSON are
here too, pure, for the inventory check and future platform support. The full package
list stays out of this check's data: it reports counts, violations and a sha256 of the
sorted ``name=version`` list so a collector can see drift cheaply.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..commands import CommandError, Runner
from .base import Check, CheckSkipped, Option, Outcome

MAX_VIOLATIONS = 2000
DPKG_ARGV = ("dpkg-query", "-W", "-f",
             "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n")
RPM_ARGV = ("rpm", "-qa", "--queryformat", "%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH}\\n")


@dataclass(frozen=True, slots=True)
class Package:
    """One installed program or package."""

    name: str
    version: str
    arch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {"name": self.name, "version": self.version, "arch": self.arch}


def list_installed_dpkg(text: str) -> list[Package]:
    """Parse ``dpkg-query -W -f`` output (``DPKG_ARGV``); keeps installed packages only."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0]:
            continue
        # db:Status-Abbrev is "ii " for installed; "rc " (config files left) is not software
        if len(parts) >= 4 and (len(parts[3]) < 2 or parts[3][1] not in "iHWt"):
            continue
        out.append(Package(parts[0], parts[1], parts[2] or None))
    return out


def list_installed_rpm(text: str) -> list[Package]:
    """Parse ``rpm -qa --queryformat '%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH}\\n'``."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        name, epoch, version, release, arch = parts
        full = f"{version}-{release}" if epoch == "(none)" else f"{epoch}:{version}-{release}"
        out.append(Package(name, full, None if arch == "(none)" else arch))
    return out


def list_installed_windows(text: str) -> list[Package]:
    """Parse uninstall-registry JSON (``Get-ItemProperty …\\Uninstall\\* | ConvertTo-Json``)."""
    text = text.lstrip("\ufeff").strip()
    doc = json.loads(text) if text else []
    out = []
    for entry in doc if isinstance(doc, list) else [doc]:
        if isinstance(entry, dict) and entry.get("DisplayName"):
            out.append(Package(str(entry["DisplayName"]), str(entry.get("DisplayVersion") or "")))
    return out


def list_installed_macos(text: str) -> list[Package]:
    """Parse ``system_profiler SPApplicationsDataType -json``."""
    doc = json.loads(text) if text.strip() else {}
    out = []
    for app in doc.get("SPApplicationsDataType", []):
        if isinstance(app, dict) and app.get("_name"):
            out.append(Package(str(app["_name"]), str(app.get("version") or "")))
    return out


def fingerprint(packages: Iterable[Package]) -> str:
    """sha256 of the sorted, de-duplicated ``name=version`` lines (drift detection)."""
    lines = sorted({f"{p.name}={p.version}" for p in packages})
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def violations(packages: Iterable[Package], allow: list[str],
               deny: list[str]) -> list[dict[str, Any]]:
    """Packages matching a deny glob, and (when allow is set) packages matching no allow glob."""
    out = []
    for p in packages:
        name = p.name.lower()
        hit = next((g for g in deny if fnmatch.fnmatchcase(name, g.lower())), None)
        if hit is not None:
            out.append({**p.to_dict(), "rule": "deny", "pattern": hit})
        elif allow and not any(fnmatch.fnmatchcase(name, g.lower()) for g in allow):
            out.append({**p.to_dict(), "rule": "not_allowed", "pattern": None})
    return out


def package_tool() -> str | None:
    for tool in ("dpkg-query", "rpm"):
        if shutil.which(tool):
            return tool
    return None


def installed_packages(run: Runner, tool: str, timeout: float) -> list[Package] | str:
    """Installed packages from ``dpkg-query`` or ``rpm``; an error text when unreadable."""
    argv, parse = ((DPKG_ARGV, list_installed_dpkg) if tool == "dpkg-query"
                   else (RPM_ARGV, list_installed_rpm))
    try:
        res = run(argv, timeout)
    except CommandError as e:
        return str(e)[:1000]
    if res.returncode != 0:
        return f"{tool}: exit {res.returncode}: {res.stderr.strip()[:500]}"
    return parse(res.stdout)


class SoftwarePolicyCheck(Check):
    """Installed software against allow/deny lists; no privileges needed."""

    name: ClassVar[str] = "software_policy"
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 120.0
    options: ClassVar = {
        "allow": Option(list, [], "name globs allowed; when set, anything else is a violation"),
        "deny": Option(list, [], "name globs never allowed (games, P2P…)"),
    }

    def __init__(self, *args: Any, manager: Callable[[], str | None] = package_tool,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager

    def collect(self) -> Outcome:
        """List installed packages and compare them with the policy."""
        tool = self.manager()
        if tool is None:
            msg = "no package manager known here (dpkg-query or rpm)"
            raise CheckSkipped(msg)
        base: dict[str, Any] = {"source": tool, "allow": self.config["allow"],
                                "deny": self.config["deny"]}
        packages = installed_packages(self.run, tool, self.timeout - 10)
        if isinstance(packages, str):
            return Outcome("warn", {**base, **_empty(), "error": packages})
        found = violations(packages, self.config["allow"], self.config["deny"])
        denied = sum(1 for v in found if v["rule"] == "deny")
        data = {
            **base,
            "installed_count": len(packages),
            "fingerprint": fingerprint(packages),
            "denied_count": denied,
            "not_allowed_count": len(found) - denied,
            "violations": found[:MAX_VIOLATIONS],
            "violations_truncated": len(found) > MAX_VIOLATIONS,
            "error": None,
        }
        status = "fail" if denied else "warn" if found else "ok"
        return Outcome(status, data)


def _empty() -> dict[str, Any]:
    return {"installed_count": 0, "fingerprint": None, "denied_count": 0,
            "not_allowed_count": 0, "violations": [], "violations_truncated": False}
