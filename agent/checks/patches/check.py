"""patches: pending and security updates, held packages, index age, reboot and kernel.

One normalized model (``model``) over apt, dnf/yum, zypper, Windows Update and
macOS softwareupdate; the manager is picked by which tool exists here. Read-only: the
package index is never refreshed and no package-manager lock is taken, so a stale index
is reported as such. Needs no root on Debian/RHEL/SUSE. Each command has a time limit; a
hung or failing package manager is reported under ``errors`` (status warn), not raised.
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

from ..base import Check, CheckFailed, CheckSkipped, Option, Outcome, worst
from .apt import APT_LISTS, collect_apt
from .distro import ManagerMissing, apt_security_known, choose, read_identity
from .kernel import package_facts
from .model import (
    Host,
    ManagerReport,
    clip,
    file_ctime,
    file_mtime,
    natural_key,
    read_text,
)
from .rpm import collect_dnf, collect_zypper
from .winmac import collect_macos, collect_windows

MAX_UPDATES = 2000
MAX_NAMES = 2000
KERNEL_GLOBS = ("/boot/vmlinuz-*", "/boot/vmlinux-*")


def pick_manager(system: str, which: Callable[[str], str | None]) -> str | None:
    """The package manager to ask on this host, by what exists (None: none known)."""
    if system == "Windows":
        return "windows_update" if which("powershell") else None
    if system == "Darwin":
        return "softwareupdate" if which("softwareupdate") else None
    for tool in ("apt-get", "dnf", "yum", "zypper"):
        if which(tool):
            return tool
    return None


def kernel_facts(running: str | None, installed_paths: list[str],
                 package: dict[str, Any] | None = None) -> dict[str, Any]:
    """Running kernel vs the newest one installed under /boot and, where the package
    manager says (Debian/Ubuntu), the running vs installed build of its own package."""
    names = [p.rsplit("/", 1)[-1] for p in installed_paths]
    installed = sorted({n.split("-", 1)[1] for n in names if "-" in n and "rescue" not in n},
                       key=natural_key)
    newest = installed[-1] if installed else None
    pending = None
    if newest is not None and running:
        pending = natural_key(newest) > natural_key(running)
    package = package or {}
    if package.get("package_update_pending"):
        pending = True  # same ABI name, newer build: /boot file names cannot show it
    elif pending is None and package.get("package_update_pending") is False:
        pending = False
    return {"running": clip(running), "newest_installed": clip(newest),
            "installed": [clip(k) for k in installed[:50]], "update_pending": pending,
            **package}


def verdict(data: dict[str, Any], max_age_days: float, fail_on_security: bool
            ) -> tuple[str, list[str]]:
    """Local status and the reasons for it (see the module docstring for the policy)."""
    reasons: list[tuple[str, str]] = []
    sec = data["security_count"] + data["security_advisory_count"]
    if sec:
        reasons.append(("fail" if fail_on_security else "warn",
                        f"{data['security_count']} security update(s) and "
                        f"{data['security_advisory_count']} security advisory(ies) pending"))
    if data["pending_count"]:
        reasons.append(("warn", f"{data['pending_count']} update(s) pending"))
    if data["reboot"]["required"]:
        reasons.append(("warn", "reboot required"))
    if data["kernel"]["update_pending"]:
        reasons.append(("warn", "a newer kernel is installed than the one running"))
    held = [u["name"] for u in data["updates"] if u.get("held") and u["security"]]
    if held:
        reasons.append(("warn", f"security update(s) held back by apt-mark hold: "
                        f"{', '.join(held[:5])}"))
    age = data["index"]["age_days"]
    if age is not None and age > max_age_days:
        reasons.append(("warn", f"package index is {age:.1f} days old (> {max_age_days:g})"))
    if data.get("unclassified_count"):
        reasons.append(("warn", f"{data['unclassified_count']} pending update(s) cannot be "
                                "told apart from security fixes: no -security suite among "
                                "the apt sources"))
    if data["errors"]:
        reasons.append(("warn", "some package-manager queries failed; see errors"))
    return worst(*(s for s, _ in reasons)), [r for _, r in reasons]


def to_data(rep: ManagerReport, now: datetime, kernel: dict[str, Any]) -> dict[str, Any]:
    """The wire form of a backend's report plus host facts (counts before truncation)."""
    age = None
    updated = None
    if rep.index_updated_at is not None:
        updated = datetime.fromtimestamp(rep.index_updated_at, UTC)
        age = round(max(0.0, (now - updated).total_seconds()) / 86400, 3)
    updates = sorted(rep.updates, key=lambda u: (not u.security, u.name))
    return {
        "manager": rep.manager,
        "pending_count": len(rep.updates),
        "security_count": sum(u.security for u in rep.updates),
        "security_advisory_count": sum(a.security for a in rep.advisories),
        "updates": [u.to_dict() for u in updates[:MAX_UPDATES]],
        "updates_truncated": len(updates) > MAX_UPDATES,
        "advisories": [a.to_dict() for a in rep.advisories[:MAX_UPDATES]],
        "held": [clip(h) for h in rep.held[:MAX_NAMES]],
        "held_security": [clip(u.name) for u in updates if u.held and u.security][:MAX_NAMES],
        "kept_back": [clip(k) for k in rep.kept_back[:MAX_NAMES]],
        "index": {"updated_at": format_time(updated) if updated else None, "age_days": age,
                  "source": clip(rep.index_source)},
        "last_package_change": (
            {k: clip(str(v)) for k, v in rep.last_change.items()} if rep.last_change else None),
        "reboot": {"required": rep.reboot_required,
                   "packages": [clip(p) for p in rep.reboot_packages[:MAX_NAMES]]},
        "kernel": kernel,
        "errors": [clip(e, 512) for e in rep.errors[:20]],
    }


class PatchesCheck(Check):
    """Pending (security) updates and patch hygiene; read-only, no root needed."""

    name: ClassVar[str] = "patches"
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 300.0
    options: ClassVar = {
        "index_max_age_days": Option((int, float), 7,
                                     "package index older than this many days warns"),
        "fail_on_security": Option(bool, True,
                                   "pending security updates fail (false: they only warn)"),
        "command_timeout": Option((int, float), 60,
                                  "seconds each package-manager command may take"),
    }

    def __init__(self, *args: Any,
                 which: Callable[[str], str | None] = shutil.which,
                 system: Callable[[], str] = platform.system,
                 release: Callable[[], str] = platform.release,
                 now: Callable[[], datetime] = utcnow,
                 read: Callable[[str], str | None] = read_text,
                 glob: Callable[[str], list[str]] | None = None,
                 mtime: Callable[[str], float | None] = file_mtime,
                 ctime: Callable[[str], float | None] = file_ctime,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.which, self.system, self.release, self.now = which, system, release, now
        self.read, self.glob, self.mtime, self.ctime = read, glob, mtime, ctime

    def _host(self) -> Host:
        extra = {"glob": self.glob} if self.glob is not None else {}
        return Host(run=self.run, timeout=float(self.config["command_timeout"]),
                    read=self.read, mtime=self.mtime, ctime=self.ctime, **extra)

    def collect(self) -> Outcome:
        """Ask the host's package manager, then judge the result."""
        system = self.system()
        choice = None
        if system == "Linux":
            try:
                choice = choose(read_identity(self.read), self.which,
                                lambda: pick_manager(system, self.which))
            except ManagerMissing as e:
                raise CheckFailed(str(e)) from e
            manager = choice.manager
        else:
            manager = pick_manager(system, self.which)
        if manager is None:
            msg = f"no supported package manager found on this {system} host"
            raise CheckSkipped(msg)
        host = self._host()
        now = self.now()
        if manager == "apt-get":
            rep = collect_apt(host)
        elif manager in ("dnf", "yum"):
            rep = collect_dnf(host, manager, now)
        elif manager == "zypper":
            rep = collect_zypper(host)
        elif manager == "windows_update":
            rep = collect_windows(host)
        else:
            rep = collect_macos(host)
        boot = [p for g in KERNEL_GLOBS for p in host.glob(g)] if system == "Linux" else []
        release = self.release() if system == "Linux" else None
        package = package_facts(host, release) if manager == "apt-get" else None
        kernel = kernel_facts(release, boot, package)
        data = to_data(rep, now, kernel)
        if choice is not None:
            data["distribution"] = choice.distribution()
        if manager == "apt-get" and not apt_security_known(
                [p for g in APT_LISTS for p in host.glob(g)]):
            data["unclassified_count"] = data["pending_count"] - data["security_count"]
        status, reasons = verdict(data, float(self.config["index_max_age_days"]),
                                  bool(self.config["fail_on_security"]))
        data["reasons"] = reasons
        return Outcome(status, data)
