"""Pure parsers for the logs check: syslog lines, auth events, message templates.

Everything here works on strings already read; nothing touches the OS. A plain syslog
line is parsed as RFC 5424 (``<PRI>1 TS HOST APP PROCID MSGID SD MSG``), RFC 3164
(``<PRI>Mmm dd hh:mm:ss HOST TAG: MSG``) or the rsyslog file formats, which carry no
priority (``Mmm dd hh:mm:ss HOST TAG[PID]: MSG`` or with an RFC 3339 timestamp). Those
have no severity: a keyword guess (error/fail/panic…) is kept beside it, marked as a
guess, and never counted as an error (``user.info "failed over as planned"`` is not one,
``user.err "disk controller timeout"`` is, and only the priority tells them apart).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime

SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_TAG = r"(?P<tag>[^\s\[\]:]{1,64})(?:\[(?P<pid>\d{1,10})\])?:\s?(?P<msg>.*)"
_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 \S+ \S+ (?P<app>\S+) \S+ \S+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(?P<msg>.*)$"
)
_RFC3164 = re.compile(
    r"^<(?P<pri>\d{1,3})>(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ )?" + _TAG + "$"
)
_FILE_TRADITIONAL = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ " + _TAG + "$")
_FILE_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) \S+ "
                           + _TAG + "$")

# Keyword guess for lines without a priority: worst match wins.
_KEYWORDS = (
    (2, re.compile(r"\b(?:kernel panic|panic|segfault|critical|fatal|oops|"
                   r"out of memory|call trace)\b", re.I)),
    (3, re.compile(r"\b(?:error|errors|fail|failed|failure|i/o error|abnormally)\b", re.I)),
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log message: where it came from, its text and its syslog severity. A line whose
    format carries no priority has ``by_keyword`` set: ``severity`` is then only a guess."""

    source: str
    message: str
    severity: int | None
    by_keyword: bool = False
    program: str = ""  # syslog identifier when ``source`` is a unit (journald)


def keyword_severity(message: str) -> int | None:
    """Guess err (3) or crit (2) from words like error/fail/panic/segfault; None if none."""
    for severity, pattern in _KEYWORDS:
        if pattern.search(message):
            return severity
    return None


def parse_syslog_line(line: str) -> LogLine:
    """Parse one line of a syslog file (RFC 5424, RFC 3164 or rsyslog file format)."""
    line = line.rstrip("\r\n")
    if line.endswith("#015"):  # rsyslog's escape of a trailing CR (sshd -e writes CRLF)
        line = line[:-4]
    m = _RFC5424.match(line)
    if m:
        app = m["app"] if m["app"] != "-" else "unknown"
        # rsyslog's RFC 5424 template keeps the space a relayed BSD message starts with
        return LogLine(app, m["msg"].lstrip(" "), int(m["pri"]) % 8)
    m = _RFC3164.match(line)
    if m:
        return LogLine(m["tag"], m["msg"], int(m["pri"]) % 8)
    m = _FILE_TRADITIONAL.match(line) or _FILE_RFC3339.match(line)
    if m:
        return LogLine(m["tag"], m["msg"], keyword_severity(m["msg"]), by_keyword=True)
    return LogLine("unknown", line, keyword_severity(line), by_keyword=True)


_MASKS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<uuid>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (re.compile(r"(?<![\w:])(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7}[0-9a-f])"
                r"(?:[0-9a-f]{1,4}:){1,7}:?[0-9a-f]{0,4}(?![\w:])", re.I), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w<])(?:/[\w.@+-]+){1,}/?"), "<path>"),
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "<num>"),
)


def template_of(message: str, max_length: int = 300) -> str:
    """The message with numbers, IPs, hex ids, UUIDs and paths masked, so repeats group."""
    text = message[:2000]
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text[:max_length]


@dataclass(frozen=True, slots=True)
class AuthEvent:
    """A login-related event. ``attempt`` marks the line that counts one failed try."""

    kind: str
    user: str | None
    ip: str | None
    attempt: bool = False
    success: bool = False


_USER = r"(?P<user>\S{0,64}?)"
_IP = r"(?P<ip>[0-9A-Fa-f.:]{2,45})"
_SSH_RULES = (
    (re.compile(r"^Failed (?P<method>[\w/-]+) for (?:invalid user )?" + _USER + " from " + _IP
                + r" port \d+"), "ssh_failed", True, False),
    (re.compile(r"^Accepted (?P<method>[\w/-]+) for " + _USER + " from " + _IP + r" port \d+"),
     "ssh_accepted", False, True),
    (re.compile(r"^Invalid user " + _USER + " from " + _IP + r"(?: port \d+)?\s*$"),
     "ssh_invalid_user", False, False),
    (re.compile(r"maximum authentication attempts exceeded for (?:invalid user )?" + _USER
                + " from " + _IP), "ssh_max_attempts", False, False),
    (re.compile(r"Too many authentication failures for (?:invalid user )?" + _USER
                + r"(?P<ip>) \[preauth\]"), "ssh_max_attempts", False, False),
    (re.compile(r"^(?:Disconnected from|Connection closed by|Received disconnect from) "
                r"(?:(?:invalid|authenticating) user " + _USER + " )?" + _IP
                + r"(?: port \d+)?.*\[preauth\]"), "ssh_preauth_disconnect", False, False),
)
_PAM_FAILURE = re.compile(r"^pam_\w+\((?P<service>[\w.-]+):auth\): authentication failure;"
                          r"(?P<fields>.*)$")
_OLD_PAM_TAG = re.compile(r"^(?P<service>[\w.-]+)\(pam_\w+\)$")  # "sshd(pam_unix)" (RHEL 4)
_REPEATED = re.compile(r"^message repeated (?P<n>\d{1,9}) times: \[ ?(?P<msg>.*)\]$")
_PAM_FIELD = re.compile(r"(\w+)=(\S*)")
_SUDO_INCORRECT = re.compile(r"^\s*(?P<user>\S{1,64}) : (?:\d+ incorrect password attempts?|"
                             r"a password is required)")
_SU_FAILED = re.compile(r"^FAILED (?:SU \(to (?P<target>\S+)\) (?P<user>\S+)|su for "
                        r"(?P<target2>\S+) by (?P<user2>\S+))")


def unrepeat(message: str) -> tuple[int, str]:
    """Undo syslog repeat folding: ("message repeated 5 times: [ X]") → (5, "X")."""
    m = _REPEATED.match(message)
    return (int(m["n"]), m["msg"]) if m else (1, message)


def _ip_or_none(value: str | None) -> str | None:
    if not value or value in {"-", "UNKNOWN", "unknown"} or not any(c.isdigit() for c in value):
        return None
    return value


def parse_auth_event(source: str, message: str) -> AuthEvent | None:
    """Recognise sshd, PAM, sudo and su login failures/successes; None for other lines."""
    program = source.lower()
    if program.startswith("sshd"):
        for pattern, kind, attempt, success in _SSH_RULES:
            m = pattern.search(message)
            if m:
                return AuthEvent(kind, m["user"] or None, _ip_or_none(m["ip"]), attempt, success)
    m = _PAM_FAILURE.search(message)
    old = _OLD_PAM_TAG.match(source)
    if m is None and old and message.startswith("authentication failure;"):
        m = re.match(r"(?P<service>)(?P<fields>.*)", message)
    if m:
        service = m["service"] or (old["service"] if old else "unknown")
        fields = dict(_PAM_FIELD.findall(m["fields"]))
        user = fields.get("user") or fields.get("ruser") or fields.get("logname") or None
        # sshd writes its own "Failed password" line for the same try: count that one.
        attempt = not service.startswith("sshd")
        return AuthEvent(f"pam_failure:{service}"[:64], user,
                         _ip_or_none(fields.get("rhost")), attempt=attempt)
    if program == "sudo":
        m = _SUDO_INCORRECT.search(message)
        if m:
            return AuthEvent("sudo_incorrect_password", m["user"], None)
    if program == "su":
        m = _SU_FAILED.search(message)
        if m:
            return AuthEvent("su_failed", m["user"] or m["user2"], None)
    return None


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_ISO_AT = re.compile(r"^(?:<\d{1,3}>1 )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"
                     r"(?:Z|[+-]\d\d:\d\d))")
_BSD_AT = re.compile(r"^(?:<\d{1,3}>)?([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) ")


def line_time(line: str, now: float) -> float | None:
    """When a syslog line was written (epoch seconds), None when it has no time. BSD
    times have no year or zone: local time, in the latest year not after ``now`` + 1 day."""
    m = _ISO_AT.match(line)
    if m:
        try:
            return datetime.fromisoformat(m[1].replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    m = _BSD_AT.match(line)
    if not m or m[1] not in _MONTHS:
        return None
    year = time.gmtime(now).tm_year
    for y in (year + 1, year, year - 1):
        try:
            local = time.mktime((y, _MONTHS[m[1]], int(m[2]), int(m[3]), int(m[4]), int(m[5]),
                                 0, 0, -1))
        except (OverflowError, ValueError):
            continue
        if local <= now + 86400:
            return local
    return None

