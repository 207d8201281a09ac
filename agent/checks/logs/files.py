"""Reading plain log files from a saved position that survives rotation and truncation.

A position is (device, inode, offset) plus a fingerprint of the file's first bytes (as
log shippers keep). When the file at the path is still that inode and still starts with
those bytes, reading resumes at the offset. When it shrank below the offset or starts
differently, it was truncated (``copytruncate``) — even if it has grown past the old
offset since: the rotated copy (``name.1``, ``name-YYYYMMDD`` …, found by the same
fingerprint) holds the lines written between the last read and the truncation, and is
read from the offset first, then the file from 0. When the path holds a new inode the
file was rotated: the old inode is looked for the same way, its rest read first. Only
whole lines are consumed, and reading stops at the line budget with the position just
after the last line read. A file never read before starts at its first line no older
than the look-back window (found by bisecting on line times), not at its beginning.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ... import ostext

MAX_LINE_BYTES = 64 * 1024
HEAD_BYTES = 1024  # fingerprint: the file's first bytes (or all of it when shorter)
_COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4")


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading stopped in one file: identity (dev, inode), byte offset, and the
    fingerprint (sha256) of its first ``head_len`` bytes ("" when not taken)."""

    dev: int
    inode: int
    offset: int
    head: str = ""
    head_len: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The state-file form."""
        return {"dev": self.dev, "inode": self.inode, "offset": self.offset,
                "head": self.head, "head_len": self.head_len}

    @classmethod
    def from_dict(cls, d: Any) -> Position | None:
        """Parse the state-file form (older states have no fingerprint); None when malformed."""
        try:
            head = d.get("head", "")
            return cls(int(d["dev"]), int(d["inode"]), int(d["offset"]),
                       head if isinstance(head, str) else "", int(d.get("head_len", 0)))
        except (AttributeError, KeyError, TypeError, ValueError):
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
    started_at: int | None = None  # first read: the byte where the look-back window starts

    def to_dict(self) -> dict[str, Any]:
        """The wire form (position left out: it is state, not evidence)."""
        return {
            "path": self.path, "lines": self.lines, "rotated": self.rotated,
            "rotated_from": self.rotated_from, "rotation_lost": self.rotation_lost,
            "truncated": self.truncated, "hit_budget": self.hit_budget, "error": self.error,
            "first_read_from": self.started_at,
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


def fingerprint(path: Path, length: int = HEAD_BYTES) -> tuple[str, int]:
    """sha256 of a file's first ``length`` bytes (fewer when it is shorter), and how many."""
    with path.open("rb") as f:
        data = f.read(length)
    return hashlib.sha256(data).hexdigest(), len(data)


def _starts_as(path: Path, saved: Position) -> bool:
    """Whether the file still begins with the bytes fingerprinted at the last read."""
    if not saved.head:
        return True  # an older state without a fingerprint: trust the size check alone
    try:
        return fingerprint(path, saved.head_len) == (saved.head, saved.head_len)
    except OSError:
        return False


def _position(path: Path, st: os.stat_result, offset: int) -> Position:
    head, length = fingerprint(path)
    return Position(st.st_dev, st.st_ino, offset, head, length)


def read_since(path: str, saved: Position | None, budget: int, sink: Callable[[str], None],
               since: float | None = None,
               stamp: Callable[[str], float | None] | None = None) -> FileRead:
    """Feed every line written to ``path`` since ``saved`` to ``sink``, up to ``budget``.

    With no saved position, reading starts at the first line stamped ``since`` or later
    (``stamp`` gives a line's time) when both are given, else at the beginning.
    """
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
        if saved is not None and (st.st_size < saved.offset or not _starts_as(p, saved)):
            return _after_truncation(p, st, saved, budget, sink)
        start = saved.offset if saved is not None else 0
        first = None
        if saved is None and since is not None and stamp is not None:
            start = first = first_line_since(p, since, stamp)
        offset, n, more = _read_from(p, start, budget, sink)
        return FileRead(path, _position(p, st, offset), n, hit_budget=more, started_at=first)
    except OSError as e:
        return FileRead(path, saved, 0, error=f"cannot read: {e.strerror or e}")


def _after_truncation(p: Path, st: os.stat_result, saved: Position, budget: int,
                      sink: Callable[[str], None]) -> FileRead:
    """copytruncate: the copy holds what was written after the last read; then from 0."""
    copy = next((c for c in rotated_candidates(p) if _is_copy_of(c, saved)), None)
    n_old = 0
    if copy is not None:
        offset, n_old, more = _read_from(copy, saved.offset, budget, sink)
        if more or n_old >= budget:
            # Budget spent in the copy: remember it by its own identity, finish it next run.
            cst = copy.stat()
            return FileRead(str(p), Position(cst.st_dev, cst.st_ino, offset, saved.head,
                                             saved.head_len), n_old, truncated=True,
                            rotated_from=str(copy), hit_budget=True)
    offset, n_new, more = _read_from(p, 0, budget - n_old, sink)
    return FileRead(str(p), _position(p, st, offset), n_old + n_new, truncated=True,
                    rotated_from=str(copy) if copy else None, rotation_lost=copy is None,
                    hit_budget=more)


def _is_copy_of(candidate: Path, saved: Position) -> bool:
    try:
        return candidate.stat().st_size >= saved.offset and bool(saved.head) \
            and _starts_as(candidate, saved)
    except OSError:
        return False


def _after_rotation(p: Path, st: os.stat_result | None, saved: Position, budget: int,
                    sink: Callable[[str], None]) -> FileRead:
    old = next((c for c in rotated_candidates(p) if _same_file(c, saved)), None)
    n_old = 0
    old_pos: Position | None = None
    if old is not None:
        start = saved.offset if old.stat().st_size >= saved.offset else 0
        offset, n_old, more = _read_from(old, start, budget, sink)
        old_pos = Position(saved.dev, saved.inode, offset, saved.head, saved.head_len)
        if more or n_old >= budget:
            # Budget spent inside the old file: stay on it, the rest comes next run.
            return FileRead(str(p), old_pos, n_old, rotated=True, rotated_from=str(old),
                            hit_budget=True)
    if st is None:
        return FileRead(str(p), old_pos, n_old, rotated=True,
                        rotated_from=str(old) if old else None, rotation_lost=old is None,
                        error="missing")
    offset, n_new, more = _read_from(p, 0, budget - n_old, sink)
    return FileRead(str(p), _position(p, st, offset), n_old + n_new,
                    rotated=True, rotated_from=str(old) if old else None,
                    rotation_lost=old is None, hit_budget=more)


def _same_file(candidate: Path, saved: Position) -> bool:
    try:
        st = candidate.stat()
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (saved.dev, saved.inode)


def first_line_since(path: Path, since: float, stamp: Callable[[str], float | None]) -> int:
    """Byte offset of the first line stamped ``since`` or later (bisecting on line times,
    which a log file keeps in order); the file's end when every line is older."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        lo, hi = 0, size
        while hi - lo > 64 * 1024:
            mid = (lo + hi) // 2
            found = _next_stamp(f, mid, hi, stamp)
            if found is None:
                hi = mid
            elif found[1] < since:
                lo = found[0]
            else:
                hi = mid
        f.seek(lo)  # lo is always a line start: 0, or just past an older stamped line
        while True:
            at = f.tell()
            raw = f.readline(MAX_LINE_BYTES)
            if not raw or not raw.endswith(b"\n"):
                return at
            t = stamp(raw.decode("utf-8", errors="replace"))
            if t is not None and t >= since:
                return at


def _next_stamp(f: IO[bytes], start: int, end: int,
                stamp: Callable[[str], float | None]) -> tuple[int, float] | None:
    """(offset just past, time) of the first stamped whole line after ``start``."""
    f.seek(start)
    f.readline(MAX_LINE_BYTES)
    for _ in range(100):
        if f.tell() >= end:
            return None
        raw = f.readline(MAX_LINE_BYTES)
        if not raw:
            return None
        t = stamp(raw.decode("utf-8", errors="replace"))
        if t is not None:
            return f.tell(), t
    return None
