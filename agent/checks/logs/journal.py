"""Reading journald through ``journalctl --output=json`` from a saved cursor.

Two streams, each with its own cursor: ``errors`` (``--priority=0..N``) and ``auth``
(``SYSLOG_FACILITY=4 SYSLOG_FACILITY=10``: sshd, sudo, su, PAM log at info level, so a
priority filter would miss them). The output is streamed and the process killed once
the line budget is spent, so a huge backlog never sits in memory; the cursor then is
the ``__CURSOR`` of the last entry actually read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ... import ostext
from .parse import LogLine

FIELDS = "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,_COMM,SYSLOG_FACILITY"


class JournalError(Exception):
    """journalctl could not be run or exited with an error; the text says why."""


Streamer = Callable[[Sequence[str], float], Iterator[str]]


@contextmanager
def _killing(proc: subprocess.Popen[str], timeout: float) -> Iterator[threading.Timer]:
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        yield timer
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def stream_command(argv: Sequence[str], timeout: float) -> Iterator[str]:
    """Yield stdout lines of ``argv`` (LC_ALL=C); killed on close or after ``timeout``."""
    if shutil.which(argv[0]) is None:
        msg = f"{argv[0]}: command not found"
        raise JournalError(msg)
    env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
    env.update(LC_ALL="C", LANG="C", SYSTEMD_PAGER="", PAGER="cat", SYSTEMD_COLORS="0")
    with subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, encoding=ostext.encoding(),
                          errors=ostext.ERRORS,
                          env=env) as proc:
        stdout, stderr = proc.stdout, proc.stderr
        if stdout is None or stderr is None:  # cannot happen with PIPE; keeps types exact
            msg = "no pipes"
            raise JournalError(msg)
        with _killing(proc, timeout):
            yield from stdout
        if proc.returncode != 0:
            err = stderr.read(2000).strip() or f"exit status {proc.returncode}"
            msg = f"{argv[0]}: {err}"
            raise JournalError(msg)


@dataclass(frozen=True, slots=True)
class JournalRead:
    """One stream's result: entries read, the new cursor and whether the budget stopped it."""

    stream: str
    cursor: str | None
    entries: int
    hit_budget: bool = False
    cursor_reset: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (the cursor is state, not evidence)."""
        return {"stream": self.stream, "entries": self.entries, "hit_budget": self.hit_budget,
                "cursor_reset": self.cursor_reset, "error": self.error}


def journal_argv(stream: str, cursor: str | None, *, max_priority: int, since_hours: int,
                 directory: str | None) -> list[str]:
    """The journalctl command line for ``stream`` ("errors" or "auth")."""
    argv = ["journalctl", "--output=json", "--no-pager", f"--output-fields={FIELDS}"]
    if directory:
        argv.append(f"--directory={directory}")
    argv.append(f"--after-cursor={cursor}" if cursor else f"--since=-{since_hours}h")
    if stream == "errors":
        argv.append(f"--priority=0..{max_priority}")
    else:
        argv += ["SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10"]
    return argv


def _field(value: Any) -> Any:
    """A journal field as text: journalctl gives a field that is not UTF-8 as a list of
    byte values (any field: MESSAGE, _COMM, SYSLOG_IDENTIFIER…)."""
    if isinstance(value, list):
        return ostext.decode(bytes(b for b in value if isinstance(b, int) and 0 <= b < 256))
    return value


def entry_to_line(entry: dict[str, Any]) -> LogLine:
    """A journal entry as a LogLine: source is the unit, else the identifier or command."""
    message = _field(entry.get("MESSAGE"))
    program = _field(entry.get("SYSLOG_IDENTIFIER")) or _field(entry.get("_COMM")) or ""
    source = _field(entry.get("_SYSTEMD_UNIT")) or program or "unknown"
    try:
        severity: int | None = int(entry.get("PRIORITY", ""))
    except (TypeError, ValueError):  # absent, or not a number
        severity = None
    return LogLine(str(source), str(message or ""), severity, program=str(program))


def read_journal(stream: str, cursor: str | None, budget: int, sink: Callable[[LogLine], None],
                 *, streamer: Streamer, timeout: float, max_priority: int = 3,
                 since_hours: int = 24, directory: str | None = None) -> JournalRead:
    """Feed ``stream``'s entries after ``cursor`` to ``sink``; retry once if the cursor is bad."""
    reset = False
    while True:
        argv = journal_argv(stream, cursor, max_priority=max_priority, since_hours=since_hours,
                            directory=directory)
        progress: list[Any] = [None, 0]
        try:
            more = _consume(streamer(argv, timeout), budget, sink, progress)
        except JournalError as e:
            if cursor and not reset and progress[1] == 0 and "cursor" in str(e).lower():
                cursor, reset = None, True
                continue
            # Keep what was read before the failure: those entries are already counted.
            return JournalRead(stream, progress[0] or cursor, progress[1], cursor_reset=reset,
                               error=str(e)[:500])
        return JournalRead(stream, progress[0] or cursor, progress[1], more, reset)


def _consume(lines: Iterator[str], budget: int, sink: Callable[[LogLine], None],
             progress: list[Any]) -> bool:
    """Feed entries to ``sink``, keeping [cursor, count] in ``progress``; True if cut short."""
    try:
        for raw in lines:
            if not raw.startswith("{"):
                continue
            if progress[1] >= budget:
                return True
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            progress[1] += 1
            progress[0] = entry.get("__CURSOR") or progress[0]
            sink(entry_to_line(entry))
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    return False
