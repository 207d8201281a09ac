"""Pure parsers for time-sync tools: chrony, timesyncd, ntpd, Windows w32tm, macOS systemsetup.

Each returns a ``SyncReading``: which source said it, whether it says the clock is
synchronised, and the offset/stratum/reference when the tool reports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class SyncReading:
    """What one time-sync source reports about the clock."""

    source: str
    synchronised: bool | None
    offset_seconds: float | None = None
    stratum: int | None = None
    reference: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {k: getattr(self, k) for k in self.__slots__}


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_duration(text: str) -> float | None:
    """Seconds from systemd-style durations: '-1.087495s', '40.580ms', '34min 8s', '1us'."""
    total = 0.0
    found = False
    for number, unit in re.findall(r"([-+]?\d+(?:\.\d+)?)\s*(ns|us|µs|ms|min|s|h)\b", text):
        total += float(number) * _UNITS[unit]
        found = True
    return total if found else None


def parse_chronyc_tracking(text: str) -> SyncReading | None:
    """``chronyc -c tracking`` CSV (14 fields); None when the line is not that."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    f = line.split(",")
    if len(f) < 14:
        return None
    leap = f[13].strip()
    stratum = _int(f[2])
    synced = leap != "Not synchronised" and f[0] != "00000000" and bool(stratum)
    return SyncReading(
        source="chrony",
        synchronised=synced,
        offset_seconds=_float(f[4]),
        stratum=stratum,
        reference=f[1] or f[0],
        detail=f"leap status: {leap}",
    )


def parse_key_values(text: str) -> dict[str, str]:
    """``KEY=value`` lines (``timedatectl show``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_timedatectl_show(text: str) -> SyncReading | None:
    """``timedatectl show``: NTPSynchronized (the kernel's view) and NTP (service on)."""
    kv = parse_key_values(text)
    if "NTPSynchronized" not in kv:
        return None
    return SyncReading(
        source="timedatectl",
        synchronised=kv["NTPSynchronized"] == "yes",
        detail=f"NTP service enabled: {kv.get('NTP', 'unknown')}",
    )


def parse_timesync_status(text: str) -> SyncReading | None:
    """``timedatectl timesync-status`` (systemd-timesyncd): server, leap, offset."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Offset" not in fields and "Server" not in fields:
        return None
    leap = fields.get("Leap", "")
    return SyncReading(
        source="systemd-timesyncd",
        synchronised=leap != "not synchronized" and "Offset" in fields,
        offset_seconds=parse_duration(fields.get("Offset", "")),
        stratum=_int(fields.get("Stratum", "")),
        reference=fields.get("Server"),
        detail=f"leap: {leap}" if leap else None,
    )


def parse_ntpq_rv(text: str) -> SyncReading | None:
    """``ntpq -c rv``: leap=11 or no sync_ntp/sync_* means unsynchronised; offset in ms."""
    if "associd=0" not in text and "assID=0" not in text:
        return None
    values: dict[str, str] = {}
    for m in re.finditer(r'(\w+)=("[^"]*"|[^,\n]*)', text):
        values.setdefault(m.group(1), m.group(2).strip().strip('"'))
    status_line = text.splitlines()[0]
    leap = values.get("leap", "")
    synced = leap not in {"11", "3"} and "sync_unspec" not in status_line
    offset_ms = _float(values.get("offset", ""))
    return SyncReading(
        source="ntpd",
        synchronised=synced,
        offset_seconds=offset_ms / 1000.0 if offset_ms is not None else None,
        stratum=_int(values.get("stratum", "")),
        reference=values.get("refid"),
        detail=f"leap={leap}" if leap else None,
    )


def parse_ntpstat(text: str) -> SyncReading | None:
    """``ntpstat``: 'synchronised to ... at stratum N' / 'unsynchronised'."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first.startswith("unsynchronised"):
        return SyncReading(source="ntpd", synchronised=False, detail=first)
    m = re.match(r"synchronised to (.+?) at stratum (\d+)", first)
    if not m:
        return None
    within = re.search(r"time correct to within (\d+) ms", text)
    return SyncReading(
        source="ntpd",
        synchronised=True,
        stratum=int(m.group(2)),
        reference=m.group(1),
        detail=f"within {within.group(1)} ms" if within else None,
    )


def parse_w32tm_status(text: str) -> SyncReading | None:
    """``w32tm /query /status``: leap 3 or 'Local CMOS Clock'/'Free-running' source = unsynced."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    if "Leap Indicator" not in fields:
        return None
    leap = fields["Leap Indicator"].split("(")[0].strip()
    source = fields.get("Source", "")
    free = source in {"Local CMOS Clock", "Free-running System Clock"}
    stratum = re.match(r"\d+", fields.get("Stratum", ""))
    last = fields.get("Last Successful Sync Time", "")
    return SyncReading(
        source="w32time",
        synchronised=leap != "3" and not free and last != "unspecified",
        stratum=int(stratum.group(0)) if stratum else None,
        reference=source or None,
        detail=f"last successful sync: {last}" if last else None,
    )


def parse_systemsetup_networktime(text: str) -> SyncReading | None:
    """macOS ``systemsetup -getusingnetworktime``: 'Network Time: On' / 'Off'."""
    m = re.search(r"Network Time:\s*(On|Off)", text)
    if not m:
        return None
    return SyncReading(
        source="macos-timed",
        synchronised=m.group(1) == "On",
        detail="network time is on (timed keeps the clock set)" if m.group(1) == "On"
        else "network time is off",
    )
