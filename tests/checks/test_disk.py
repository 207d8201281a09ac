"""disk: measure()/skip_reason() on a recorded mount list, and for real against df -P / df -i."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import jsonschema
from hostpatrol.agent.checks.disk import (
    IMAGE_FS,
    PSEUDO_FS,
    DiskCheck,
    Partition,
    Usage,
    df_percent,
    measure,
    skip_reason,
)
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "disk"
GIB = 1024 ** 3


def recorded() -> list[Partition]:
    rows = json.loads((FIX / "debian12_container_partitions.json").read_text())
    return [Partition(*r) for r in rows]


def fake_usage(devs: dict[str, int]):
    def usage(path: str) -> Usage:
        return Usage(100 * GIB, 22 * GIB, 78 * GIB, 1000, 250, 750, devs.get(path))
    return usage


def test_recorded_mounts_keep_only_the_root_filesystem():
    found, skipped = measure(recorded(), fake_usage({"/": 65024, "/run/netns": 65024}))
    assert [(f.mount, f.device, f.fstype) for f in found] == [("/", "/dev/vda", "ext4")]
    reasons = {s["mount"]: s["reason"] for s in skipped}
    assert reasons["/proc"] == "pseudo filesystem (proc)"
    assert reasons["/sys/fs/cgroup/unified"] == "pseudo filesystem (cgroup2)"
    assert reasons["/run/netns"] == "same filesystem as / (bind mount)"
    # every recorded mount is accounted for exactly once
    assert len(found) + len(skipped) == len(recorded())
    fs = found[0]
    assert fs.used_percent == 22.0
    assert fs.inodes_used_percent == 25.0
    assert fs.read_only is False


def test_skip_reason_and_ignore_mounts():
    part = Partition("/dev/sdb1", "/mnt/backup", "xfs", "rw")
    assert skip_reason(part, []) is None
    assert skip_reason(part, ["/mnt/*"]) == "ignored by config (ignore_mounts)"
    assert skip_reason(Partition("/dev/loop3", "/snap/core/1", "squashfs", "ro"), []) == \
        "read-only image (squashfs)"
    assert skip_reason(Partition("gvfsd-fuse", "/run/user/1000/gvfs", "fuse.gvfsd-fuse",
                                 "rw"), []) == "pseudo filesystem (fuse.gvfsd-fuse)"
    assert skip_reason(Partition("host:/x", "/mnt/x", "fuse.sshfs", "rw"), []) is None
    assert skip_reason(Partition("", "/mnt/y", "ext4", "rw"), []) == "no backing device"
    found, skipped = measure([*recorded(), part], fake_usage({}), ignore_mounts=["/mnt/*"])
    assert "/mnt/backup" not in [f.mount for f in found]
    assert {"mount": "/mnt/backup", "fstype": "xfs",
            "reason": "ignored by config (ignore_mounts)"} in skipped


def test_read_only_overmount_and_unreadable():
    parts = [
        Partition("/dev/sda1", "/", "ext4", "rw,relatime"),
        Partition("/dev/sdc1", "/data", "ext4", "rw"),
        Partition("/dev/sdd1", "/data", "xfs", "ro,noatime"),  # mounted over the first
        Partition("/dev/sde1", "/secret", "ext4", "rw"),
    ]

    def usage(path: str) -> Usage:
        if path == "/secret":
            raise PermissionError(13, "Permission denied")
        return Usage(10 * GIB, GIB, 9 * GIB, 10, 1, 9, {"/": 1, "/data": 2}[path])

    found, skipped = measure(parts, usage)
    assert [(f.mount, f.device, f.fstype, f.read_only) for f in found] == [
        ("/", "/dev/sda1", "ext4", False), ("/data", "/dev/sdd1", "xfs", True)]
    assert {"mount": "/secret", "fstype": "ext4",
            "reason": "unreadable: Permission denied"} in skipped
    assert {"mount": "/data", "fstype": "ext4",
            "reason": "mounted over (a later mount on the same point hides it)"} in skipped


def test_df_percent_rounds_up_like_df():
    assert df_percent(22, 78) == 22.0
    assert df_percent(1, 299999) == 0.01
    assert math.ceil(df_percent(220001, 779999)) == 23
    assert df_percent(0, 0) == 0.0


def _df(*flags: str) -> dict[str, list[str]]:
    out = subprocess.run(["df", "-P", "-T", *flags], capture_output=True, text=True,
                         check=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
    rows = {}
    for line in out.splitlines()[1:]:
        cols = line.split()
        if cols[1].lower() not in PSEUDO_FS and cols[1].lower() not in IMAGE_FS:
            rows[cols[-1]] = cols
    return rows


def _between(value: float, a: float, b: float, slack: float) -> bool:
    return min(a, b) - slack <= value <= max(a, b) + slack


def test_real_host_matches_df():
    before = DiskCheck().collect()
    df_blocks, df_inodes = _df(), _df("-i")
    after = DiskCheck().collect()
    jsonschema.Draft202012Validator(load_schema("disk")).validate(before.data)
    b = {f["mount"]: f for f in before.data["filesystems"]}
    a = {f["mount"]: f for f in after.data["filesystems"]}
    assert set(b) == set(df_blocks)
    assert set(b) == set(df_inodes)
    for mount, cols in df_blocks.items():
        _src, _type, blocks, used, avail, cap, _m = cols
        assert abs(b[mount]["total_bytes"] / 1024 - int(blocks)) <= 1
        # other processes write meanwhile: df's figure must lie between our two readings
        assert _between(int(used), b[mount]["used_bytes"] / 1024, a[mount]["used_bytes"] / 1024, 1)
        assert _between(int(avail), b[mount]["free_bytes"] / 1024, a[mount]["free_bytes"] / 1024,
                        1)
        assert _between(int(cap.rstrip("%")), math.ceil(b[mount]["used_percent"]),
                        math.ceil(a[mount]["used_percent"]), 0)
        icols = df_inodes[mount]
        assert int(icols[2]) == b[mount]["inodes_total"]
        assert _between(int(icols[3]), b[mount]["inodes_used"], a[mount]["inodes_used"], 0)
        assert _between(int(icols[5].rstrip("%")), math.ceil(b[mount]["inodes_used_percent"]),
                        math.ceil(a[mount]["inodes_used_percent"]), 0)
