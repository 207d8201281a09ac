"""logs: errors, criticals and login failures written since the last run; logging alive.

Sources: journald (``journalctl --output=json`` after a saved cursor) when it runs, plain
syslog files (syslog, messages, auth.log, secure — only when journald is absent, as
they repeat the journal there) plus ``extra_files`` always, or the Windows System,
Application and Security logs through ``wevtutil``. Reads are bounded by ``max_lines``;
when it is hit, ``truncated`` is true and positions stop at what was read.

Committing positions (read this before wiring the check into the runner): ``collect()``
never moves the saved positions. It writes the new ones to
``state_dir/logs/pending.json``; the caller calls ``commit()`` (or the module function
``commit_state(state_dir)``) once the report holding the data is safely spooled, which
atomically replaces ``positions.json``. If the agent dies before that, the next run
reads the same lines again: a line is reported at least once, never lost. Needs root
(or the adm/systemd-journal groups) to read auth logs and the journal's auth entries.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import psutil

from ...commands import CommandError
from ..base import Check, Option, Outcome, worst
from .files import Position, read_since
from .journal import JournalRead, read_journal, stream_command
from .parse import LogLine, line_time, parse_syslog_line
from .rsyslog import PRIORITY_FILE
from .state import PENDING_FILE, commit_state, load_state, write_json_atomic
from .summary import Tally
from .windows import parse_wevtutil_xml

LOG_DAEMONS = (
    "systemd-journald", "systemd-journal", "rsyslogd", "syslog-ng", "syslogd", "journald",
)
SYSTEM_FILES = ["/var/log/syslog", "/var/log/messages", "/var/log/auth.log", "/var/log/secure"]
WINDOWS_QUERIES = {
    "System": "(Level=1 or Level=2)",
    "Application": "(Level=1 or Level=2)",
    "Security": "(EventID=4624 or EventID=4625)",
}


def running_process_names() -> set[str]:
    """Names of running processes (psutil)."""
    names = set()
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if name:
            names.add(name)
    return names


def journald_running() -> bool:
    """Whether journald is up here (its socket directory exists)."""
    return Path("/run/systemd/journal/socket").exists()


class LogsCheck(Check):
    """Errors and break-in attempts since the last run; needs root to read auth logs."""

    name: ClassVar[str] = "logs"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 300.0
    options: ClassVar = {
        "system_files": Option(list, SYSTEM_FILES,
                               "syslog files read when journald and priority_file are absent"),
        "priority_file": Option(str, PRIORITY_FILE,
                                "rsyslog file with real priorities (`install --rsyslog` sets "
                                "it up); read instead of system_files when it exists"),
        "extra_files": Option(list, [], "more plain log files, always read"),
        "max_priority": Option(int, 3, "worst-to-this syslog severity counted (3 = err)"),
        "max_lines": Option(int, 200000, "lines/entries read per run, all sources together"),
        "max_samples": Option(int, 3, "sample messages kept per template"),
        "max_templates": Option(int, 50, "message templates reported"),
        "failure_threshold": Option(int, 5, "failed logins from one source that flag it"),
        "first_run_hours": Option(int, 24, "look-back when a source was never read: the "
                                  "journal without a cursor, a file without a position"),
        "journal_directory": Option(str, "", "read this journal directory, not the system's"),
        "stale_hours": Option((int, float), 24, "a log file unwritten this long is stale"),
    }

    def __init__(self, *args: Any,
                 streamer: Callable[..., Iterable[str]] = stream_command,
                 processes: Callable[[], set[str]] = running_process_names,
                 journald: Callable[[], bool] = journald_running,
                 clock: Callable[[], float] = time.time,
                 platform: str = sys.platform, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streamer = streamer
        self.processes = processes
        self.journald = journald
        self.clock = clock
        self.platform = platform
        self.pending: dict[str, Any] | None = None

    def commit(self) -> bool:
        """Commit the positions of the last ``collect`` (call after the report is spooled)."""
        if self.state_dir is None:
            return False
        return commit_state(self.state_dir)

    def collect(self) -> Outcome:
        """Read every source since the saved positions and tally what was found."""
        c = self.config
        state = load_state(self.state_dir)
        # Cursors of sources not read this run (journald down, a channel failing) carry over.
        new: dict[str, Any] = {"version": 1, "files": {}, "journal": dict(state["journal"]),
                               "windows": dict(state["windows"])}
        tally = Tally(c["max_templates"], c["max_samples"], c["failure_threshold"])
        budget = [int(c["max_lines"])]
        sources: dict[str, Any] = {"journal": [], "files": [], "windows": [], "skipped_files": []}

        def feed(line: LogLine) -> None:
            tally.add_line(line, c["max_priority"])

        use_journal = bool(c["journal_directory"]) or (
            self.platform.startswith("linux") and self.journald())
        if self.platform == "win32":
            sources["windows"] = self._windows(state, new, tally, budget)
        elif use_journal:
            sources["journal"] = self._journal(state, new, tally, budget)
        files = list(c["extra_files"])
        system = [*([c["priority_file"]] if c["priority_file"] else []), *c["system_files"]]
        has_priority = bool(c["priority_file"]) and os.path.exists(c["priority_file"])
        for path in system:
            if self.platform == "win32":
                sources["skipped_files"].append({"path": path, "reason": "not on Windows"})
            elif use_journal:
                sources["skipped_files"].append(
                    {"path": path, "reason": "journald present: these repeat the journal"})
            elif path == c["priority_file"]:
                files.append(path) if has_priority else sources["skipped_files"].append(
                    {"path": path, "reason": "absent: `hostpatrol-agent install --rsyslog` "
                                             "sets it up (these files give no severity)"})
            elif has_priority:
                sources["skipped_files"].append(
                    {"path": path, "reason": "priority_file present: rsyslog writes these "
                                             "lines there with their priority"})
            else:
                files.append(path)
        sources["files"] = self._files(files, state, new, feed, budget, sources["skipped_files"])
        reads = sources["journal"] + sources["files"] + sources["windows"]
        truncated = any(r["hit_budget"] for r in reads)
        errors, auth = tally.to_data()
        logging = self._liveness(files, use_journal)
        self.pending = new
        if self.state_dir is not None:
            write_json_atomic(self.state_dir / "logs" / PENDING_FILE, new)
        data = {
            "sources": sources,
            "lines_read": int(c["max_lines"]) - budget[0],
            "truncated": truncated,
            "limits": {k: c[k] for k in ("max_lines", "max_samples", "max_templates")},
            "first_run": not any(state[k] for k in ("files", "journal", "windows")),
            "state_persisted": self.state_dir is not None,
            "errors": errors,
            "auth": auth,
            "logging": logging,
        }
        statuses = ["ok"]
        if auth["success_after_failures"] or not logging["alive"]:
            statuses.append("fail")
        if (errors["total"] or auth["sources_over_threshold"] or truncated
                or logging["stale_files"] or any(r["error"] for r in reads)):
            statuses.append("warn")
        return Outcome(worst(*statuses), data)

    def _journal(self, state: dict[str, Any], new: dict[str, Any], tally: Tally,
                 budget: list[int]) -> list[dict[str, Any]]:
        c = self.config
        out = []
        for stream in ("errors", "auth"):
            def sink(line: LogLine, stream: str = stream) -> None:
                # errors stream: only errors; auth stream: only login events (no overlap).
                tally.add_line(line, c["max_priority"], auth=stream == "auth",
                               errors=stream == "errors")
            cursor = state["journal"].get(stream)
            result: JournalRead = read_journal(
                stream, cursor if isinstance(cursor, str) else None, max(budget[0], 0), sink,
                streamer=self.streamer, timeout=self.timeout / 3,
                max_priority=c["max_priority"], since_hours=c["first_run_hours"],
                directory=c["journal_directory"] or None)
            budget[0] -= result.entries
            if result.cursor:
                new["journal"][stream] = result.cursor
            out.append(result.to_dict())
        return out

    def _files(self, paths: list[str], state: dict[str, Any], new: dict[str, Any],
               feed: Callable[[LogLine], None], budget: list[int],
               skipped: list[dict[str, str]]) -> list[dict[str, Any]]:
        out = []
        now = self.clock()
        since = now - float(self.config["first_run_hours"]) * 3600
        for path in dict.fromkeys(paths):
            saved = Position.from_dict(state["files"].get(path))
            if saved is None and not os.path.lexists(path):
                skipped.append({"path": path, "reason": "absent"})
                continue
            unknown = [0]

            def sink(raw: str, unknown: list[int] = unknown) -> None:
                line = parse_syslog_line(raw)
                unknown[0] += line.by_keyword
                feed(line)

            result = read_since(path, saved, max(budget[0], 0), sink, since,
                                lambda raw, now=now: line_time(raw, now))
            budget[0] -= result.lines
            if result.position is not None:
                new["files"][path] = result.position.to_dict()
            out.append({**result.to_dict(), "lines_without_severity": unknown[0]})
        return out

    def _windows(self, state: dict[str, Any], new: dict[str, Any], tally: Tally,
                 budget: list[int]) -> list[dict[str, Any]]:
        out = []
        for channel, condition in WINDOWS_QUERIES.items():
            last = state["windows"].get(channel)
            since = (f"EventRecordID>{int(last)}" if isinstance(last, int) else
                     f"TimeCreated[timediff(@SystemTime) <= "
                     f"{int(self.config['first_run_hours']) * 3600000}]")
            count = max(budget[0], 0)
            row: dict[str, Any] = {"stream": channel, "entries": 0, "hit_budget": False,
                                   "cursor_reset": False, "error": None}
            out.append(row)
            if count == 0:
                row["hit_budget"] = True
                continue
            argv = ["wevtutil", "qe", channel, f"/q:*[System[{condition} and {since}]]",
                    "/f:xml", f"/c:{count}"]
            try:
                res = self.run(argv, self.timeout / 4)
                if res.returncode != 0:
                    row["error"] = (res.stderr.strip() or f"exit {res.returncode}")[:500]
                    continue
                events = parse_wevtutil_xml(res.stdout)
            except (CommandError, ValueError) as e:
                row["error"] = str(e)[:500]
                continue
            for ev in events:
                auth = ev.auth_event()
                if auth is not None:
                    tally.add_auth(auth)
                else:
                    tally.add_error(ev.to_line(), self.config["max_priority"])
            ids = [e.record_id for e in events if e.record_id is not None]
            new["windows"][channel] = max(ids) if ids else last
            row.update(entries=len(events), hit_budget=len(events) >= count)
            budget[0] -= len(events)
        return out

    def _liveness(self, files: list[str], use_journal: bool) -> dict[str, Any]:
        running = sorted(set(LOG_DAEMONS) & self.processes())
        now = self.clock()
        ages = []
        for path in dict.fromkeys(files):
            try:
                age = max(0, int(now - os.stat(path).st_mtime))
            except OSError:
                continue
            ages.append({"path": path, "age_seconds": age})
        stale = [a["path"] for a in ages if a["age_seconds"] > self.config["stale_hours"] * 3600]
        return {
            "daemons_running": running,
            "journald": use_journal,
            "alive": bool(running) or self.platform == "win32",
            "file_ages": ages[:100],
            "stale_files": stale[:100],
        }
