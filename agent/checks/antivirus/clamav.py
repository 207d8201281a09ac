"""ClamAV parsers: database headers, clamd.conf, freshclam log, clamscan/clamd logs.

Pure functions over bytes and text; the antivirus check reads the files and runs the tools.
"""

from __future__ import annotations

import re
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
    """The last update run in a freshclam log: when, ok/failed, and the error if any."""
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
    last = runs[-1]
    errors = [msg[len("ERROR:"):].strip() for _, msg in last if msg.startswith("ERROR:")]
    updated = [msg for _, msg in last if " updated (version" in msg or "is up-to-date" in msg
               or "is up to date" in msg]
    result = "failed" if errors else "ok" if updated else "unknown"
    return {"time": last[0][0], "result": result,
            "message": (errors[-1] if errors else updated[-1] if updated else None)}


def parse_clamscan_log(text: str, cap: int = 50) -> dict[str, Any]:
    """clamscan ``--log`` output: scans (End Date, infected count) and detections (bounded)."""
    scans: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
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
                detections.extend(pending)
                pending = []
                scans.append({"time": end, "infected": _int(summary.get("Infected files")),
                              "errors": _int(summary.get("Total errors")) or 0})
                summary = None
            continue
        _match_detection(line.strip(), pending)
    detections.extend(pending)
    return {"scans": scans, "detections": detections[-cap:]}


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
