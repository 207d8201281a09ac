"""priority: run this process (and the children it forks) at low CPU and I/O priority."""

from __future__ import annotations

import logging
import os
import sys

import psutil

log = logging.getLogger("hostpatrol.agent.priority")


def lower_priority(nice: int, io_idle: bool) -> None:
    """Run the whole process at low CPU and I/O priority (once per process)."""
    proc = psutil.Process()
    try:
        if nice > 0 and hasattr(os, "nice"):
            os.nice(nice)
        elif nice > 0 and sys.platform == "win32":
            proc.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        if io_idle and hasattr(psutil, "IOPRIO_CLASS_IDLE"):
            proc.ionice(psutil.IOPRIO_CLASS_IDLE)
    except (OSError, psutil.Error) as e:
        log.warning("could not lower priority error=%r", str(e))
