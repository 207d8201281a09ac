"""Running external commands with a time limit and a fixed C locale.

Output is decoded by the agent's one rule for OS text (:mod:`ostext`): whatever bytes a
command prints, the result is valid text that shows them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import ostext


class CommandError(Exception):
    """Base of command failures a check reports as data."""


class CommandNotFound(CommandError):
    """The program is not installed (not on PATH)."""


class CommandTimeout(CommandError):
    """The program did not finish within its time limit; it was killed."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished command printed and returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], float], CommandResult]

_ENV_KEEP = ("PATH", "HOME", "SYSTEMROOT", "TMPDIR",
             # Windows: what PowerShell, WMI/CIM and the system tools expect to find
             "WINDIR", "SYSTEMDRIVE", "TEMP", "TMP", "PATHEXT", "COMSPEC", "PROGRAMDATA",
             "PROGRAMFILES", "PROGRAMFILES(X86)", "PROGRAMW6432", "USERPROFILE", "APPDATA",
             "LOCALAPPDATA", "PROCESSOR_ARCHITECTURE", "NUMBER_OF_PROCESSORS")


def run_command(argv: Sequence[str], timeout: float = 30.0) -> CommandResult:
    """Run ``argv`` (no shell) with LC_ALL=C; raise CommandNotFound/CommandTimeout."""
    if shutil.which(argv[0]) is None:
        msg = f"{argv[0]}: command not found"
        raise CommandNotFound(msg)
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
    env.update(LC_ALL="C", LANG="C", SYSTEMD_PAGER="", PAGER="cat", SYSTEMD_COLORS="0")
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, encoding=ostext.encoding(),
            errors=ostext.ERRORS, timeout=timeout,
            env=env, stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired as e:
        msg = f"{argv[0]}: no answer within {timeout:g}s (killed)"
        raise CommandTimeout(msg) from e
    except FileNotFoundError as e:
        msg = f"{argv[0]}: command not found"
        raise CommandNotFound(msg) from e
    return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
