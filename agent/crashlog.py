"""crashlog: a run that died before its report was out is told — by `status` and to the collector.

A run that fails (a bad agent.yaml, a broken key or state file, a bug), or that ended
without finishing (killed, out of memory, a crash of the interpreter: its ``running.json``
marker is still there when the next run starts), leaves ``last_crash.json`` in the state
dir: when, which command, the error and where it was raised, and how many runs in a row
failed since the last report went out. The next report spooled carries it as
``meta.last_crash`` (the collector shows it with the host); `hostpatrol-agent status`
shows it and which report carried it. Recording never raises: it is the last word of a
run that is already failing.

Light imports only (the clock, ostext, the state helpers): the daemon's sleeping parent
records a child that died too.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

from .ostext import visible, visible_message
from .state import write_atomic

log = logging.getLogger("hostpatrol.agent.crashlog")
FILE = "last_crash.json"
MARKER = "running.json"
MAX_ERROR = 1000
MAX_WHERE = 300


def _now_text(now: datetime | None) -> str:
    return format_time(now or utcnow())


def load(root: Path) -> dict[str, Any] | None:
    """The last crash record, or None (also None when the file is damaged)."""
    try:
        doc = json.loads((Path(root) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str)
                                            for k in ("at", "command", "error")):
        return None
    count = doc.get("count")
    reported = doc.get("reported_in")
    return {"at": doc["at"][:40], "first_at": str(doc.get("first_at") or doc["at"])[:40],
            "command": doc["command"][:40], "error": doc["error"][:MAX_ERROR],
            "where": str(doc.get("where") or "")[:MAX_WHERE],
            "count": count if isinstance(count, int) and count > 0 else 1,
            "reported_in": reported if isinstance(reported, int) else None}


def record(root: Path, command: str, error: BaseException | str,
           now: datetime | None = None) -> None:
    """Remember that ``command`` failed with ``error`` (best effort; never raises)."""
    try:
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}"
            frames = traceback.extract_tb(error.__traceback__)
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} in " \
                    f"{frames[-1].name}" if frames else ""
        else:
            text, where = error, ""
        previous = load(root)
        streak = previous is not None and previous["reported_in"] is None
        at = _now_text(now)
        doc = {"at": at, "first_at": previous["first_at"] if streak and previous else at,
               "command": command, "error": visible_message(text)[:MAX_ERROR],
               "where": visible(where)[:MAX_WHERE],
               "count": previous["count"] + 1 if streak and previous else 1,
               "reported_in": None}
        write_atomic(Path(root) / FILE, json.dumps(doc, indent=1).encode(), mode=0o640)
        log.error("run failed; recorded for the next report command=%s error=%r", command,
                  doc["error"])
    except Exception as e:  # noqa: BLE001 - the run is failing already; say so and go on
        log.error("could not record the failure root=%s error=%r", root, str(e))


def pending(root: Path) -> dict[str, Any] | None:
    """``meta.last_crash`` for the next report, or None when it was carried already."""
    doc = load(root)
    if doc is None or doc["reported_in"] is not None:
        return None
    return {k: v for k, v in doc.items() if k != "reported_in"}


def carried(root: Path, seq: int) -> None:
    """The report ``seq`` (now in the spool) carries the record."""
    doc = load(root)
    if doc is not None and doc["reported_in"] is None:
        doc["reported_in"] = seq
        try:
            write_atomic(Path(root) / FILE, json.dumps(doc, indent=1).encode(), mode=0o640)
        except OSError as e:  # it is carried again by the next report: no harm
            log.error("crash record not updated root=%s error=%r", root, str(e))


def begin(root: Path, checks: list[str], now: datetime | None = None) -> None:
    """A run starts: note it, and record the previous one if it never finished."""
    marker = Path(root) / MARKER
    try:
        old = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        old = None
    except (OSError, ValueError):
        old = {}
    if old is not None:
        started = old.get("started_at") if isinstance(old, dict) else None
        record(root, "run", f"the previous run (started {started or 'at an unknown time'}, "
                            f"pid {old.get('pid') if isinstance(old, dict) else '?'}) ended "
                            f"without finishing: killed, out of memory, or the interpreter "
                            f"crashed", now)
    try:
        write_atomic(marker, json.dumps({"started_at": _now_text(now), "pid": os.getpid(),
                                         "checks": checks[:50]}).encode(), mode=0o640)
    except OSError as e:  # a full state dir: the run goes on (it reports that itself)
        log.error("run marker not written path=%s error=%r", marker, str(e))


def end(root: Path) -> None:
    """The run finished (well or with an error its caller records)."""
    try:
        (Path(root) / MARKER).unlink(missing_ok=True)
    except OSError as e:
        log.error("run marker not removed root=%s error=%r", root, str(e))


def unfinished(root: Path) -> bool:
    """Whether a run's marker is still there (the next run will record it)."""
    return (Path(root) / MARKER).exists()
