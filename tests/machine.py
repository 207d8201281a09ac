"""Throwaway changes to this machine for the real-host check tests: mounts, users, sudoers
rules, package holds. Each helper undoes only what it did itself (a name that already
exists is refused, never reused or removed), on failure too.

They need root: CI runs as root; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def need_root(what: str) -> None:
    """Fail in CI, skip elsewhere, when not root (``what`` says what needs it)."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} needs root: CI runs the suite as root")
    pytest.skip(f"{what} needs root")


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    """Run a host tool in the C locale; its output as text."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(list(argv), capture_output=True, text=True, check=check,
                          env=env, timeout=kw.pop("timeout", 120), **kw)


def _is_mountpoint(path: Path) -> bool:
    return sh("mountpoint", "-q", str(path), check=False).returncode == 0


@contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    """``mount *mount_args target`` on a directory this helper creates; unmounted after."""
    need_root("mounting")
    target.mkdir(parents=True)
    sh("mount", *mount_args, str(target))
    try:
        yield target
    finally:
        if _is_mountpoint(target):
            sh("umount", str(target), check=False)
        if _is_mountpoint(target):
            sh("umount", "-l", str(target), check=False)
        target.rmdir()


@contextmanager
def loop_image(image: Path, target: Path, size_mb: int, *mkfs_args: str) -> Iterator[Path]:
    """A fresh ext4 image file (``mkfs.ext4 *mkfs_args``) loop-mounted at ``target``."""
    need_root("a loop mount")
    with image.open("wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    sh("mkfs.ext4", "-q", "-F", *mkfs_args, str(image))
    with mounted(target, "-o", "loop", str(image)) as where:
        yield where


def throwaway_name(prefix: str = "hpt") -> str:
    """A user/group name no one has: prefix + random hex (≤ 16 characters)."""
    for _ in range(20):
        name = f"{prefix}{secrets.token_hex(4)}"
        if sh("getent", "passwd", name, check=False).returncode != 0 and \
                sh("getent", "group", name, check=False).returncode != 0:
            return name
    raise AssertionError("no free throwaway name")


@contextmanager
def throwaway_user(home_root: Path, *useradd_args: str,
                   name: str | None = None) -> Iterator[str]:
    """A new local user with a new home under ``home_root`` (a test's tmp dir); removed
    afterwards with ``userdel`` (its group too), the home only if this helper made it."""
    need_root("creating a user")
    name = name or throwaway_name()
    home = home_root / name
    assert not home.exists(), f"{home} exists: not a throwaway home"
    sh("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
       *useradd_args, name)
    try:
        yield name
    finally:
        if sh("getent", "passwd", name, check=False).returncode == 0:
            sh("userdel", "--force", name, check=False)
        if sh("getent", "group", name, check=False).returncode == 0:
            sh("groupdel", name, check=False)
        if home.is_dir() and home.parent == home_root:
            sh("rm", "-rf", "--one-file-system", str(home), check=False)


@contextmanager
def edited_account_files(name: str, *, passwd_field: str | None = None,
                         drop_shadow: bool = False) -> Iterator[None]:
    """Change one throwaway user's lines in /etc/passwd and /etc/shadow the way an admin
    editing them by hand would (``vipw`` locks): the password field, or no shadow line.
    The user's own lines are put back afterwards; other lines are never touched."""
    need_root("editing /etc/passwd")
    passwd, shadow = Path("/etc/passwd"), Path("/etc/shadow")
    saved_p = next(line for line in passwd.read_text().splitlines()
                   if line.startswith(f"{name}:"))
    saved_s = [line for line in shadow.read_text().splitlines() if line.startswith(f"{name}:")]
    if passwd_field is not None:
        _replace_line(passwd, name, ":".join([name, passwd_field, *saved_p.split(":")[2:]]))
    if drop_shadow:
        _replace_line(shadow, name, None)
    try:
        yield
    finally:
        _replace_line(passwd, name, saved_p)
        if drop_shadow and saved_s:
            _replace_line(shadow, name, saved_s[0], append=True)


def _replace_line(path: Path, name: str, new: str | None, append: bool = False) -> None:
    """Swap ``name``'s line under glibc's ``lckpwdf`` lock (/etc/.pwd.lock), as vipw does."""
    with open("/etc/.pwd.lock", "a") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        _swap(path, name, new, append)


def _swap(path: Path, name: str, new: str | None, append: bool) -> None:
    lines = path.read_text().splitlines()
    out = [line for line in lines if not line.startswith(f"{name}:")]
    if new is not None:
        if append or len(out) == len(lines):
            out.append(new)
        else:
            out.insert(next(i for i, line in enumerate(lines) if line.startswith(f"{name}:")),
                       new)
    mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.hpt{os.getpid()}")
    tmp.write_text("\n".join(out) + "\n")
    os.chmod(tmp, mode)
    st = path.stat()
    os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)


@contextmanager
def sudoers_dropin(text: str) -> Iterator[Path]:
    """A new file in /etc/sudoers.d (checked by ``visudo -c`` first); removed afterwards."""
    need_root("a sudoers rule")
    path = Path("/etc/sudoers.d") / f"zz-hpt-{secrets.token_hex(4)}"
    tmp = Path(f"/tmp/.hpt-sudoers-{secrets.token_hex(4)}")
    tmp.write_text(text)
    try:
        sh("visudo", "-c", "-q", "-f", str(tmp))
    finally:
        tmp.unlink()
    path.write_text(text)
    os.chmod(path, 0o440)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def held(package: str) -> Iterator[None]:
    """``apt-mark hold`` a package that was not held; ``unhold`` it afterwards."""
    need_root("apt-mark hold")
    before = sh("apt-mark", "showhold").stdout.split()
    assert package not in before, f"{package} is already held: not ours to unhold"
    sh("apt-mark", "hold", package)
    try:
        yield
    finally:
        sh("apt-mark", "unhold", package, check=False)


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a process this test started (kill it after 10 s) and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
