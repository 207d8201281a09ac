"""Reading plain log files from a saved position that survives rotation and truncation.

A position is (device, inode, offset). When the file at the path is still that inode,
reading resumes at the offset (or at 0 if the file shrank: truncated, as
``copytruncate`` does). When the path holds a new inode the file was rotated: the old
inode is looked for among ``name.1``, ``name.0``, ``name-YYYYMMDD`` …, its rest is read
first, then the new file from 0. Only whole lines are consumed, and reading stops at
the line budget with the position just after the last line read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import ostext

MAX_LINE_BYTES = 64 * 1024
_COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4")


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading stopped in one file, by identity (dev, inode) and byte offset."""

    dev: int
    inode: int
    offset: int

    def to_dict(self) -> dict[str, int]:
        """The state-file form."""
        return {"dev": self.dev, "inode": self.inode, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: Any) -> Position | None:
        """Parse the state-file form; None when it is malformed."""
        try:
            return cls(int(d["dev"]), int(d["inode"]), int(d["offset"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class FileRead:
    """What one file read produced: lines consumed, new position and what happened."""

    path: str
    position: Position | None
    lines: int
    rotated: bool = False
    rotated_from: str | None = None
    rotation_lost: bool = False
    truncated: bool = False
    hit_budget: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (position left out: it is state, not evidence)."""
        return {
            "path": self.path, "lines": self.lines, "rotated": self.rotated,
            "rotated_from": self.rotated_from, "rotation_lost": self.rotation_lost,
            "truncated": self.truncated, "hit_budget": self.hit_budget, "error": self.error,
        }


def rotated_candidates(path: Path) -> list[Path]:
    """Uncompressed siblings a rotator may have renamed ``path`` to, likeliest first."""
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return []
    prefix = path.name
    found = [p for p in siblings
             if p.name != prefix and p.name.startswith((prefix + ".", prefix + "-"))
             and not p.name.endswith(_COMPRESSED)]
    return sorted(found, key=lambda p: (p.name != prefix + ".1", p.name != prefix + ".0", p.name))


def _read_from(path: Path, offset: int, budget: int,
               sink: Callable[[str], None]) -> tuple[int, int, bool]:
    """Feed whole lines from ``offset``; return (new offset, lines, stopped by budget)."""
    lines = 0
    with path.open("rb") as f:
        f.seek(offset)
        while lines < budget:
            raw = f.readline(MAX_LINE_BYTES)
            if not raw:
                return offset, lines, False
            if not raw.endswith(b"\n") and len(raw) < MAX_LINE_BYTES:
                return offset, lines, False  # partial line still being written
            offset += len(raw)
            lines += 1
            sink(ostext.decode(raw))
        more = f.read(1) != b""
    return offset, lines, more


def read_since(path: str, saved: Position | None, budget: int,
               sink: Callable[[str], None]) -> FileRead:
    """Feed every line written to ``path`` since ``saved`` to ``sink``, up to ``budget``."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        return FileRead(path, saved, 0, error=f"cannot stat: {e.strerror or e}")
    try:
        if saved is not None and (st is None or (st.st_dev, st.st_ino) != (saved.dev, saved.inode)):
            return _after_rotation(p, st, saved, budget, sink)
        if st is None:
            return FileRead(path, saved, 0, error="missing")
        start = 0 if saved is None else saved.offset
        truncated = saved is not None and st.st_size < saved.offset
        if truncated:
            start = 0
        offset, n, more = _read_from(p, start, budget, sink)
        return FileRead(path, Position(st.st_dev, st.st_ino, offset), n,
                        truncated=truncated, hit_budget=more)
    except OSError as e:
        return FileRead(path, saved, 0, error=f"cannot read: {e.strerror or e}")


def _after_rotation(p: Path, st: os.stat_result | None, saved: Position, budget: int,
                    sink: Callable[[str], None]) -> FileRead:
    old = next((c for c in rotated_candidates(p) if _same_file(c, saved)), None)
    n_old = 0
    old_pos: Position | None = None
    if old is not None:
        start = saved.offset if old.stat().st_size >= saved.offset else 0
        offset, n_old, more = _read_from(old, start, budget, sink)
        old_pos = Position(saved.dev, saved.inode, offset)
        if more or n_old >= budget:
            # Budget spent inside the old file: stay on it, the rest comes next run.
            return FileRead(str(p), old_pos, n_old, rotated=True, rotated_from=str(old),
                            hit_budget=True)
    if st is None:
        return FileRead(str(p), old_pos, n_old, rotated=True,
                        rotated_from=str(old) if old else None, rotation_lost=old is None,
                        error="missing")
    offset, n_new, more = _read_from(p, 0, budget - n_old, sink)
    return FileRead(str(p), Position(st.st_dev, st.st_ino, offset), n_old + n_new,
                    rotated=True, rotated_from=str(old) if old else None,
                    rotation_lost=old is None, hit_budget=more)


def _same_file(candidate: Path, saved: Position) -> bool:
    try:
        st = candidate.stat()
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (saved.dev, saved.inode)
