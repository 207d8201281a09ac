"""Bounded tallies of error lines and login events for the logs check (pure, in memory).

Every table is capped: distinct sources, users and IPs beyond the cap fold into
``(other)``, templates beyond the cap are counted in ``templates_dropped``, so a hostile
or noisy host cannot grow the report without bound.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .parse import (
    SEVERITY_NAMES,
    AuthEvent,
    LogLine,
    parse_auth_event,
    template_of,
    unrepeat,
)

MAX_KEYS = 1000
OTHER = "(other)"
SAMPLE_LENGTH = 500
MAX_SUCCESS_ROWS = 100


def _bump(counter: Counter[str], key: str, n: int = 1) -> None:
    if key in counter or len(counter) < MAX_KEYS:
        counter[key] += n
    else:
        counter[OTHER] += n


def _top(counter: Counter[str], n: int, key_name: str) -> list[dict[str, Any]]:
    return [{key_name: k[:256], "count": c} for k, c in counter.most_common(n)]


@dataclass
class Tally:
    """Accumulates one run's errors and auth events; ``to_data`` gives the wire form."""

    max_templates: int = 50
    max_samples: int = 3
    threshold: int = 5
    errors_total: int = 0
    keyword_classified: int = 0
    severity_unknown: int = 0
    guessed_by_source: Counter[str] = field(default_factory=Counter)
    guess_samples: list[dict[str, str]] = field(default_factory=list)
    by_priority: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    templates: dict[tuple[str, int, str], list[Any]] = field(default_factory=dict)
    templates_dropped: int = 0
    auth_kinds: Counter[str] = field(default_factory=Counter)
    by_user: Counter[str] = field(default_factory=Counter)
    by_ip: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    successes: int = 0
    pending_failures: Counter[str] = field(default_factory=Counter)
    success_after_failures: list[dict[str, Any]] = field(default_factory=list)

    def add_error(self, line: LogLine, max_severity: int = 3, n: int = 1) -> bool:
        """Count ``line`` (``n`` times) if its severity is ``max_severity`` or worse. A line
        without a real severity is never counted: a keyword guess is only noted."""
        if line.by_keyword:
            self.severity_unknown += n
            if line.severity is not None and line.severity <= max_severity:
                self.keyword_classified += n
                _bump(self.guessed_by_source, line.source, n)
                if len(self.guess_samples) < self.max_samples * 5:
                    self.guess_samples.append({"source": line.source[:128],
                                               "message": line.message[:SAMPLE_LENGTH]})
            return False
        if line.severity is None or line.severity > max_severity:
            return False
        self.errors_total += n
        _bump(self.by_priority, SEVERITY_NAMES[line.severity], n)
        _bump(self.by_source, line.source, n)
        key = (line.source[:128], line.severity, template_of(line.message))
        row = self.templates.get(key)
        if row is None:
            if len(self.templates) >= self.max_templates * 20:
                self.templates_dropped += n
                return True
            row = self.templates[key] = [0, []]
        row[0] += n
        if len(row[1]) < self.max_samples:
            row[1].append(line.message[:SAMPLE_LENGTH])
        return True

    def add_auth(self, event: AuthEvent, n: int = 1) -> None:
        """Count a login event (``n`` times) by kind; attempts also by user and source IP."""
        _bump(self.auth_kinds, event.kind, n)
        ip = event.ip or "(local)"
        if event.attempt:
            self.attempts += n
            _bump(self.by_user, event.user or "(unknown)", n)
            _bump(self.by_ip, ip, n)
            _bump(self.pending_failures, ip, n)
        if event.success:
            self.successes += n
            before = self.pending_failures.pop(ip, 0)
            if before >= self.threshold and len(self.success_after_failures) < MAX_SUCCESS_ROWS:
                self.success_after_failures.append({
                    "ip": ip[:64], "user": (event.user or "(unknown)")[:256],
                    "failures_before": before, "kind": event.kind[:64],
                })

    def add_line(self, line: LogLine, max_severity: int = 3, *, auth: bool = True,
                 errors: bool = True) -> None:
        """Route one line: a login event to the auth tally, else maybe an error."""
        n, message = unrepeat(line.message)
        if n != 1:
            line = LogLine(line.source, message, line.severity, line.by_keyword, line.program)
        event = parse_auth_event(line.program or line.source, line.message) if auth else None
        if event is not None:
            self.add_auth(event, n)
        elif errors:
            self.add_error(line, max_severity, n)

    def to_data(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``errors`` and ``auth`` sections of the check's data."""
        rows = sorted(self.templates.items(), key=lambda kv: -kv[1][0])
        errors = {
            "total": self.errors_total,
            "keyword_classified": self.keyword_classified,
            "severity_unknown_lines": self.severity_unknown,
            "guesses": {"by_source": _top(self.guessed_by_source, 20, "source"),
                        "samples": self.guess_samples},
            "by_priority": dict(self.by_priority),
            "by_source": _top(self.by_source, 50, "source"),
            "templates": [
                {"source": src, "priority": SEVERITY_NAMES[sev], "template": tpl,
                 "count": count, "samples": samples}
                for (src, sev, tpl), (count, samples) in rows[: self.max_templates]
            ],
            "templates_total": len(self.templates) + self.templates_dropped,
            "templates_truncated": len(rows) > self.max_templates or self.templates_dropped > 0,
        }
        auth = {
            "failed_attempts": self.attempts,
            "successful_logins": self.successes,
            "by_kind": dict(self.auth_kinds.most_common(50)),
            "by_user": _top(self.by_user, 50, "user"),
            "by_ip": _top(self.by_ip, 50, "ip"),
            "sources_over_threshold": sum(1 for k, c in self.by_ip.items()
                                          if c >= self.threshold and k != OTHER),
            "success_after_failures": self.success_after_failures,
        }
        return errors, auth
