"""Run checks (each time-limited, never fatal), then build and sign the report."""

from __future__ import annotations

import logging
import platform
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import __version__, jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import key_id
from hostpatrol.shared.report import MAX_ERROR_CHARS, CheckResult, Report, validate_report

from . import ostext, wirecheck
from .checks.base import Check, CheckFailed, CheckSkipped

log = logging.getLogger("hostpatrol.agent.runner")


def _machine_id() -> str | None:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text[:128]
    return None


_CONTROL = re.compile(r"[\x00-\x1f]")


def _host_field(text: str) -> str:
    """OS text for the envelope's host fields: visible, no control characters, bounded."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", ostext.visible(text))
    return shown[:255]


def host_identity() -> dict[str, str]:
    """What every report says about the host it came from."""
    ident = {"hostname": _host_field(socket.gethostname()), "agent_version": __version__,
             "os": _host_field(f"{platform.system()} {platform.release()}")}
    mid = _machine_id()
    if mid:
        ident["machine_id"] = mid
    return ident


def run_one(check: Check) -> CheckResult:
    """Run a check in a worker thread with its time limit; never raises."""
    started = utcnow()
    t0 = time.monotonic()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = check.collect()
        except CheckSkipped as e:
            box["skipped"] = str(e) or "not applicable"
        except CheckFailed as e:  # an expected condition: the message is the error
            box["error"] = str(e) or "check failed"
        except Exception as e:  # noqa: BLE001 - one check never kills the run
            box["error"] = f"{type(e).__name__}: {e}"
            log.exception("check crashed check=%s", check.name)

    worker = threading.Thread(target=target, name=f"check-{check.name}", daemon=True)
    worker.start()
    worker.join(check.timeout)
    ms = int((time.monotonic() - t0) * 1000)
    if worker.is_alive():
        return CheckResult(check.name, "error", started, ms, {},
                           f"timed out after {check.timeout:g}s")
    if "outcome" in box:
        outcome = box["outcome"]
        return wire_safe(CheckResult(check.name, outcome.status, started, ms, outcome.data))
    if "skipped" in box:
        reason = ostext.visible(box["skipped"])[:500]
        return CheckResult(check.name, "skipped", started, ms, {"reason": reason})
    error = ostext.visible_message(box.get("error", "unknown"))
    return CheckResult(check.name, "error", started, ms, {}, error[:MAX_ERROR_CHARS])


def wire_safe(result: CheckResult) -> CheckResult:
    """``result`` as it may travel: OS text made visible (:mod:`ostext`), and checked to
    serialise and to pass its schema; otherwise an ``error`` result saying why, so one
    odd result never costs the report (and the other checks and the heartbeat in it)."""
    try:
        data = ostext.visible_tree(result.data)
        if not isinstance(data, dict):
            msg = f"data is a {type(data).__name__}, not an object"
            raise TypeError(msg)
        safe = replace(result, data=data)
        jws.loads_strict(jws.dumps_compact(safe.to_dict()))  # the collector's typed limits
        problem = (wirecheck.problem(result.check, data)
                   if result.status not in ("error", "skipped") else None)
    except Exception as e:  # noqa: BLE001 - whatever it is, the report must still go out
        problem = f"{type(e).__name__}: {ostext.visible_message(str(e))}"
        why = "result could not be serialised"
    else:
        why = "result would be refused by the collector's schema"
    if problem is None:
        return safe
    log.error("check result replaced by an error check=%s reason=%r", result.check, problem)
    return CheckResult(result.check, "error", result.started_at, result.duration_ms, {},
                       f"{why} ({result.status}): {problem}"[:MAX_ERROR_CHARS])


def run_checks(checks: Iterable[Check]) -> list[CheckResult]:
    """Run checks one after another."""
    return [run_one(c) for c in checks]


def build_report(agent_id: str, seq: int, schedule: str, results: list[CheckResult],
                 meta: dict[str, Any] | None = None,
                 gap: dict[str, Any] | None = None) -> Report:
    """A report for these results, validated as the collector will."""
    report = Report(agent_id=agent_id, report_id=str(uuid.uuid4()), seq=seq,
                    created_at=utcnow(), schedule=schedule, results=tuple(results),
                    host=host_identity(), meta=meta or {}, gap=gap)
    validate_report(report.to_dict())
    return report


def sign_report(report: Report, key: Ed25519PrivateKey) -> str:
    """The report as a JWS compact string (EdDSA, kid = the agent's key id)."""
    payload = jws.dumps_compact(report.to_dict())
    return jws.sign(payload, key, kid=key_id(key.public_key()), typ="hostpatrol.report+jws")
