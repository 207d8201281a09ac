"""diskfull: a state dir with no space left is reported, locally at once and to the collector
with the next report that gets through.

A run that cannot spool (``ENOSPC``/``EDQUOT``) leaves an empty marker file
``full-<epoch microseconds>`` in the state dir — an empty file needs an inode, not a data
block, so it can usually be made on a full file system. The next report spooled carries
``meta.state_dir_full`` (how many runs failed, first and last time, the error), and the
markers are removed once that report is safely in the spool.
"""

from __future__ import annotations

import errno
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("hostpatrol.agent.diskfull")
FULL = (errno.ENOSPC, errno.EDQUOT)
PREFIX = "full-"
MAX_MARKS = 1000


def is_full(error: OSError) -> bool:
    """Whether ``error`` means the file system is out of space (or quota)."""
    return error.errno in FULL


def note_full(root: Path, error: OSError, now: float | None = None) -> str:
    """Leave a marker (best effort) and return the message for the operator."""
    now = time.time() if now is None else now
    try:
        if len(list(Path(root).glob(f"{PREFIX}*"))) < MAX_MARKS:
            (Path(root) / f"{PREFIX}{int(now * 1e6)}").touch()
    except OSError as e:  # not even an inode left: the message still says it
        log.error("could not record the full state dir error=%r", str(e))
    return (f"no space left in the agent state dir {root} ({error.strerror}): this run's "
            f"report could not be spooled; reports already spooled are kept and delivered. "
            f"Free space there; the next report tells the collector about this failure.")


def marks(root: Path) -> list[Path]:
    """Markers of runs that failed for space, oldest first."""
    found = []
    for path in Path(root).glob(f"{PREFIX}*"):
        stamp = path.name[len(PREFIX):]
        if stamp.isdigit():
            found.append((int(stamp), path))
    return [p for _, p in sorted(found)]


def meta(found: list[Path]) -> dict[str, Any]:
    """``meta`` entry for the next report (empty when nothing failed)."""
    if not found:
        return {}
    first, last = (int(p.name[len(PREFIX):]) / 1e6 for p in (found[0], found[-1]))
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"state_dir_full": {
        "failed_runs": len(found), "first": time.strftime(fmt, time.gmtime(first)),
        "last": time.strftime(fmt, time.gmtime(last)), "error": "no space left on device"}}


def clear(found: list[Path]) -> None:
    """The report carrying them is spooled: forget the markers."""
    for path in found:
        path.unlink(missing_ok=True)
