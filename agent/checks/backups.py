"""backups: age, size and copy count of the newest file in each configured backup location.

Needs read access to the backup paths (often root). A location is a glob; each regular
file it matches counts as one copy.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

from .. import ostext
from .base import Check, Option, Outcome, worst

MAX_MATCHES = 100_000
MAX_ERROR_CHARS = 4200
LOCATION_KEYS = frozenset({"name", "path", "max_age_hours", "min_size_bytes", "min_copies"})


@dataclass(frozen=True, slots=True)
class FileStat:
    """A matched file's size and modification time (epoch seconds)."""

    path: str
    size: int
    mtime: float


def glob_files(pattern: str) -> tuple[list[FileStat], list[str]]:
    """Regular files matching ``pattern`` (``**`` recurses) and errors for unreadable ones."""
    found: list[FileStat] = []
    errors: list[str] = []
    for i, path in enumerate(glob.iglob(pattern, recursive=True)):
        if i >= MAX_MATCHES:
            errors.append(f"more than {MAX_MATCHES} matches; the rest were not examined")
            break
        try:
            st = os.stat(path)
        except OSError as e:
            errors.append(f"{path}: {e.strerror or e}")
            continue
        if os.path.isdir(path):
            continue
        found.append(FileStat(path, st.st_size, st.st_mtime))
    return found, errors


def glob_base(pattern: str) -> str:
    """The directory part of a glob before its first wildcard (``/b/db/*.gz`` → ``/b/db``)."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or (os.sep if pattern.startswith(os.sep) else ".")


def evaluate(location: Mapping[str, Any], files: list[FileStat], errors: list[str],
             now: datetime, base_exists: bool = True) -> dict[str, Any]:
    """One location's report: newest file, its age and size, copies, violations (pure)."""
    name = str(location.get("name") or location["path"])
    max_age = location.get("max_age_hours")
    min_size = location.get("min_size_bytes")
    min_copies = location.get("min_copies")
    row: dict[str, Any] = {
        "name": name, "path": location["path"], "exists": base_exists, "copies": len(files),
        "newest_path": None, "newest_mtime": None, "newest_age_hours": None,
        "newest_size_bytes": None, "max_age_hours": max_age, "min_size_bytes": min_size,
        "min_copies": min_copies, "violations": [],
        "errors": [ostext.visible(e)[:MAX_ERROR_CHARS] for e in errors[:20]],
    }
    if not files:
        row["violations"].append(
            "no file matches the path" if base_exists
            else f"missing: {glob_base(str(location['path']))} does not exist")
        row["status"] = "fail"
        return row
    newest = max(files, key=lambda f: (f.mtime, f.path))
    age_h = round((now.timestamp() - newest.mtime) / 3600.0, 2)
    row.update(newest_path=ostext.visible(newest.path), newest_size_bytes=newest.size,
               newest_age_hours=age_h,
               newest_mtime=format_time(datetime.fromtimestamp(newest.mtime, UTC)))
    raw = ostext.raw_b64(newest.path)  # a file name may be any bytes: keep them exactly
    if raw is not None:
        row["newest_path_bytes"] = raw
    if max_age is not None and age_h > max_age:
        row["violations"].append(f"too old: newest is {age_h:g} h old (max {max_age:g} h)")
    if min_size is not None and newest.size < min_size:
        row["violations"].append(f"too small: newest is {newest.size} bytes (min {min_size})")
    if min_copies is not None and len(files) < min_copies:
        row["violations"].append(f"too few copies: {len(files)} (min {min_copies})")
    row["status"] = "fail" if row["violations"] else "ok"
    return row


def location_problem(loc: Any) -> str | None:
    """Why a configured location is unusable, or None when it is well formed."""
    if not isinstance(loc, Mapping):
        return "each location must be a mapping"
    unknown = set(loc) - LOCATION_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)}; allowed: {sorted(LOCATION_KEYS)}"
    if not isinstance(loc.get("path"), str) or not loc["path"]:
        return "path (a glob) is required"
    for key in ("max_age_hours", "min_size_bytes", "min_copies"):
        v = loc.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v < 0):
            return f"{key} must be a non-negative number"
    return None


class BackupsCheck(Check):
    """Freshness of configured backup locations; needs read access to them."""

    name: ClassVar[str] = "backups"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 60.0
    options: ClassVar = {
        "locations": Option(list, [], "list of {name, path (glob), max_age_hours, "
                            "min_size_bytes, min_copies}"),
    }

    def __init__(self, *args: Any,
                 find: Callable[[str], tuple[list[FileStat], list[str]]] = glob_files,
                 now: Callable[[], datetime] = utcnow,
                 exists: Callable[[str], bool] = os.path.isdir, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.find = find
        self.exists = exists
        self.now = now

    def collect(self) -> Outcome:
        """Examine every configured location."""
        now = self.now()
        rows = []
        for i, loc in enumerate(self.config["locations"]):
            problem = location_problem(loc)
            if problem is not None:
                rows.append({"name": f"locations[{i}]", "path": str(
                    loc.get("path", "")) if isinstance(loc, Mapping) else "",
                    "exists": False, "copies": 0, "newest_path": None, "newest_mtime": None,
                    "newest_age_hours": None, "newest_size_bytes": None, "max_age_hours": None,
                    "min_size_bytes": None, "min_copies": None,
                    "violations": [f"bad configuration: {problem}"], "errors": [],
                    "status": "fail"})
                continue
            files, errors = self.find(loc["path"])
            base = self.exists(glob_base(loc["path"]))
            rows.append(evaluate(loc, files, errors, now, base_exists=base))
        status = worst(*(r["status"] for r in rows)) if rows else "ok"
        return Outcome(status, {"locations": rows, "configured": bool(rows)})
