"""OpenAPI paths of the findings register, waivers, baselines and host profiles."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
LEVEL = {"enum": ["I", "II", "III", "IV", "info"]}
STATE = {"enum": ["open", "assigned", "in_progress", "fixed", "verified", "closed", "waived"]}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", **_json(ERROR)} for c in codes}


def _path(name: str, kind: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def finding_schema() -> dict[str, Any]:
    """A finding as the API returns it."""
    ts = {"type": ["string", "null"]}
    return {"type": "object", "properties": {
        "id": {"type": "integer"}, "host": {"type": "string"}, "rule": {"type": "string"},
        "subject": {"type": "string"}, "check": {"type": "string"}, "title": {"type": "string"},
        "group": {"type": ["string", "null"]}, "state": STATE, "level": LEVEL,
        "base_level": LEVEL, "factors": {"type": "array", "items": {"type": "object"}},
        "owner": {"type": ["string", "null"]}, "backup_owner": {"type": ["string", "null"]},
        "deadline": ts, "overdue": {"type": "boolean"}, "first_seen": ts, "opened_at": ts,
        "last_seen": ts, "repeat_count": {"type": "integer"},
        "occurrences": {"type": "integer"}, "evidence": {"type": "object"},
        "policy_version": {"type": "integer"}}}


def paths(secured: list[dict[str, Any]]) -> dict[str, Any]:
    """The paths, keyed like the main document's."""
    finding = {"$ref": "#/components/schemas/Finding"}
    ok = {"type": "object", "properties": {"ok": {"const": True}}}
    body = {"requestBody": {"required": True, **_json({"type": "object"})}}
    return {
        "/api/v1/findings": {"get": {
            "summary": "The findings register (newest first)", "security": secured,
            "parameters": [_query("state", {"type": "string", "description": "comma list"}),
                           _query("level", {"type": "string", "description": "I,II,…"}),
                           _query("host", {"type": "string"}), _query("rule", {"type": "string"}),
                           _query("overdue", {"enum": ["1", "true"]}),
                           _query("limit", {"type": "integer", "maximum": 500}),
                           _query("offset", {"type": "integer"})],
            "responses": {"200": {"description": "findings", **_json({
                "type": "object", "properties": {"ok": {"const": True},
                                                 "total": {"type": "integer"},
                                                 "findings": {"type": "array",
                                                              "items": finding}}})},
                **_errors(400, 401)}}},
        "/api/v1/findings/{finding_id}": {"get": {
            "summary": "One finding with its events and waivers", "security": secured,
            "parameters": [_path("finding_id")],
            "responses": {"200": {"description": "finding", **_json(ok)}, **_errors(401, 404)}}},
        "/api/v1/findings/{finding_id}/transition": {"post": {
            "summary": 'Change state: {"to", "note", "owner"} (admin, operator, approver)',
            "security": secured, "parameters": [_path("finding_id")], **body,
            "responses": {"200": {"description": "moved", **_json(ok)},
                          **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/v1/findings/{finding_id}/waivers": {"post": {
            "summary": 'Request a waiver: {"justification", "days" | "expires_at"}',
            "security": secured, "parameters": [_path("finding_id")], **body,
            "responses": {"201": {"description": "requested", **_json(ok)},
                          **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/v1/waivers/{waiver_id}/approve": {"post": {
            "summary": "Approve a waiver (approver/admin, not the requester)",
            "security": secured, "parameters": [_path("waiver_id")],
            "responses": {"200": {"description": "approved", **_json(ok)},
                          **_errors(401, 403, 404, 409)}}},
        "/api/v1/waivers/{waiver_id}/reject": {"post": {
            "summary": "Reject a waiver (approver/admin)", "security": secured,
            "parameters": [_path("waiver_id")],
            "responses": {"200": {"description": "rejected", **_json(ok)},
                          **_errors(401, 403, 404, 409)}}},
        "/api/v1/hosts/{agent_id}/baseline": {"get": {
            "summary": "A host's baselines", "security": secured,
            "parameters": [_path("agent_id", "string")],
            "responses": {"200": {"description": "baselines", **_json(ok)},
                          **_errors(401, 404)}}},
        "/api/v1/hosts/{agent_id}/baseline/{kind}/approve": {"post": {
            "summary": "Approve the current state as the baseline", "security": secured,
            "parameters": [_path("agent_id", "string"), _path("kind", "string")],
            "responses": {"200": {"description": "approved", **_json(ok)},
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/v1/hosts/{agent_id}/profile": {"post": {
            "summary": "Set critical, tags, group, owner, backup_owner (admin)",
            "security": secured, "parameters": [_path("agent_id", "string")], **body,
            "responses": {"200": {"description": "profile", **_json(ok)},
                          **_errors(400, 401, 403, 404, 415)}}},
    }
