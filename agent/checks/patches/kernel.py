"""patches: is the running kernel the newest installed one, by package version (Debian/Ubuntu).

Debian and Ubuntu often ship a fixed kernel under the same ABI name (``6.1.0-28-amd64``
stays, its package goes from 6.1.119-1 to 6.1.123-1), so ``/boot`` file names cannot
tell. ``/proc/version`` says which package build is running (Debian: ``… Debian
6.1.38-2 (2023-07-27)``; Ubuntu: ``#124-Ubuntu``, the last part of ``5.4.0-110.124``);
dpkg says which is installed, and ``dpkg --compare-versions`` orders them.
"""

from __future__ import annotations

import re
from typing import Any

from .model import Host, clip

_DEBIAN = re.compile(r"#\S+ .*\bDebian (?P<version>\S+) \(\d{4}-\d\d-\d\d\)")
_UBUNTU = re.compile(r"#(?P<upload>\d+)(?P<suffix>~[\w.+]+)?-Ubuntu\b")
_ABI = re.compile(r"^(?P<base>\d+\.\d+\.\d+-\d+)")


def running_package_version(proc_version: str, release: str) -> str | None:
    """The package version of the running kernel from /proc/version; None when it does not
    say (a self-built kernel, another distribution)."""
    m = _DEBIAN.search(proc_version)
    if m:
        return m["version"]
    m = _UBUNTU.search(proc_version)
    abi = _ABI.match(release)
    if m and abi:
        return f"{abi['base']}.{m['upload']}{m['suffix'] or ''}"
    return None


def package_names(release: str) -> list[str]:
    """Packages that may hold the kernel ``release`` (signed or unsigned builds)."""
    return [f"linux-image-{release}", f"linux-image-unsigned-{release}",
            f"linux-image-{release}-unsigned"]


def parse_dpkg_versions(text: str) -> dict[str, str]:
    """``dpkg-query -W -f '${Package} ${db:Status-Abbrev} ${Version}\\n'`` → installed
    package → version (lines of removed packages are left out)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].startswith("ii"):
            out[parts[0]] = parts[2]
    return out


def package_facts(host: Host, release: str | None) -> dict[str, Any]:
    """Running vs installed package version of the running kernel, and whether dpkg orders
    the installed one later (a reboot would run newer code)."""
    facts: dict[str, Any] = {"package": None, "running_version": None,
                             "installed_version": None, "package_update_pending": None,
                             "package_note": None}
    if not release:
        return facts
    running = running_package_version(host.read("/proc/version") or "", release)
    names = package_names(release)
    res, _err = host.call(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev} "
                           "${Version}\n", *names], ok=(0, 1))
    installed = parse_dpkg_versions(res.stdout) if res is not None else {}
    pkg = next((n for n in names if n in installed), None)
    facts.update(package=clip(pkg), running_version=clip(running),
                 installed_version=clip(installed.get(pkg)) if pkg else None)
    if pkg is None:
        facts["package_note"] = f"no installed package holds kernel {clip(release, 64)}"
        return facts
    if running is None:
        facts["package_note"] = "/proc/version does not name the running package version"
        return facts
    cmp, err = host.call(["dpkg", "--compare-versions", installed[pkg], "gt", running],
                         ok=(0, 1))
    if cmp is not None and not err:
        facts["package_update_pending"] = cmp.returncode == 0
    return facts
