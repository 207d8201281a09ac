"""Injected OS accessors shared by the antivirus gatherers, and the product record shape."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
from hostpatrol.shared.clock import utcnow

from ... import ostext
from ...commands import CommandError, CommandResult, Runner, run_command


def read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a file."""
    with open(path, "rb") as f:
        return f.read(size)


def read_tail(path: str, size: int) -> str:
    """The last ``size`` bytes of a file, decoded leniently."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return ostext.decode(f.read())


def process_names() -> set[str]:
    """Lower-cased names of running processes."""
    names = set()
    for p in psutil.process_iter(["name"]):
        if p.info.get("name"):
            names.add(p.info["name"].lower())
    return names


@dataclass(frozen=True, slots=True)
class Host:
    """The OS as the antivirus gatherers see it; every accessor is injectable."""

    run: Runner = run_command
    which: Callable[[str], str | None] = shutil.which
    exists: Callable[[str], bool] = os.path.exists
    listdir: Callable[[str], list[str]] = os.listdir
    mtime: Callable[[str], float] = os.path.getmtime
    size: Callable[[str], int] = os.path.getsize
    head: Callable[[str, int], bytes] = read_head
    tail: Callable[[str, int], str] = read_tail
    processes: Callable[[], set[str]] = process_names
    system: str = field(default_factory=platform.system)
    now: Callable[[], datetime] = utcnow
    environ: Callable[[str], str | None] = os.environ.get


def base_product(name: str, vendor: str, source: str) -> dict[str, Any]:
    """A product record with every normalized field present (unknown = None)."""
    return {
        "name": name, "vendor": vendor, "source": source, "installed": True, "running": False,
        "realtime_protection": None, "version": None, "engine_version": None,
        "signature_version": None, "signature_time": None, "signatures_current": None,
        "last_scan_time": None, "last_scan_result": None, "detections": [], "notes": [],
    }


def try_run(host: Host, argv: Sequence[str],
            timeout: float = 30.0) -> tuple[CommandResult | None, str | None]:
    """Run a command; expected failures come back as a reason string instead of raising."""
    try:
        res = host.run(argv, timeout)
    except CommandError as e:
        return None, str(e)
    if res.returncode != 0:
        err = (res.stderr or res.stdout).strip().splitlines()
        return None, f"{argv[0]} exited {res.returncode}: {err[0][:200] if err else ''}"
    return res, None
