"""disk: usage, free space and inodes of every real filesystem (like ``df -P`` / ``df -i``).

Needs no privileges. Measures what ``df`` lists by default, tmpfs and devtmpfs included
(a full ``/tmp``, ``/run`` or ``/dev/shm`` breaks a host as surely as a full disk). Pseudo
filesystems (proc, sysfs, cgroup…) and read-only image mounts (squashfs, iso9660 —
snaps, live media) are listed under ``skipped`` with why; so are bind mounts of a
filesystem already reported (on Linux, ``/proc/self/mountinfo`` says which mount shows
the filesystem's own root, and that one is reported, as df does).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import psutil

from .base import Check, Option, Outcome, worst
from .inventory import read_text

PSEUDO_FS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
    "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "sysfs", "tracefs",
    "fuse.gvfsd-fuse", "fuse.portal", "fuse.lxcfs", "overlay_pseudo", "devfs", "none",
})
IMAGE_FS = frozenset({"squashfs", "iso9660", "udf", "cramfs", "erofs"})


class Partition(NamedTuple):
    """A mounted filesystem as psutil lists it, plus the directory of the filesystem that
    is mounted there (mountinfo's root: ``/`` for a real mount, the subdirectory for a
    bind mount; None where the OS does not say)."""

    device: str
    mountpoint: str
    fstype: str
    opts: str
    root: str | None = None


class Usage(NamedTuple):
    """Space and inode figures for one mount (bytes and counts), as statvfs gives them."""

    total: int
    used: int
    free: int
    inodes_total: int
    inodes_used: int
    inodes_free: int
    dev: int | None = None  # st_dev: the same filesystem mounted twice has the same one


@dataclass(frozen=True, slots=True)
class Filesystem:
    """One real filesystem's usage, as reported."""

    device: str
    mount: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    used_percent: float
    inodes_total: int | None
    inodes_used: int | None
    inodes_used_percent: float | None
    read_only: bool

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {k: getattr(self, k) for k in self.__slots__}


def statvfs_usage(path: str) -> Usage:
    """Usage from ``os.statvfs`` computed the way GNU df does."""
    st = os.statvfs(path)
    dev = os.stat(path).st_dev
    total = st.f_blocks * st.f_frsize
    free_root = st.f_bfree * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return Usage(
        total=total,
        used=total - free_root,
        free=avail,
        inodes_total=st.f_files,
        inodes_used=st.f_files - st.f_ffree,
        inodes_free=st.f_ffree,
        dev=dev,
    )


def df_percent(used: int, avail: int) -> float:
    """Use% as df computes it: used / (used + available), rounded up to 0.01."""
    denominator = used + avail
    if denominator <= 0:
        return 0.0
    # integer ceiling, so rounding this value up to a whole percent gives df's figure
    return -(-used * 10000 // denominator) / 100


def skip_reason(part: Partition, ignore_mounts: Iterable[str]) -> str | None:
    """Why this mount is not a real filesystem to report, or None when it is."""
    fstype = part.fstype.lower()
    if any(fnmatch.fnmatchcase(part.mountpoint, pat) for pat in ignore_mounts):
        return "ignored by config (ignore_mounts)"
    if fstype in PSEUDO_FS or fstype.startswith("fuse.") and fstype != "fuse.sshfs":
        return f"pseudo filesystem ({part.fstype})"
    if fstype in IMAGE_FS:
        return f"read-only image ({part.fstype})"
    if not part.device or part.device in {"none", "systemd-1"}:
        return "no backing device"
    return None


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space) undone."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> dict[str, str]:
    """``/proc/self/mountinfo`` → mount point → root of the mount (the last mount wins)."""
    roots: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 10 and "-" in fields[6:]:
            roots[_unescape(fields[4])] = _unescape(fields[3])
    return roots


def _preference(part: Partition) -> tuple[int, int]:
    """df's choice among mounts of one filesystem: the filesystem's own root first (a bind
    mount of a subdirectory never replaces it), then the shortest mount point."""
    depth = 0 if part.root in (None, "/") else len(part.root.rstrip("/").split("/"))
    return depth, len(part.mountpoint)


def measure(
    partitions: Iterable[Partition],
    usage: Callable[[str], Usage],
    ignore_mounts: Iterable[str] = (),
) -> tuple[list[Filesystem], list[dict[str, str]]]:
    """Turn mounts into reported filesystems and skipped entries (pure, given usage).

    Like df: when a mount point is listed twice the later mount (the visible one) is
    measured, and a filesystem mounted at several places (bind mounts, same st_dev) is
    reported once: at the mount of its own root, else at its shortest mount point.
    """
    ignore = tuple(ignore_mounts)
    parts = list(partitions)
    last = {p.mountpoint: i for i, p in enumerate(parts)}
    skipped: list[dict[str, str]] = []
    measured: list[tuple[Partition, Usage]] = []
    for i, part in enumerate(parts):
        reason = skip_reason(part, ignore)
        if reason is None and last[part.mountpoint] != i:
            reason = "mounted over (a later mount on the same point hides it)"
        if reason is not None:
            skipped.append({"mount": part.mountpoint, "fstype": part.fstype, "reason": reason})
            continue
        try:
            u = usage(part.mountpoint)
        except OSError as e:
            skipped.append({"mount": part.mountpoint, "fstype": part.fstype,
                            "reason": f"unreadable: {e.strerror or e}"})
            continue
        if u.total == 0:
            skipped.append({"mount": part.mountpoint, "fstype": part.fstype,
                            "reason": "zero size"})
            continue
        measured.append((part, u))
    keep: dict[int, int] = {}  # st_dev -> index in measured of the mount to report
    for i, (part, u) in enumerate(measured):
        j = keep.get(u.dev) if u.dev is not None else None
        if u.dev is not None and (j is None or _preference(part) < _preference(measured[j][0])):
            keep[u.dev] = i
    found: list[Filesystem] = []
    for i, (part, u) in enumerate(measured):
        if u.dev is not None and keep[u.dev] != i:
            skipped.append({"mount": part.mountpoint, "fstype": part.fstype,
                            "reason": "same filesystem as "
                                      f"{measured[keep[u.dev]][0].mountpoint} (bind mount)"})
            continue
        found.append(_filesystem(part, u))
    return found, skipped


def _filesystem(part: Partition, u: Usage) -> Filesystem:
    has_inodes = u.inodes_total > 0
    return Filesystem(
        device=part.device,
        mount=part.mountpoint,
        fstype=part.fstype,
        total_bytes=u.total,
        used_bytes=u.used,
        free_bytes=u.free,
        used_percent=df_percent(u.used, u.free),
        inodes_total=u.inodes_total if has_inodes else None,
        inodes_used=u.inodes_used if has_inodes else None,
        inodes_used_percent=df_percent(u.inodes_used, u.inodes_free) if has_inodes else None,
        read_only="ro" in part.opts.split(","),
    )


def _level(percent: float | None, warn: float, fail: float) -> str:
    if percent is None:
        return "ok"
    return "fail" if percent >= fail else "warn" if percent >= warn else "ok"


def status_of(fs: Filesystem, warn: float, fail: float, inode_warn: float,
              inode_fail: float = 95) -> str:
    """Local status for one filesystem: space and inodes, each against its thresholds (no
    free inode is as full as no free block: nothing new can be written)."""
    return worst(_level(fs.used_percent, warn, fail),
                 _level(fs.inodes_used_percent, inode_warn, inode_fail))


def psutil_partitions(mountinfo: str = "/proc/self/mountinfo") -> list[Partition]:
    """Every mount, pseudo ones included, so the skipped list is complete; on Linux with
    the root of each mount from mountinfo."""
    roots = parse_mountinfo(read_text(mountinfo) or "")
    return [Partition(p.device, p.mountpoint, p.fstype, p.opts, roots.get(p.mountpoint))
            for p in psutil.disk_partitions(all=True)]


class DiskCheck(Check):
    """Usage of each logical disk; no privileges needed."""

    name: ClassVar[str] = "disk"
    schedule: ClassVar[str] = "heartbeat"
    timeout: ClassVar[float] = 20.0
    options: ClassVar = {
        "warn_percent": Option((int, float), 85, "used % at which a filesystem warns"),
        "fail_percent": Option((int, float), 95, "used % at which a filesystem fails"),
        "inode_warn_percent": Option((int, float), 90, "inode use % at which it warns"),
        "inode_fail_percent": Option((int, float), 95, "inode use % at which it fails"),
        "ignore_mounts": Option(list, [], "mount point globs never reported (e.g. "
                                "/run/user/*; tmpfs is measured like any disk)"),
    }

    def __init__(self, *args: Any, partitions: Callable[[], list[Partition]] = psutil_partitions,
                 usage: Callable[[str], Usage] = statvfs_usage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partitions = partitions
        self.usage = usage

    def collect(self) -> Outcome:
        """Measure every real filesystem."""
        c = self.config
        found, skipped = measure(self.partitions(), self.usage, c["ignore_mounts"])
        rows = []
        statuses = []
        for fs in found:
            st = status_of(fs, c["warn_percent"], c["fail_percent"], c["inode_warn_percent"],
                           c["inode_fail_percent"])
            statuses.append(st)
            rows.append({**fs.to_dict(), "status": st})
        return Outcome(worst(*statuses), {"filesystems": rows, "skipped": skipped})
