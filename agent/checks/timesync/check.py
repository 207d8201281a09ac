"""time: is the clock synchronised, by which service, and how far off.

Asks chrony, systemd-timesyncd, ntpd (Linux), w32time (Windows) or timed (macOS),
plus the kernel's own view through adjtimex(2) on Linux. Needs no privileges, except
macOS ``systemsetup`` which needs root. Missing tools are reported as data; with no
service at all the check says "no time sync service found" (warn).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ...commands import CommandError, CommandResult
from ..base import Check, Option, Outcome, worst
from .parsers import (
    SyncReading,
    parse_chronyc_tracking,
    parse_ntpq_rv,
    parse_ntpstat,
    parse_systemsetup_networktime,
    parse_timedatectl_show,
    parse_timesync_status,
    parse_w32tm_status,
)

# The kernel says "synchronised" while maxerror stays under 16 s, as systemd does.
MAXERROR_UNSYNC_US = 16_000_000
STA_UNSYNC = 0x0040
TIME_ERROR = 5

Parser = Callable[[str], SyncReading | None]

SOURCES: dict[str, tuple[tuple[tuple[str, ...], Parser], ...]] = {
    "Linux": (
        (("chronyc", "-c", "tracking"), parse_chronyc_tracking),
        (("timedatectl", "timesync-status"), parse_timesync_status),
        (("timedatectl", "show"), parse_timedatectl_show),
        (("ntpq", "-c", "rv"), parse_ntpq_rv),
        (("ntpstat",), parse_ntpstat),
    ),
    "Windows": ((("w32tm", "/query", "/status"), parse_w32tm_status),),
    "Darwin": ((("systemsetup", "-getusingnetworktime"), parse_systemsetup_networktime),),
}


class _Timex(ctypes.Structure):
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),  # the remaining fields; never read
    )


def kernel_adjtimex() -> dict[str, Any]:
    """The kernel's clock state via a read-only adjtimex(2) call (Linux)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return {"available": False, "error": f"adjtimex failed (errno {ctypes.get_errno()})"}
    return kernel_view(state, tx.maxerror, tx.esterror, tx.status)


def kernel_view(state: int, maxerror_us: int, esterror_us: int, status: int) -> dict[str, Any]:
    """Interpret adjtimex results: synchronised when maxerror < 16 s, as systemd judges."""
    return {
        "available": True,
        "synchronised": maxerror_us < MAXERROR_UNSYNC_US,
        "clock_state": state,
        "unsync_flag": bool(status & STA_UNSYNC),
        "max_error_us": maxerror_us,
        "estimated_error_us": esterror_us,
    }


def evaluate(readings: list[SyncReading], max_offset: float) -> tuple[str, str]:
    """Local status and a one-line summary from the readings of all sources."""
    if not readings:
        return "warn", "no time sync service found"
    synced = [r for r in readings if r.synchronised]
    if not synced:
        return "fail", "clock not synchronised (" + ", ".join(r.source for r in readings) + ")"
    offsets = [abs(r.offset_seconds) for r in synced if r.offset_seconds is not None]
    if offsets and min(offsets) > max_offset:
        return "warn", f"synchronised but offset {min(offsets):.3f}s exceeds {max_offset:g}s"
    return "ok", "synchronised via " + synced[0].source


class TimeCheck(Check):
    """Clock synchronisation per the platform's time service; no privileges on Linux."""

    name: ClassVar[str] = "time"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 30.0
    options: ClassVar = {
        "max_offset_seconds": Option((int, float), 1.0,
                                     "absolute clock offset above which a synced clock warns"),
    }

    def __init__(self, *args: Any, system: Callable[[], str] = platform.system,
                 adjtimex: Callable[[], dict[str, Any]] = kernel_adjtimex,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.system = system
        self.adjtimex = adjtimex

    def collect(self) -> Outcome:
        """Ask each known time service; report each one's answer or why it had none."""
        system = self.system()
        readings: list[SyncReading] = []
        unavailable: list[dict[str, str]] = []
        for argv, parser in SOURCES.get(system, ()):
            reading, why = self._ask(argv, parser)
            if reading is not None:
                readings.append(reading)
            else:
                unavailable.append({"command": " ".join(argv), "reason": why})
        kernel: dict[str, Any] | None = None
        if system == "Linux":
            try:
                kernel = self.adjtimex()
            except (OSError, AttributeError) as e:
                kernel = {"available": False, "error": str(e)}
        status, summary = evaluate(readings, float(self.config["max_offset_seconds"]))
        if not readings and kernel and kernel.get("available") and kernel.get("synchronised"):
            # Something keeps the kernel clock disciplined though no known tool answered.
            status, summary = worst(status, "warn"), summary + "; kernel reports synchronised"
        return Outcome(status, {
            "synchronised": status != "fail" and bool(readings),
            "summary": summary,
            "sources": [r.to_dict() for r in readings],
            "unavailable": unavailable,
            "kernel": kernel,
        })

    def _ask(self, argv: Sequence[str], parser: Parser) -> tuple[SyncReading | None, str]:
        try:
            res: CommandResult = self.run(argv, 10.0)
        except CommandError as e:
            return None, str(e)
        reading = parser(res.stdout)
        if reading is None:
            msg = (res.stderr or res.stdout).strip().splitlines()
            return None, f"exit {res.returncode}: {msg[0][:200] if msg else 'no output'}"
        return reading, ""
