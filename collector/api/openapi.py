"""The OpenAPI 3.1 description of the collector's HTTP API (kept beside the routes)."""

from __future__ import annotations

from typing import Any

from hostpatrol.shared import __version__

from .compliance import paths as compliance_paths
from .openapi_agents import agent_paths
from .openapi_findings import finding_schema
from .openapi_findings import paths as findings_paths

ERROR = {"$ref": "#/components/schemas/Error"}
LIMITS_NOTE = ("Answers carry the ingest limits as headers, so agents size their batches "
               "under them: Hostpatrol-Max-Body-Bytes (ingest.max_body_bytes), "
               "Hostpatrol-Max-Report-Bytes (ingest.max_report_bytes), Hostpatrol-Max-Batch "
               "(ingest.max_batch).")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", **_json(ERROR)} for c in codes}


def _retry(description: str) -> dict[str, Any]:
    """An error answer that carries ``Retry-After`` (seconds)."""
    return {"description": description, **_json(ERROR), "headers": {"Retry-After": {
        "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}}


def document() -> dict[str, Any]:
    """Build the document."""
    host = {"type": "object", "required": ["id", "hostname", "status"], "properties": {
        "id": {"type": "string"}, "hostname": {"type": "string"},
        "status": {"enum": ["pending", "active", "revoked"]},
        "group": {"type": ["string", "null"]}, "os": {"type": ["string", "null"]},
        "agent_version": {"type": ["string", "null"]},
        "machine_id": {"type": ["string", "null"]},
        "worst_status": {"type": ["string", "null"]},
        "enrolled_at": {"type": "string"}, "last_seen_at": {"type": ["string", "null"]},
        "last_report_at": {"type": ["string", "null"]},
        "last_seq": {"type": ["integer", "null"]},
        "clone_suspected_at": {"type": ["string", "null"]},
        "clone_reason": {"type": ["string", "null"]},
        "evidence_gap": {"type": ["object", "null"], "description": (
            "the last gap marker the agent sent: reports that will never arrive (dropped "
            "from its full spool, too large, refused), counted by reason"),
            "properties": {"dropped": {"type": "integer"},
                           "first_seq": {"type": ["integer", "null"]},
                           "last_seq": {"type": ["integer", "null"]},
                           "report_ids": {"type": "array", "items": {"type": "string"}},
                           "reasons": {"type": "object", "properties": {
                               k: {"type": "integer"}
                               for k in ("spool_full", "too_large", "rejected")}},
                           "reported_at": {"type": "string"}}},
        "last_crash": {"type": ["object", "null"], "description": (
            "the last run the agent told of that failed before its report was out"),
            "properties": {"at": {"type": "string"}, "first_at": {"type": "string"},
                           "command": {"type": "string"}, "error": {"type": "string"},
                           "where": {"type": "string"}, "count": {"type": "integer"},
                           "reported_at": {"type": "string"}}},
    }}
    item = {"type": "object", "required": ["ok", "result"], "properties": {
        "ok": {"type": "boolean"}, "result": {"enum": ["accepted", "duplicate", "rejected"]},
        "report_id": {"type": "string"}, "error": {"type": "string"},
        "status": {"type": "integer"}, "reason": {"type": "string"},
        "retry_after": {"type": "integer", "description": "seconds (rate limited, 429)"},
    }}
    result = {"type": "object", "required": ["check", "status", "data", "unreadable"],
              "properties": {
        "check": {"type": "string"}, "status": {"enum": ["ok", "warn", "fail", "error",
                                                          "skipped"]},
        "started_at": {"type": "string"}, "duration_ms": {"type": "integer"},
        "data": {"type": ["object", "null"], "description": (
            "the check's data, valid against its schema; null when unreadable")},
        "error": {"type": ["string", "null"]},
        "unreadable": {"type": ["string", "null"], "description": (
            "why a stored result cannot be read as its check's data (stored by an older "
            "version, or damaged); null for every result accepted under current rules")}}}
    secured = [{"bearer": []}, {"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "hostpatrol collector", "version": __version__},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "hostpatrol_session"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["ok", "error", "status"],
                          "properties": {"ok": {"const": False}, "error": {"type": "string"},
                                         "status": {"type": "integer"}}},
                "Host": host,
                "ReportResult": item,
                "Finding": finding_schema(),
            },
        },
        "paths": {
            "/api/v1/enroll": {"post": {
                "summary": "Register an agent key with an enrollment token",
                "requestBody": {"required": True, **_json({
                    "type": "object", "required": ["token", "proof"],
                    "properties": {"token": {"type": "string"}, "proof": {
                        "type": "string", "description": "JWS signed by the new key"}}})},
                "responses": {"201": {"description": "enrolled", **_json({
                    "type": "object", "properties": {
                        "ok": {"const": True}, "agent_id": {"type": "string"},
                        "status": {"enum": ["pending", "active"]}, "kid": {"type": "string"},
                        "collector_key": {"type": "object"}}})},
                    **_errors(400, 401, 409, 413, 415, 503),
                    "429": _retry("too many failed enrollments from this address")},
            }},
            "/api/v1/reports": {"post": {
                "summary": "Deliver one signed report or a batch",
                "description": LIMITS_NOTE,
                "requestBody": {"required": True, "content": {
                    "application/jose": {"schema": {"type": "string",
                                                    "description": "JWS compact"}},
                    "application/json": {"schema": {
                        "type": "object", "required": ["reports"],
                        "properties": {"reports": {"type": "array",
                                                   "items": {"type": "string"}}}}},
                }},
                "responses": {
                    "201": {"description": "accepted", **_json(item)},
                    "200": {"description": "duplicate, or batch outcome", **_json({
                        "type": "object", "properties": {
                            "ok": {"type": "boolean"},
                            "results": {"type": "array", "items": item}}})},
                    **_errors(400, 401, 403, 413, 415, 422),
                    "429": _retry("this agent is over its report rate limit, or the "
                                  "collector is busy (ingest.max_concurrent)"),
                    "503": _retry("the database is briefly unavailable"),
                },
            }},
            "/api/v1/hosts": {"get": {
                "summary": "List hosts", "security": secured,
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer",
                                                                "minimum": 0, "maximum": 500}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer",
                                                                 "minimum": 0}},
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "hosts", **_json({
                    "type": "object", "properties": {
                        "ok": {"const": True}, "total": {"type": "integer"},
                        "hosts": {"type": "array", "items": {"$ref": "#/components/schemas/Host"}},
                    }})}, **_errors(400, 401)},
            }},
            "/api/v1/hosts/{agent_id}": {"get": {
                "summary": "One host with its latest check results", "security": secured,
                "parameters": [{"name": "agent_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "host", **_json({
                    "type": "object", "properties": {
                        "ok": {"const": True}, "host": {"$ref": "#/components/schemas/Host"},
                        "reports": {"type": "integer"},
                        "results": {"type": "array", "items": result}}})},
                              **_errors(401, 404)},
            }},
            **findings_paths(secured),
            **compliance_paths(secured),
            **agent_paths(secured),
            "/healthz": {"get": {"summary": "Liveness", "description": LIMITS_NOTE,
                                 "responses": {
                "200": {"description": "up", **_json({"type": "object"})},
                **_errors(503)}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text exposition",
                        "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI", **_json({"type": "object"})}}}},
        },
    }
