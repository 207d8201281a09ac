"""The agent's state dir: key, enrollment record, sequence counter, run lock."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import filelock

SEQ_NAME = re.compile(r"^(\d{20})-")  # a spooled or dead-lettered report's file name
O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation of what is written


class StateError(Exception):
    """The state dir is missing something the command needs."""


class LockHeld(StateError):
    """Another run holds the run lock (not a failure: this run just does not start)."""


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
        self.repairs: list[str] = []  # state files repaired in this process (for meta)

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
        """The enrollment record; StateError when the agent never enrolled or it is broken."""
        try:
            doc = json.loads(self.enrollment_path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            msg = (f"not enrolled ({self.enrollment_path} missing): run `hostpatrol-agent "
                   f"enroll` with the join line from `hostpatrol-collector token create`")
            raise StateError(msg) from e
        except (ValueError, UnicodeDecodeError) as e:
            msg = (f"{self.enrollment_path} is not readable JSON ({e}): enroll again with "
                   f"`hostpatrol-agent enroll --force` and a new join line")
            raise StateError(msg) from e
        fields = set(Enrollment.__slots__)
        if not isinstance(doc, dict) or set(doc) != fields or not all(
                isinstance(v, str) for v in doc.values()):
            msg = (f"{self.enrollment_path} does not hold an enrollment record (fields "
                   f"{', '.join(sorted(fields))}): enroll again with `hostpatrol-agent "
                   f"enroll --force` and a new join line")
            raise StateError(msg)
        return Enrollment(**doc)

    def save_enrollment(self, enrollment: Enrollment) -> None:
        """Persist the enrollment record."""
        write_atomic(self.enrollment_path, json.dumps(enrollment.to_dict(), indent=1).encode())

    def next_seq(self) -> int:
        """Take the next report sequence number (durable across restarts).

        A ``seq`` file that is unreadable, or missing once the agent has run, must not stop
        the agent, nor may the number go back (the collector would suspect a clone): it
        continues from the current UTC time in milliseconds, above any count a real agent
        reaches, or from the highest seq still in the spool or dead letters. The repair is
        logged and kept in :attr:`repairs` for the next report's ``meta``.
        """
        path = self.root / "seq"
        try:
            text = path.read_text(encoding="ascii").strip()
            current = int(text)
            if current < 0 or len(text) > 19:
                raise ValueError(text[:40])
        except FileNotFoundError:
            current = self._seq_after_loss("missing") if self._has_run() else 0
        except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
            current = self._seq_after_loss(f"unreadable ({type(e).__name__}: {e})")
        write_atomic(path, f"{current + 1}\n".encode())
        return current + 1

    def _has_run(self) -> bool:
        return any((self.root / name).exists() for name in ("last_run.json", "spool",
                                                            "dead-letter", "delivery.json"))

    def _seq_after_loss(self, why: str) -> int:
        from hostpatrol.shared.clock import utcnow  # imported here: see write_atomic

        spooled = [int(m.group(1)) for folder in ("spool", "dead-letter")
                   if (self.root / folder).is_dir()
                   for m in map(SEQ_NAME.match, os.listdir(self.root / folder)) if m]
        current = max([int(utcnow().timestamp() * 1000), *spooled])
        note = f"seq file {why}: numbering continues from {current + 1}"
        logging.getLogger("hostpatrol.agent.state").error("%s", note)
        self.repairs.append(note[:300])
        return current

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
                raise LockHeld(msg) from e
            try:
                os.ftruncate(fd, 0)
                with contextlib.suppress(OSError):  # the pid is a hint; a full disk must not
                    os.write(fd, f"{os.getpid()}\n".encode())  # stop the run (it reports it)
                yield
            finally:
                filelock.unlock(fd)  # Windows may release a closed file's lock only later
        finally:
            os.close(fd)
