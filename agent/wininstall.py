"""install --windows: the scheduled task under SYSTEM, and the ACL of the agent's data dir.

``install --windows`` writes the task definition (``install.windows_task``, UTF-16 LE with a
BOM, the only encoding ``schtasks /XML`` reads), restricts ``%ProgramData%\\hostpatrol`` (config,
key, spool) to SYSTEM and Administrators, and registers the task with ``schtasks /Create``;
``--remove`` deletes the task again. Commands go through an injected runner so the steps can
be checked here; they only run for real on Windows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .commands import CommandError, Runner, run_command
from .config import platform_defaults
from .install import encode, windows_task

TASK_NAME = "hostpatrol-agent"
TASK_FILE = "hostpatrol-agent-task.xml"
# Well-known SIDs (language-independent): LocalSystem and BUILTIN\Administrators.
SYSTEM_SID, ADMINS_SID = "*S-1-5-18", "*S-1-5-32-544"


class InstallError(Exception):
    """A Windows set-up step failed; the message names the command and its answer."""


def acl_argv(data_dir: Path) -> list[str]:
    """icacls: no inherited entries; SYSTEM and Administrators full control, on every file."""
    return ["icacls", str(data_dir), "/inheritance:r", "/grant:r",
            f"{SYSTEM_SID}:(OI)(CI)F", f"{ADMINS_SID}:(OI)(CI)F", "/T"]


def create_argv(xml: Path, task: str = TASK_NAME) -> list[str]:
    """schtasks: create (or replace) the task from its XML definition."""
    return ["schtasks", "/Create", "/TN", task, "/XML", str(xml), "/F"]


def delete_argv(task: str = TASK_NAME) -> list[str]:
    """schtasks: delete the task."""
    return ["schtasks", "/Delete", "/TN", task, "/F"]


def _run(run: Runner, argv: Sequence[str]) -> str:
    try:
        res = run(argv, 60.0)
    except CommandError as e:  # its text names the program already
        raise InstallError(str(e)) from e
    if res.returncode != 0:
        said = (res.stderr or res.stdout).strip()
        msg = f"{' '.join(argv[:2])} exited {res.returncode}: {said[:300]}"
        raise InstallError(msg)
    return res.stdout.strip()


def install_windows(data_dir: Path, exe: str, run: Runner, *, register: bool = True,
                    task: str = TASK_NAME) -> list[str]:
    """Write the task XML into ``data_dir``; with ``register`` set the ACL and create it.

    Returns what was done, one line a step.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    xml = data_dir / TASK_FILE
    xml.write_bytes(encode(TASK_FILE, windows_task(exe)))
    done = [f"wrote {xml}"]
    if register:
        _run(run, acl_argv(data_dir))
        done.append(f"restricted {data_dir} to SYSTEM and Administrators (icacls)")
        _run(run, create_argv(xml, task))
        done.append(f"registered scheduled task {task} (runs as SYSTEM every 15 minutes)")
    return done


def cli_install(dest: str | None, exe: str, *, remove: bool, register: bool) -> int:
    """``install --windows [--remove] [--no-register]``: do it, print the steps, exit code."""
    data_dir = Path(dest) if dest else platform_defaults("win32")[0].parent
    try:
        done = (uninstall_windows(run_command) if remove else
                install_windows(data_dir, exe, run_command, register=register))
    except (InstallError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in done:
        print(line)
    if register and not remove:
        print("next: schtasks /Run /TN hostpatrol-agent (or wait for the next quarter hour)")
    return 0


def uninstall_windows(run: Runner, task: str = TASK_NAME) -> list[str]:
    """Delete the scheduled task (the data dir is left for the admin to export or remove)."""
    _run(run, delete_argv(task))
    return [f"deleted scheduled task {task}"]
