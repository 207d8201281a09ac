"""What every API route shares: the one JSON error shape, JSON in and out, integer args and
ids, the reader."""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from hostpatrol.shared.jws import loads_strict
from hostpatrol.shared.strictjson import INT64_MAX
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .. import authz
from ..errors import ApiError
from ..metrics import REPORTS

log = logging.getLogger("hostpatrol.collector.api")


def error_response(message: str, status: int, **extra: Any) -> Response:
    """The one JSON error shape."""
    resp = jsonify({"ok": False, "error": message, "status": status, **extra})
    resp.status_code = status
    return resp


def with_limits(resp: Response) -> Response:
    """Tell agents the ingest limits, so they size their batches under them (answers to
    ``POST /api/v1/reports``, its 413 and ``/healthz``, which agents use as a probe)."""
    resp.headers["Hostpatrol-Max-Body-Bytes"] = str(current_app.config["MAX_CONTENT_LENGTH"])
    resp.headers["Hostpatrol-Max-Report-Bytes"] = str(
        current_app.extensions["hostpatrol.limits"].max_report_bytes)
    resp.headers["Hostpatrol-Max-Batch"] = str(current_app.config["HOSTPATROL_MAX_BATCH"])
    return resp


def api_error(e: ApiError) -> Response:
    """An ``ApiError`` as the JSON error (registered on every API blueprint)."""
    return error_response(e.message, e.status)


DB_RETRY_AFTER = 10  # seconds an agent waits when the database is briefly unavailable


def database_error(e: sa.exc.OperationalError) -> Response:
    """503 + Retry-After when the database is briefly unavailable (app-wide handler).

    Locked SQLite past its busy timeout, PostgreSQL restarting: the request did not
    happen; an agent keeps its spool and comes back after Retry-After.
    """
    log.error("database unavailable path=%s error=%r", request.path, str(e.orig)[:200])
    resp = error_response("database temporarily unavailable; retry later", 503)
    resp.headers["Retry-After"] = str(DB_RETRY_AFTER)
    return resp


def http_error(e: HTTPException) -> Response:
    """Werkzeug's HTTP errors (404, 405, 413…) in the same JSON shape."""
    if e.code == 413:
        REPORTS.labels(outcome="too_large").inc()
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return with_limits(error_response(f"request body is larger than {limit} bytes", 413))
    return error_response(e.description or e.name, e.code or 500)


class StrictJSONProvider(DefaultJSONProvider):
    """Every JSON answer is valid JSON: a non-finite number (in a row an older version
    stored) is written as null, never as the ``Infinity`` strict parsers refuse."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``json.dumps`` refusing NaN/Infinity; on such a value, again with null for it."""
        try:
            return super().dumps(obj, **{**kwargs, "allow_nan": False})
        except ValueError:
            log.warning("non-finite number in an answer written as null path=%s",
                        request.path if has_request_context() else "-")
            text = super().dumps(obj, **{**kwargs, "allow_nan": True})
            return super().dumps(json.loads(text, parse_constant=lambda _: None),
                                 **{**kwargs, "allow_nan": False})


class Int64Converter(IntegerConverter):
    """``<int:…>`` in every route: a non-negative id that fits a 64-bit column (404 beyond,
    as for any id that names nothing, never a database error)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(url_map, *args, **kwargs)


def json_body() -> Any:
    """The request's JSON body, strictly parsed (415 or 400 otherwise)."""
    if not request.mimetype == "application/json":
        msg = f"expected Content-Type application/json, got {request.mimetype or 'none'}"
        raise ApiError(msg, status=415)
    try:
        return loads_strict(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as e:
        msg = f"body is not valid JSON: {str(e)[:200]}"
        raise ApiError(msg, status=400) from e


def require_reader() -> Any:
    """The user behind a Bearer API token or a dashboard session; 401 otherwise.

    ``authz.load_user`` (run before every request) has already resolved either one.
    """
    user = getattr(g, "user", None)
    if user is None:
        msg = "authentication required (Authorization: Bearer TOKEN)"
        raise ApiError(msg, status=401)
    authz.check_session_write()
    return user


def int_arg(name: str, default: int, maximum: int) -> int:
    """A query argument as an integer between 0 and ``maximum`` (400 otherwise)."""
    raw = request.args.get(name, str(default))
    try:
        value = int(raw)
    except ValueError as e:
        msg = f"{name} must be an integer"
        raise ApiError(msg, status=400) from e
    if not 0 <= value <= maximum:
        msg = f"{name} must be between 0 and {maximum}"
        raise ApiError(msg, status=400)
    return value
