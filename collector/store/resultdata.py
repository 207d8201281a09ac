"""What a check result's ``data`` may be: refused at ingest, *unreadable* when read back.

A result's data must match its check's JSON schema (``shared/schemas``), whatever its
status; a result that did not run (``error``, ``skipped``) may instead carry no data at
all (``{}`` or ``{"reason": ...}``, what the agent's runner sends). Ingest refuses any
other result naming the field. Rows stored before these rules (or by a bug) may break
them: :func:`unreadable` says why, and pages, the API, histories and forecasts show or
skip such a row as an unreadable result instead of failing on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import fastjsonschema
from hostpatrol.shared.report import NOT_RUN, not_run_data
from hostpatrol.shared.schemas import load_schema, schema_names
from hostpatrol.shared.strictjson import first_bad_value

# No ingest setting in use dates a result this far past the collector's clock (a report
# may be ahead by the clock skew, minutes; its results by minutes more): where the limits
# are not at hand, a stored result dated later is unreadable.
FUTURE_LIMIT = timedelta(days=1)
_VALIDATORS: dict[str, Callable[[Any], Any]] = {}
_LOCK = threading.Lock()


def validators() -> dict[str, Callable[[Any], Any]]:
    """The compiled data schemas, built once per process (``create_app`` builds them up
    front: compiling takes a second, and a burst of first requests would each compile)."""
    if _VALIDATORS:
        return _VALIDATORS
    with _LOCK:
        if not _VALIDATORS:
            # fastjsonschema compiles each schema to Python once: ~100x faster than
            # interpreting it per report. Our schemas keep to keywords it supports (a
            # test checks the set).
            compiled = {}
            for name in schema_names():
                schema = {k: v for k, v in load_schema(name).items() if k != "$schema"}
                compiled[name] = fastjsonschema.compile(schema)
            _VALIDATORS.update(compiled)
    return _VALIDATORS


def data_problem(check: str, status: str, data: Any) -> tuple[str, str] | None:
    """(path from ``data``, what is wrong) when ``data`` breaks its check's schema.

    Checks without a schema (unknown to this collector) take any object.
    """
    if not isinstance(data, dict):
        return "data", "must be an object"
    if status in NOT_RUN and not_run_data(data):
        return None
    validator = validators().get(check)
    if validator is None:
        return None
    try:
        validator(data)
    except fastjsonschema.JsonSchemaException as e:
        where = getattr(e, "name", "data") or "data"
        text = str(getattr(e, "message", e)).removeprefix(f"{where} ")[:300]
        if status in NOT_RUN:
            text += ' (a result that did not run carries {} or {"reason": text})'
        return where, text
    return None


def unreadable(check: str, status: str, started_at: datetime, data: Any,
               latest_plausible: datetime) -> str | None:
    """Why a stored result cannot be shown as its check's data, or None when it can.

    ``latest_plausible``: no result the ingest rules accept starts later than this (the
    collector's now plus the clock skew and a result's lead over its report).
    """
    if started_at > latest_plausible:
        return f"dated {started_at.isoformat()}, after any time the collector accepts"
    bad = first_bad_value(data)
    if bad is not None:
        return f"data{'.' if bad[0] and not bad[0].startswith('[') else ''}{bad[0]}: {bad[1]}"
    problem = data_problem(check, status, data)
    if problem is not None:
        return f"{problem[0]}: {problem[1]}"
    return None


def judged(rows: Iterable[Any], latest_plausible: datetime) -> list[SimpleNamespace]:
    """Stored ``check_results`` rows (as :func:`resultstore.with_data` gives them) with
    one more attribute, ``unreadable``: None, or why the row cannot be shown as its
    check's data (then ``data`` is not to be read)."""
    out = []
    for row in rows:
        values = dict(vars(row)) if isinstance(row, SimpleNamespace) else dict(row._mapping)
        values["unreadable"] = values.get("data_error") or unreadable(
            values["check_name"], values["status"], values["started_at"], values["data"],
            latest_plausible)
        out.append(SimpleNamespace(**values))
    return out
