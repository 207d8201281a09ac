"""The durable outbox: each signed report is a file, written before any delivery.

Write: temp file, fsync, rename, fsync dir. A report leaves the spool only when the
collector acknowledged it (accepted or duplicate); one it refused moves to
``dead-letter/`` with the reason beside it. Files sort by sequence number, so delivery
is in order.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .state import fsync_dir

log = logging.getLogger("hostpatrol.agent.spool")
NAME = re.compile(r"^(\d{20})-([0-9a-f-]{36})\.jws$")


@dataclass(frozen=True, slots=True)
class Spooled:
    """One report waiting in the spool."""

    path: Path
    seq: int
    report_id: str

    def read(self) -> str:
        """The JWS as written."""
        return self.path.read_text(encoding="ascii").strip()


class Spool:
    """A directory of signed reports awaiting acknowledgement."""

    def __init__(self, root: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.dead = self.root.parent / "dead-letter"
        self.max_bytes = max_bytes

    def put(self, seq: int, report_id: str, jws: str) -> Spooled:
        """Durably store a signed report; return its entry."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{seq:020d}-{report_id}.jws"
        final = self.root / name
        tmp = self.root / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, jws.encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fsync_dir(self.root)
        size = self.size()
        if size > self.max_bytes:
            log.warning("spool over its cap bytes=%d cap=%d dir=%s", size, self.max_bytes,
                        self.root)
        return Spooled(final, seq, report_id)

    def pending(self) -> list[Spooled]:
        """Reports not yet acknowledged, oldest first (partial temp files ignored)."""
        if not self.root.exists():
            return []
        out = []
        for entry in sorted(os.listdir(self.root)):
            m = NAME.match(entry)
            if m:
                out.append(Spooled(self.root / entry, int(m.group(1)), m.group(2)))
        return out

    def size(self) -> int:
        """Bytes held by pending reports."""
        return sum(s.path.stat().st_size for s in self.pending())

    def acknowledge(self, item: Spooled) -> None:
        """The collector has it: remove it."""
        item.path.unlink(missing_ok=True)
        fsync_dir(self.root)

    def reject(self, item: Spooled, status: int, reason: str) -> Path:
        """The collector refused it for good: move it aside with the reason."""
        self.dead.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.dead / item.path.name
        os.replace(item.path, target)
        target.with_suffix(".reason.json").write_text(
            json.dumps({"status": status, "error": reason}), encoding="utf-8")
        fsync_dir(self.dead)
        fsync_dir(self.root)
        return target
