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
    Filesystem,
    Partition,
    Usage,
    df_percent,
    measure,
    parse_mountinfo,
    skip_reason,
    status_of,
)
from hostpatrol.agent.summaries import summarize
from hostpatrol.shared.schemas import load_schema
from machine import loop_image, mounted, sh

FIX = Path(__file__).parent.parent / "fixtures" / "disk"
GIB = 1024 ** 3


def recorded() -> list[Partition]:
    rows = json.loads((FIX / "debian12_container_partitions.json").read_text())
    roots = parse_mountinfo((FIX / "debian12_container_mountinfo.txt").read_text())
    return [Partition(*r, roots.get(r[1])) for r in rows]


def fake_usage(devs: dict[str, int]):
    def usage(path: str) -> Usage:
        return Usage(100 * GIB, 22 * GIB, 78 * GIB, 1000, 250, 750, devs.get(path))
    return usage


def test_recorded_mounts_are_what_df_lists():
    found, skipped = measure(recorded(), fake_usage({"/": 65024, "/run/netns": 65024}))
    # df -P -T on that machine lists these five (tmpfs and devtmpfs included), once each
    assert [(f.mount, f.device, f.fstype) for f in found] == [
        ("/dev", "devtmpfs", "devtmpfs"), ("/", "/dev/vda", "ext4"),
        ("/mnt/sandboxing/model_tools_env/v1/python", "model_tools_unavailable", "tmpfs"),
        ("/dev/shm", "tmpfs", "tmpfs"), ("/sys/fs/cgroup", "tmpfs", "tmpfs")]
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


def test_mountinfo_roots_and_escapes():
    roots = parse_mountinfo((FIX / "debian12_container_mountinfo.txt").read_text())
    assert roots["/"] == "/"
    assert roots["/run/netns"] == "/run/netns"  # a bind mount of a directory of /
    line = r"50 27 7:0 /sub\040dir /mnt/with\040space rw - ext4 /dev/loop0 rw"
    assert parse_mountinfo(line) == {"/mnt/with space": "/sub dir"}
    assert parse_mountinfo("garbage\n\n") == {}


def test_bind_mount_never_replaces_the_real_mount():
    real = Partition("/dev/loop0", "/srv/data/volume", "ext4", "rw", "/")
    bind = Partition("/dev/loop0", "/b", "ext4", "rw", "/sub")

    def usage(path: str) -> Usage:
        return Usage(10 * GIB, GIB, 9 * GIB, 10, 1, 9, 7)

    for order in ([real, bind], [bind, real]):
        found, skipped = measure(order, usage)
        assert [f.mount for f in found] == ["/srv/data/volume"]
        assert skipped == [{"mount": "/b", "fstype": "ext4",
                            "reason": "same filesystem as /srv/data/volume (bind mount)"}]
    # without roots (not Linux): the shortest mount point, as before
    found, _ = measure([real._replace(root=None), bind._replace(root=None)], usage)
    assert [f.mount for f in found] == ["/b"]


def test_inodes_exhausted_fail_like_a_full_disk():
    def fs(pct: float, ipct: float | None) -> Filesystem:
        return Filesystem("/dev/x", "/x", "ext4", 100, 1, 99, pct, 10, 10, ipct, False)

    assert status_of(fs(10, 100.0), 85, 95, 90, 95) == "fail"
    assert status_of(fs(10, 92.0), 85, 95, 90, 95) == "warn"
    assert status_of(fs(96, 10.0), 85, 95, 90, 95) == "fail"
    assert status_of(fs(10, None), 85, 95, 90, 95) == "ok"


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
    tmp = Partition("tmpfs", "/run/user/1000", "tmpfs", "rw")
    assert skip_reason(tmp, []) is None  # measured, as df does
    assert skip_reason(tmp, ["/run/user/*"]) == "ignored by config (ignore_mounts)"
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


def _df_row(path: Path, *flags: str) -> list[str]:
    """df's own line for one mount: [source, type, total, used, avail, use%, mount]."""
    out = sh("df", "-P", "-T", *flags, str(path)).stdout.splitlines()
    return out[-1].split()


def _row(check: DiskCheck, mount: Path) -> dict:
    out = check.collect()
    jsonschema.Draft202012Validator(load_schema("disk")).validate(out.data)
    rows = {f["mount"]: f for f in out.data["filesystems"]}
    assert str(mount) in rows, (mount, out.data["skipped"])
    return rows[str(mount)]


# --- real edge cases on this machine, judged against df ------------------------------

def test_full_tmpfs_is_measured_and_fails_like_df(tmp_path):
    with mounted(tmp_path / "t", "-t", "tmpfs", "-o", "size=1m", "tmpfs") as t:
        subprocess.run(["dd", "if=/dev/zero", f"of={t / 'fill'}", "bs=4k"],
                       capture_output=True, check=False)  # until ENOSPC
        row = _row(DiskCheck(), t)
        src, fstype, total, used, avail, cap, mount = _df_row(t)
        assert (row["fstype"], row["device"], row["mount"]) == (fstype, src, mount)
        assert cap == "100%"
        assert row["used_percent"] == 100.0
        assert row["total_bytes"] // 1024 == int(total)
        assert row["status"] == "fail"
        # an admin who does not want a mount judged says so, and sees why it is missing
        out = DiskCheck({"ignore_mounts": [str(tmp_path / "*")]}).collect()
        assert str(t) not in [f["mount"] for f in out.data["filesystems"]]
        assert {"mount": str(t), "fstype": "tmpfs",
                "reason": "ignored by config (ignore_mounts)"} in out.data["skipped"]


def test_rounding_in_the_table_is_dfs(tmp_path):
    # tmpfs of 2500 pages; 2401 used is 96.04 %: df says 97 %, and so must the table
    with mounted(tmp_path / "t", "-t", "tmpfs", "-o", "size=10000k", "tmpfs") as t:
        (t / "fill").write_bytes(b"\0" * 2401 * 4096)
        check = DiskCheck()
        row = _row(check, t)
        cap = _df_row(t)[5]
        assert 96 < row["used_percent"] < 97
        assert cap == "97%"
        line = summarize("disk", "warn", {"filesystems": [row]}, None)
        assert line == f"{t} {cap}"


def test_inode_exhausted_loop_image_fails_like_df_i(tmp_path):
    with loop_image(tmp_path / "img", tmp_path / "m", 8, "-N", "32") as m:
        n = 0
        while True:
            try:
                (m / f"f{n}").touch()
            except OSError:
                break
            n += 1
        row = _row(DiskCheck(), m)
        icols = _df_row(m, "-i")
        assert icols[5] == "100%"
        assert (row["inodes_total"], row["inodes_used"]) == (int(icols[2]), int(icols[3]))
        assert row["inodes_used_percent"] == 100.0
        assert row["used_percent"] < 85  # plenty of blocks left: the inodes fail it alone
        assert row["status"] == "fail"


def test_bind_mount_reported_at_the_real_mount_like_df(tmp_path):
    # the real mount has the longer path: "shortest path wins" would pick the bind mount
    real = tmp_path / "volumes" / "real-data-volume"
    with loop_image(tmp_path / "img", real, 8) as m:
        (m / "sub").mkdir()
        with mounted(tmp_path / "b", "--bind", str(m / "sub")) as b:
            out = DiskCheck().collect()
            mounts = [f["mount"] for f in out.data["filesystems"]]
            assert str(m) in mounts
            assert str(b) not in mounts
            assert {"mount": str(b), "fstype": "ext4",
                    "reason": f"same filesystem as {m} (bind mount)"} in out.data["skipped"]
            listed = sh("df", "-P").stdout.split()
            assert str(m) in listed
            assert str(b) not in listed


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
