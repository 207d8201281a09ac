"""The agent's state dir: key, enrollment record, sequence counter, run lock."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import filelock

O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation of what is written


class StateError(Exception):
    """The state dir is missing something the command needs."""


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data``: temp file, fsync, rename, fsync dir."""
    if mode == 0o600:
        # imported here: shared.keys pulls in cryptography, which the sleeping daemon avoids
        from hostpatrol.shared.keys import write_private_atomic

        write_private_atomic(path, data)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_BINARY, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (Windows cannot open a directory; NTFS journals)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """What enrollment taught the agent: where, who, and whose key to trust."""

    server: str
    fingerprint: str
    agent_id: str
    status: str
    collector_key: str  # base64url Ed25519 public key

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {k: getattr(self, k) for k in self.__slots__}


class State:
    """Paths and small durable records under the state dir."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def key_path(self) -> Path:
        """The agent's Ed25519 private key (0600)."""
        return self.root / "agent.key"

    @property
    def spool_dir(self) -> Path:
        """The durable outbox."""
        return self.root / "spool"

    @property
    def enrollment_path(self) -> Path:
        """The enrollment record."""
        return self.root / "enrollment.json"

    def ensure(self) -> None:
        """Create the state dir (0700)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def enrollment(self) -> Enrollment:
        """The enrollment record; StateError when the agent never enrolled."""
        try:
            doc = json.loads(self.enrollment_path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            msg = (f"not enrolled ({self.enrollment_path} missing): run `hostpatrol-agent "
                   f"enroll` with the join line from `hostpatrol-collector token create`")
            raise StateError(msg) from e
        return Enrollment(**doc)

    def save_enrollment(self, enrollment: Enrollment) -> None:
        """Persist the enrollment record."""
        write_atomic(self.enrollment_path, json.dumps(enrollment.to_dict(), indent=1).encode())

    def next_seq(self) -> int:
        """Take the next report sequence number (durable across restarts)."""
        path = self.root / "seq"
        try:
            current = int(path.read_text(encoding="ascii").strip() or "0")
        except FileNotFoundError:
            current = 0
        write_atomic(path, f"{current + 1}\n".encode())
        return current + 1

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """Hold the exclusive run lock; StateError if another run holds it."""
        self.ensure()
        fd = os.open(self.root / "run.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                filelock.lock(fd)  # flock on POSIX, msvcrt.locking on Windows
            except BlockingIOError as e:
                msg = "another hostpatrol-agent run is in progress (run.lock is held)"
                raise StateError(msg) from e
            try:
                os.ftruncate(fd, 0)
                with contextlib.suppress(OSError):  # the pid is a hint; a full disk must not
                    os.write(fd, f"{os.getpid()}\n".encode())  # stop the run (it reports it)
                yield
            finally:
                filelock.unlock(fd)  # Windows may release a closed file's lock only later
        finally:
            os.close(fd)
