"""The logs check's saved positions: committed (positions.json) and pending (pending.json).

``collect()`` writes the new positions as pending; ``commit_state`` makes them the
committed ones once the report holding the data is spooled, so a crash in between reads
the same lines again rather than losing them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = "positions.json"
PENDING_FILE = "pending.json"


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` via a temp file, fsync and rename (then fsync the dir)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_state(state_dir: Path | None) -> dict[str, Any]:
    """The committed positions (empty on first run or when the file is unreadable)."""
    empty: dict[str, Any] = {"version": 1, "files": {}, "journal": {}, "windows": {}}
    if state_dir is None:
        return empty
    try:
        doc = json.loads((state_dir / "logs" / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty
    if not isinstance(doc, dict):
        return empty
    return {k: doc.get(k) if isinstance(doc.get(k), dict) else {} for k in empty} | {"version": 1}


def commit_state(state_dir: Path) -> bool:
    """Make the pending positions the committed ones; False when nothing was pending."""
    folder = state_dir / "logs"
    try:
        os.replace(folder / PENDING_FILE, folder / STATE_FILE)
    except FileNotFoundError:
        return False
    _fsync_dir(folder)
    return True
