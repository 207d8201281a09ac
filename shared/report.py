"""The report document (``hostpatrol.report/1``): typed values and envelope validation.

Both sides call :func:`validate_report`: the agent before it signs, the collector after
it verified the signature. Check-specific ``data`` is validated against the JSON
schemas in ``schemas/`` (see :mod:`hostpatrol.shared.schemas`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import SchemaError

FORMAT = "hostpatrol.report/1"
STATUSES = ("ok", "warn", "fail", "error", "skipped")
CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
MAX_RESULTS = 200
MAX_ERROR_CHARS = 4000
MAX_HOST_FIELD = 255
TOP_KEYS = frozenset(
    {"format", "agent_id", "report_id", "seq", "created_at", "schedule", "host", "meta",
     "gap", "results"}
)
RESULT_KEYS = frozenset({"check", "status", "started_at", "duration_ms", "data", "error"})
HOST_KEYS = frozenset({"hostname", "machine_id", "agent_version", "os"})
# A result starts before its report is built (the agent runs the checks, then signs), at
# most a day before (each run is bounded by its checks' time limits; duration_ms by a day);
# the lead allows for the clock being stepped back while the checks ran.
MAX_RESULT_AGE = timedelta(days=1)
MAX_RESULT_LEAD = timedelta(minutes=10)
# A result that did not run (error, skipped) carries no check data: {} or a reason.
NOT_RUN = ("error", "skipped")
MAX_REASON_CHARS = 500


def format_time(ts: datetime) -> str:
    """RFC 3339 UTC with millisecond precision and a ``Z``."""
    ts = ts.astimezone(UTC)
    return f"{ts.year:04d}" + ts.strftime("-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_time(text: Any, path: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset into aware UTC."""
    if not isinstance(text, str) or len(text) > 40 or "T" not in text:
        raise SchemaError(path=path, message="must be an RFC 3339 timestamp string")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as e:
        raise SchemaError(path=path, message=f"not an RFC 3339 timestamp: {text!r}") from e
    if ts.tzinfo is None:
        raise SchemaError(path=path, message="timestamp must carry a UTC offset (e.g. Z)")
    try:
        return ts.astimezone(UTC)
    except OverflowError as e:  # 0001-01-01T00:00:00+14:00 is before the first UTC day
        msg = f"timestamp {text!r} is outside the years 1 to 9999 in UTC"
        raise SchemaError(path=path, message=msg) from e


def not_run_data(data: dict[str, Any]) -> bool:
    """Whether ``data`` is what a result that did not run carries: ``{}`` or a reason."""
    if not data:
        return True
    reason = data.get("reason")
    return len(data) == 1 and isinstance(reason, str) and len(reason) <= MAX_REASON_CHARS


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome inside a report."""

    check: str
    status: str
    started_at: datetime
    duration_ms: int
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "check": self.check,
            "status": self.status,
            "started_at": format_time(self.started_at),
            "duration_ms": self.duration_ms,
            "data": self.data,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """A signed unit of evidence: one run of one or more checks on one host."""

    agent_id: str
    report_id: str
    seq: int
    created_at: datetime
    schedule: str
    results: tuple[CheckResult, ...]
    host: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    gap: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (what gets signed)."""
        doc: dict[str, Any] = {
            "format": FORMAT,
            "agent_id": self.agent_id,
            "report_id": self.report_id,
            "seq": self.seq,
            "created_at": format_time(self.created_at),
            "schedule": self.schedule,
            "host": self.host,
            "meta": self.meta,
            "results": [r.to_dict() for r in self.results],
        }
        if self.gap is not None:
            doc["gap"] = self.gap
        return doc


def _require_keys(obj: Any, path: str, allowed: frozenset[str], required: set[str]) -> dict:
    if not isinstance(obj, dict):
        raise SchemaError(path=path, message="must be an object")
    unknown = set(obj) - allowed
    if unknown:
        raise SchemaError(path=path, message=f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = required - set(obj)
    if missing:
        raise SchemaError(path=path, message=f"missing field(s): {', '.join(sorted(missing))}")
    return obj


def _int(value: Any, path: str, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(path=path, message="must be an integer")
    if not minimum <= value <= maximum:
        raise SchemaError(path=path, message=f"must be between {minimum} and {maximum}")
    return value


def _uuid(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise SchemaError(path=path, message="must be a UUID string")
    try:
        parsed = uuid.UUID(value)
    except ValueError as e:
        raise SchemaError(path=path, message=f"not a UUID: {value[:40]!r}") from e
    if str(parsed) != value:
        raise SchemaError(path=path, message="UUID must be in canonical lower-case form")
    return value


_CONTROL = re.compile(r"[\x00-\x1f]")


def _short_str(value: Any, path: str, limit: int = MAX_HOST_FIELD) -> str:
    if not isinstance(value, str):
        raise SchemaError(path=path, message="must be a string")
    if len(value) > limit:
        raise SchemaError(path=path, message=f"longer than {limit} characters")
    if _CONTROL.search(value):
        raise SchemaError(path=path, message="contains control characters")
    return value


def _result(obj: Any, path: str, created_at: datetime) -> CheckResult:
    _require_keys(obj, path, RESULT_KEYS, {"check", "status", "started_at", "duration_ms",
                                           "data"})
    check = obj["check"]
    if not isinstance(check, str) or not CHECK_NAME.match(check):
        raise SchemaError(path=f"{path}.check", message="must match [a-z][a-z0-9_]{0,63}")
    status = obj["status"]
    if status not in STATUSES:
        raise SchemaError(path=f"{path}.status", message=f"must be one of {', '.join(STATUSES)}")
    data = obj["data"]
    if not isinstance(data, dict):
        raise SchemaError(path=f"{path}.data", message="must be an object")
    error = obj.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise SchemaError(path=f"{path}.error", message="must be a string or null")
        if len(error) > MAX_ERROR_CHARS:
            raise SchemaError(path=f"{path}.error",
                              message=f"longer than {MAX_ERROR_CHARS} characters")
    if status == "error" and not error:
        raise SchemaError(path=f"{path}.error", message="an error result must say what went wrong")
    started_at = parse_time(obj["started_at"], f"{path}.started_at")
    if not -MAX_RESULT_AGE <= started_at - created_at <= MAX_RESULT_LEAD:  # never overflows
        msg = (f"{format_time(started_at)} is not within {MAX_RESULT_AGE.days} day before and "
               f"{MAX_RESULT_LEAD.seconds // 60} minutes after the report's created_at "
               f"({format_time(created_at)})")
        raise SchemaError(path=f"{path}.started_at", message=msg)
    return CheckResult(
        check=check,
        status=status,
        started_at=started_at,
        duration_ms=_int(obj["duration_ms"], f"{path}.duration_ms", maximum=86_400_000),
        data=data,
        error=error,
    )


def validate_report(doc: Any) -> Report:
    """Validate a decoded report document and return it typed; raises SchemaError."""
    _require_keys(doc, "", TOP_KEYS, {"format", "agent_id", "report_id", "seq", "created_at",
                                      "schedule", "results"})
    if doc["format"] != FORMAT:
        raise SchemaError(path="format",
                          message=f"unsupported format {doc['format']!r}; expected {FORMAT}")
    schedule = doc["schedule"]
    if not isinstance(schedule, str) or not SCHEDULE_NAME.match(schedule):
        raise SchemaError(path="schedule", message="must match [a-z0-9][a-z0-9_.:-]{0,63}")
    host = doc.get("host", {})
    _require_keys(host, "host", HOST_KEYS, set())
    for key, value in host.items():
        _short_str(value, f"host.{key}")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise SchemaError(path="meta", message="must be an object")
    gap = doc.get("gap")
    if gap is not None and not isinstance(gap, dict):
        raise SchemaError(path="gap", message="must be an object")
    created_at = parse_time(doc["created_at"], "created_at")
    results = doc["results"]
    if not isinstance(results, list):
        raise SchemaError(path="results", message="must be a list")
    if len(results) > MAX_RESULTS:
        raise SchemaError(path="results", message=f"more than {MAX_RESULTS} results")
    parsed = tuple(_result(r, f"results[{i}]", created_at) for i, r in enumerate(results))
    names = [r.check for r in parsed]
    if len(set(names)) != len(names):
        raise SchemaError(path="results", message="a check appears more than once")
    return Report(
        agent_id=_uuid(doc["agent_id"], "agent_id"),
        report_id=_uuid(doc["report_id"], "report_id"),
        seq=_int(doc["seq"], "seq"),
        created_at=created_at,
        schedule=schedule,
        results=parsed,
        host=host,
        meta=meta,
        gap=gap,
    )
