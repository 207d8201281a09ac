"""patches: the normalized model every package-manager backend fills in.

A backend (apt, dnf/yum, zypper, Windows Update, softwareupdate) turns its tool's output
into a ``ManagerReport``; ``patches.PatchesCheck`` adds host facts (kernel, clock) and the
local verdict. ``Host`` bundles the injected OS accessors and runs commands so that a
missing tool, a refusal or a hung package manager becomes an error string, not a crash.
"""

from __future__ import annotations

import glob as globmod
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import ostext
from ...commands import CommandError, CommandResult, Runner

MAX_TEXT = 256


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """Bound a string taken from a tool's output (hosts may be hostile)."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """One package (or Windows/macOS update) with a newer version waiting."""

    name: str
    installed: str | None
    candidate: str | None
    arch: str | None = None
    origin: str | None = None
    security: bool = False
    advisories: tuple[str, ...] = ()
    severity: str | None = None
    held: bool = False  # on hold (apt-mark hold): the upgrade skips it, it is still pending

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "name": clip(self.name), "installed": clip(self.installed),
            "candidate": clip(self.candidate), "arch": clip(self.arch, 32),
            "origin": clip(self.origin, 512), "security": self.security,
            "advisories": [clip(a, 64) for a in self.advisories[:50]],
            "severity": clip(self.severity, 32), "held": self.held,
        }


@dataclass(frozen=True, slots=True)
class Advisory:
    """An errata/patch/KB the package manager names (RHSA-…, SUSE patch, …)."""

    id: str
    severity: str | None
    security: bool
    packages: tuple[str, ...] = ()
    cves: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "id": clip(self.id, 128), "severity": clip(self.severity, 32),
            "security": self.security,
            "packages": [clip(p) for p in self.packages[:200]],
            "cves": [clip(c, 32) for c in self.cves[:200]],
        }


@dataclass(frozen=True, slots=True)
class ManagerReport:
    """Everything one package-manager backend found."""

    manager: str
    updates: tuple[PendingUpdate, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    held: tuple[str, ...] = ()
    kept_back: tuple[str, ...] = ()
    index_updated_at: float | None = None
    index_source: str | None = None
    reboot_required: bool | None = None
    reboot_packages: tuple[str, ...] = ()
    last_change: dict[str, str] | None = None
    errors: tuple[str, ...] = ()


def read_text(path: str, limit: int = 4 << 20) -> str | None:
    """The last ``limit`` bytes of a file as text, or None when absent/unreadable."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                f.seek(size - limit)
            return ostext.decode(f.read(limit))
    except OSError:
        return None


def file_mtime(path: str) -> float | None:
    """A file's modification time (epoch seconds), or None when absent."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def file_ctime(path: str) -> float | None:
    """When this host last wrote a file or its times (st_ctime: no program can set it
    back, unlike the mtime apt copies from the mirror), or None when absent."""
    try:
        return os.stat(path).st_ctime
    except OSError:
        return None


@dataclass(frozen=True)
class Host:
    """The injected OS: command runner with its time limit, and file accessors."""

    run: Runner
    timeout: float
    read: Callable[[str], str | None] = read_text
    glob: Callable[[str], list[str]] = field(default=lambda p: sorted(globmod.glob(p)))
    mtime: Callable[[str], float | None] = file_mtime
    ctime: Callable[[str], float | None] = file_ctime

    def call(self, argv: Sequence[str], ok: Sequence[int] = (0,)
             ) -> tuple[CommandResult | None, str | None]:
        """Run a command; return (result, None) or (None/result, error text)."""
        try:
            res = self.run(argv, self.timeout)
        except CommandError as e:
            return None, clip(str(e))
        except OSError as e:
            return None, clip(f"{argv[0]}: {e.strerror or e}")
        if res.returncode not in ok:
            detail = first_line(res.stderr) or first_line(res.stdout) or "no output"
            return res, clip(f"{argv[0]}: exit status {res.returncode}: {detail}")
        return res, None

    def newest_mtime(self, patterns: Sequence[str]) -> tuple[float | None, int]:
        """Newest modification time over files matching the globs, and how many."""
        times = [t for p in patterns for f in self.glob(p)
                 if (t := self.mtime(f)) is not None]
        return (max(times) if times else None), len(times)

    def newest_ctime(self, patterns: Sequence[str]) -> tuple[float | None, int]:
        """Newest change time (when this host wrote them) over files matching the globs."""
        times = [t for p in patterns for f in self.glob(p)
                 if (t := self.ctime(f)) is not None]
        return (max(times) if times else None), len(times)


def first_line(text: str) -> str:
    """The first non-blank line of some output, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


_NATURAL = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key comparing digit runs as numbers (kernel release strings)."""
    return tuple(int(p) if p.isdigit() else p for p in _NATURAL.split(text))


def split_nevra(nevra: str) -> tuple[str, str, str | None]:
    """Split ``name-[epoch:]version-release.arch`` into name, evr and arch."""
    arch = None
    base = nevra
    head, dot, tail = nevra.rpartition(".")
    if dot and tail and "-" not in tail and not tail[:1].isdigit():
        base, arch = head, tail
    parts = base.rsplit("-", 2)
    if len(parts) < 3:
        return base, "", arch
    return parts[0], f"{parts[1]}-{parts[2]}", arch
