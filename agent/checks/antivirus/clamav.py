"""ClamAV parsers: database headers, clamd.conf, freshclam log, clamscan/clamd logs.

Pure functions over bytes and text; the antivirus check reads the files and runs the tools.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ... import ostext

HEADER_SIZE = 512
SIGNED_KINDS = {".cvd": "cvd", ".cld": "cld", ".cud": "cud"}
# Text signature databases ClamAV loads from its database directory (one signature a line).
TEXT_KINDS = frozenset({".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".ndb", ".ndu",
                        ".ldb", ".ldu", ".idb", ".cdb", ".fp", ".sfp", ".pdb", ".gdb", ".wdb"})
_LOG_TIME = "%a %b %d %H:%M:%S %Y"
_LOG_LINE = re.compile(r"^(?P<ts>\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}) -> (?P<msg>.*)$")
_FOUND = re.compile(r"^(?P<path>.+?): (?P<threat>\S+?)(?:\(\w+:\d+\))? FOUND$")
_CLEANED = re.compile(
    r"^(?P<path>.+?)(?: \(real path: '.*'\))?: (?P<action>Removed\.|moved to .*|copied to .*)$")


@dataclass(frozen=True, slots=True)
class CvdHeader:
    """The 512-byte header of a .cvd/.cld/.cud signature database."""

    build_time_text: str
    version: int
    signatures: int
    functionality_level: int
    md5: str
    builder: str
    build_time: datetime | None


def parse_cvd_header(head: bytes) -> CvdHeader | None:
    """Parse ``ClamAV-VDB:time:version:sigs:fl:md5:dsig:builder:stime``; None if not one."""
    text = ostext.decode(head[:HEADER_SIZE]).rstrip(" \x00\n")
    if not text.startswith("ClamAV-VDB:"):
        return None
    parts = text.split(":")
    if len(parts) < 5:
        return None
    try:
        version, sigs, flevel = int(parts[2]), int(parts[3]), int(parts[4])
    except ValueError:
        return None
    build = None
    if len(parts) >= 9 and parts[8].strip().isdigit():
        build = datetime.fromtimestamp(int(parts[8].strip()), UTC)
    else:
        try:
            build = datetime.strptime(parts[1], "%d %b %Y %H-%M %z").astimezone(UTC)
        except ValueError:
            build = None
    return CvdHeader(
        build_time_text=parts[1], version=version, signatures=sigs, functionality_level=flevel,
        md5=parts[5] if len(parts) > 5 else "", builder=parts[7] if len(parts) > 7 else "",
        build_time=build,
    )


def database_kind(filename: str) -> str | None:
    """'cvd'/'cld'/'cud' for signed databases, 'text' for plain signature files, else None."""
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot > 0 else ""
    if ext in SIGNED_KINDS:
        return SIGNED_KINDS[ext]
    return "text" if ext in TEXT_KINDS else None


def count_text_signatures(text: str) -> int:
    """Signatures in a plain database: non-empty lines that are not comments."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))


def parse_clamd_conf(text: str) -> dict[str, list[str]]:
    """clamd.conf / freshclam.conf: ``Key value`` lines (keys may repeat), comments skipped."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value.strip())
    return out


def conf_value(conf: dict[str, list[str]], key: str) -> str | None:
    """The last value given for ``key`` (clamd uses the last one)."""
    values = conf.get(key)
    return values[-1] if values else None


def onaccess_configured(conf: dict[str, list[str]]) -> bool:
    """True when clamd.conf sets up on-access (real-time) scanning."""
    if (conf_value(conf, "ScanOnAccess") or "").lower() in ("yes", "true", "1"):
        return True
    return bool(conf.get("OnAccessIncludePath") or conf.get("OnAccessMountPath"))


def _log_time(text: str) -> datetime | None:
    try:
        # ClamAV logs local time without a zone.
        return datetime.strptime(" ".join(text.split()), _LOG_TIME).astimezone(UTC)
    except ValueError:
        return None


def parse_freshclam_log(text: str) -> dict[str, Any] | None:
    """The last update run in a freshclam log (when, ok/failed, the error) and, when it
    failed, since when updates fail: the first failed run after the last good one."""
    runs: list[list[tuple[datetime | None, str]]] = []
    for line in text.splitlines():
        m = _LOG_LINE.match(line)
        if not m:
            continue
        msg = m.group("msg")
        if msg.startswith("ClamAV update process started"):
            runs.append([])
        if runs:
            runs[-1].append((_log_time(m.group("ts")), msg))
    if not runs:
        return None
    results = [_run_result(run) for run in runs]
    last_ok = max((i for i, r in enumerate(results) if r[0] == "ok"), default=None)
    failed = [i for i, r in enumerate(results) if r[0] == "failed"
              and (last_ok is None or i > last_ok)]
    result, message = results[-1]
    return {"time": runs[-1][0][0], "result": result, "message": message,
            "failed_runs": len(failed) if result == "failed" else 0,
            "failing_since": runs[failed[0]][0][0] if result == "failed" and failed else None,
            "last_success": runs[last_ok][0][0] if last_ok is not None else None}


def _run_result(run: list[tuple[datetime | None, str]]) -> tuple[str, str | None]:
    errors = [msg[len("ERROR:"):].strip() for _, msg in run if msg.startswith("ERROR:")]
    updated = [msg for _, msg in run if " updated (version" in msg or "is up-to-date" in msg
               or "is up to date" in msg]
    if errors:
        return "failed", errors[-1]
    return ("ok", updated[-1]) if updated else ("unknown", None)


def parse_clamscan_log(text: str, cap: int = 50) -> dict[str, Any]:
    """A ``clamscan --log`` or ``clamdscan --log`` file: its scans in order (End Date,
    infected count, which tool, the paths it found and, for clamdscan, the roots it
    reported clean) and its detections (bounded), each tied to its scan."""
    scans: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    ok_paths: list[str] = []
    summary: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("----------- SCAN SUMMARY"):
            summary = {}
            continue
        if summary is not None:
            key, sep, value = line.partition(":")
            if sep:
                summary[key.strip()] = value.strip()
            if key.strip() == "End Date":
                end = _summary_time(value.strip())
                for d in pending:
                    d["time"] = end
                    d["scan"] = len(scans)
                detections.extend(pending)
                # clamscan's summary names its engine; clamdscan's (through clamd) does not
                tool = "clamscan" if "Engine version" in summary else "clamdscan"
                scans.append({"time": end, "infected": _int(summary.get("Infected files")),
                              "errors": _int(summary.get("Total errors")) or 0, "tool": tool,
                              "found": sorted({d["path"] for d in pending}),
                              "ok_paths": ok_paths[:100]})
                pending, ok_paths, summary = [], [], None
            continue
        line = line.strip()
        if line.endswith(": OK"):
            ok_paths.append(line[:-4])
            continue
        _match_detection(line, pending)
    detections.extend(pending)
    return {"scans": scans, "detections": detections[-cap:]}


def settle(detections: list[dict[str, Any]], scans: list[dict[str, Any]],
           exists: Callable[[str], bool]) -> list[dict[str, Any]]:
    """Mark detections a later look shows are over (``resolved`` with why): a later
    clamdscan reported a directory holding the file clean, or the file is gone and a
    later scan ran without finding it. Each has ``order`` keys (time, log, position)."""
    out = []
    for d in detections:
        later = [s for s in scans if s["order"] > d["order"] and d["path"] not in s["found"]]
        why = None
        if not d["cleaned"]:
            covered = next((s for s in later for root in s["ok_paths"]
                            if d["path"] == root or d["path"].startswith(root.rstrip("/") + "/")),
                           None)
            if covered is not None:
                why = f"a later scan ({covered['tool']}) found {d['path']} clean"
            elif later and d["path"].startswith("/") and not exists(d["path"]):
                why = "the file is gone and a later scan found nothing there"
        out.append({**d, "resolved": why is not None, "resolution": why and why[:512]})
    return out


def active_paths(detections: list[dict[str, Any]]) -> list[str]:
    """Files whose newest detection (the list is oldest first) is neither cleaned nor
    resolved: what is still there. A file found in three scans counts once."""
    newest: dict[str, dict[str, Any]] = {}
    for d in detections:
        newest[d["path"]] = d
    return [p for p, d in newest.items() if not d["cleaned"] and not d.get("resolved")]


def parse_clamd_log(text: str, cap: int = 50) -> list[dict[str, Any]]:
    """Detections clamd logged (``<time> -> <path>: <threat> FOUND``), newest last, bounded."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        m = _LOG_LINE.match(line)
        if m and _match_detection(m.group("msg"), found):
            found[-1]["time"] = _log_time(m.group("ts"))
    return found[-cap:]


def _match_detection(line: str, into: list[dict[str, Any]]) -> bool:
    m = _FOUND.match(line)
    if m:
        into.append({"time": None, "path": m.group("path"), "threat": m.group("threat"),
                     "action": "reported", "cleaned": False})
        return True
    c = _CLEANED.match(line)
    if c:
        for d in reversed(into):
            if d["path"] == c.group("path"):
                action = c.group("action")
                d["action"] = "removed" if action.startswith("Removed") else action.split(" ")[0]
                d["cleaned"] = True
                break
    return False


def _summary_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S").astimezone(UTC)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_clamav_version(text: str) -> dict[str, Any]:
    """``ClamAV 1.4.6[/27000/Sat Nov 28 ...]`` → engine version and daily version if shown."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    m = re.match(r"^ClamAV (?P<engine>[\w.\-]+)(?:/(?P<daily>\d+)/(?P<date>.+))?$", first)
    if not m:
        return {"engine_version": None, "daily_version": None}
    return {"engine_version": m.group("engine"),
            "daily_version": int(m.group("daily")) if m.group("daily") else None}
