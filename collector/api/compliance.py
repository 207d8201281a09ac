"""``GET /api/v1/compliance``: compliance per check area, counted as the overview and the
self-inspection report count it (:mod:`reports.compliance`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import authz
from ..errors import ApiError
from ..reports import compliance, rollup
from ..reports.period import PeriodError, parse
from ..reports.register_at import iso
from .base import api_error, http_error

compliance_api = Blueprint("compliance_api", __name__, url_prefix="/api/v1")
compliance_api.register_error_handler(ApiError, api_error)
compliance_api.register_error_handler(HTTPException, http_error)


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


def _zone() -> str:
    return current_app.extensions["hostpatrol.config"].settings["report"]["timezone"]


@compliance_api.get("/compliance")
@authz.require("read")
def get_compliance() -> Response:
    """Per area: hosts in scope, checked, compliant, rates; ``?period=`` a report period
    (2026-W48, 2026-11, 2026-Q4, 2026), else the overview's last seven days."""
    key = (request.args.get("period") or "").strip()[:16]
    scope = authz.scope()
    with _engine().connect() as conn:
        if not key:
            live = rollup.live_figures(conn, scope, g.now)
            window = {"period": None, "start": iso(live["start"]), "end": None,
                      "as_of": iso(live["as_of"]), "timezone": _zone()}
            figures = {k: live[k] for k in ("hosts", "reported", "areas", "overall")}
        else:
            try:
                p = parse(key, _zone())
            except PeriodError as e:
                raise ApiError(str(e), status=400) from e
            as_of = min(p.end, g.now)
            window = {"period": p.key, "start": iso(p.start), "end": iso(p.end),
                      "as_of": iso(as_of), "timezone": _zone()}
            figures = rollup.period_figures(conn, p, g.now, scope)
    return jsonify({"ok": True, "window": window, **figures,
                    "definition": compliance.DEFINITION})


def paths(secured: list[dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI path of this endpoint."""
    count = {"type": "integer", "minimum": 0}
    rate = {"type": ["number", "null"], "description": "percent, one decimal"}
    area = {"type": "object", "properties": {
        "area": {"type": "string"}, "hosts": count, "checked": count, "compliant": count,
        "rate": rate, "coverage": rate}}
    return {"/api/v1/compliance": {"get": {
        "summary": "Compliance per check area (the overview's and the report's definition)",
        "security": secured,
        "parameters": [{"name": "period", "in": "query", "schema": {
            "type": "string", "description": "2026-W48 | 2026-11 | 2026-Q4 | 2026; "
                                             "default: the last seven days"}}],
        "responses": {
            "200": {"description": "figures", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "ok": {"const": True}, "window": {"type": "object"}, "hosts": count,
                    "reported": count, "areas": {"type": "array", "items": area},
                    "overall": {"type": "object"}, "definition": {"type": "string"}}}}}},
            "400": {"description": "error", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "error", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Error"}}}}}}}}
