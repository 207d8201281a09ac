"""Parsers for Microsoft antivirus status: Defender (Windows), Security Center, mdatp (Linux).

Pure functions over recorded command output; the antivirus check runs the commands.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

# Get-MpComputerStatus reports this for "never" (e.g. FullScanAge of a never-scanned host).
NEVER = 4294967295
_MS_DATE = re.compile(r"^/Date\((-?\d+)\)/$")
_MDATP_DATE = "%b %d, %Y at %I:%M:%S %p"


def parse_ps_time(value: Any) -> datetime | None:
    """A PowerShell JSON timestamp ("/Date(ms)/", ISO 8601 or null) as aware UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    m = _MS_DATE.match(text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_mp_status(text: str) -> dict[str, Any]:
    """Get-MpComputerStatus | ConvertTo-Json → normalized Defender fields."""
    raw = json.loads(text)
    if isinstance(raw, list):
        raw = raw[0] if raw else {}
    if not isinstance(raw, dict):
        msg = "Get-MpComputerStatus JSON is not an object"
        raise ValueError(msg)
    quick = parse_ps_time(raw.get("QuickScanEndTime"))
    full = parse_ps_time(raw.get("FullScanEndTime"))
    scans = [(t, kind) for t, kind in ((quick, "quick"), (full, "full")) if t is not None]
    last_time, last_kind = max(scans) if scans else (None, None)
    av_enabled = _as_bool(raw.get("AntivirusEnabled"))
    service = _as_bool(raw.get("AMServiceEnabled"))
    return {
        "running": bool(service) and av_enabled is not False,
        "realtime_protection": _as_bool(raw.get("RealTimeProtectionEnabled")),
        "version": raw.get("AMProductVersion") or None,
        "engine_version": raw.get("AMEngineVersion") or None,
        "signature_version": raw.get("AntivirusSignatureVersion") or None,
        "signature_time": parse_ps_time(raw.get("AntivirusSignatureLastUpdated")),
        "last_scan_time": last_time,
        "last_scan_result": f"{last_kind} scan completed" if last_kind else None,
        "running_mode": raw.get("AMRunningMode") or None,
    }


def parse_format_list(text: str) -> list[dict[str, str]]:
    """PowerShell Format-List output ("Name : value" records split by blank lines)."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                records.append(current)
                current = {}
            continue
        key, sep, value = line.partition(" : ")
        if not sep and line.rstrip().endswith(" :"):
            key, value = line.rstrip()[:-2], ""
        elif not sep:
            continue
        current[key.strip()] = value.strip()
    if current:
        records.append(current)
    return records


def decode_product_state(state: int) -> dict[str, Any]:
    """Security Center productState: scanner on/off/snoozed/expired and signatures current."""
    scanner = {0x0000: "off", 0x1000: "on", 0x2000: "snoozed", 0x3000: "expired"}
    return {
        "scanner": scanner.get(state & 0xF000, "unknown"),
        "signatures_up_to_date": (state & 0x00F0) == 0,
        "microsoft": (state & 0x0F00) == 0x0100,
    }


def parse_security_center(text: str) -> list[dict[str, Any]]:
    """AntiVirusProduct instances (ConvertTo-Json or Format-List text) → product dicts."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        raw = json.loads(stripped)
        items = raw if isinstance(raw, list) else [raw]
        records = [{str(k): v for k, v in i.items()} for i in items if isinstance(i, dict)]
    else:
        records = parse_format_list(stripped)
    out = []
    for rec in records:
        name = rec.get("displayName")
        if not name:
            continue
        try:
            state = int(str(rec.get("productState", "")).strip())
        except ValueError:
            state = None
        decoded = decode_product_state(state) if state is not None else None
        out.append({
            "name": str(name),
            "product_state": state,
            "scanner": decoded["scanner"] if decoded else "unknown",
            "signatures_up_to_date": decoded["signatures_up_to_date"] if decoded else None,
            "path": rec.get("pathToSignedReportingExe") or None,
            "timestamp": _rfc1123(rec.get("timestamp")),
        })
    return out


def _rfc1123(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None


def _mdatp_value(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text.startswith("["):
        return text
    try:
        return int(text)
    except ValueError:
        return text


def parse_mdatp_health(text: str) -> dict[str, Any]:
    """`mdatp health` ("field : value" lines) → normalized Defender for Endpoint fields."""
    fields: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            fields[key.strip()] = _mdatp_value(value)
    updated = fields.get("definitions_updated")
    sig_time = None
    if isinstance(updated, str):
        try:
            # mdatp prints local time without a zone; treated as host-local.
            sig_time = datetime.strptime(updated, _MDATP_DATE).astimezone(UTC)
        except ValueError:
            sig_time = None
    minutes = fields.get("definitions_updated_minutes_ago")
    return {
        "healthy": fields.get("healthy") if isinstance(fields.get("healthy"), bool) else None,
        "health_issues": fields.get("health_issues"),
        "realtime_protection": _as_bool(fields.get("real_time_protection_enabled")),
        "passive_mode": _as_bool(fields.get("passive_mode_enabled")),
        "version": fields.get("app_version") or None,
        "engine_version": fields.get("engine_version") or None,
        "signature_version": fields.get("definitions_version") or None,
        "signature_time": sig_time,
        "signature_age_minutes": minutes if isinstance(minutes, int) else None,
        "definitions_status": fields.get("definitions_status") or None,
    }
