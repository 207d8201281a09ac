"""openapi_agents: the OpenAPI paths of agent check-in, key rotation and host commands."""

from __future__ import annotations

from typing import Any

AGENT_AUTH = ("Authorization: Agent <JWS> — signed by the agent key (kid), payload "
              '{"format": "hostpatrol.request/1", "agent_id", "method", "path", "iat"}')


def _err(*codes: int) -> dict[str, Any]:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(c): {"description": "error", **ref} for c in codes}


def agent_paths(secured: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Paths for ``document()``."""
    jose = {"content": {"application/jose": {"schema": {"type": "string",
                                                        "description": "JWS compact"}}}}
    return {
        "/api/v1/policy": {"get": {
            "summary": "This agent's policy, signed by the collector key",
            "description": AGENT_AUTH + ". Payload hostpatrol.policy/1: version, issued_at, "
                           "agent_id, schedules, checks, monitoring_level.",
            "responses": {"200": {"description": "typ hostpatrol.policy+jws", **jose},
                          **_err(401, 403)}}},
        "/api/v1/agents/rotate": {"post": {
            "summary": "Replace the agent key",
            "description": "Body: JWS hostpatrol.rotate/1 signed by the current key, holding "
                           "new_key (JWK), new_kid and proof (JWS hostpatrol.rotate-proof/1 "
                           "signed by the new key).",
            "requestBody": {"required": True, **jose},
            "responses": {"200": {"description": "rotated (or already rotated)",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}},
                          **_err(400, 401, 403, 409)}}},
        "/api/v1/hosts/{agent_id}/commands": {"post": {
            "summary": "Queue a run_now command (admin or operator)", "security": secured,
            "parameters": [{"name": "agent_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "kind": {"const": "run_now"},
                    "checks": {"type": "array", "items": {"type": "string"}},
                    "ttl_hours": {"type": "integer", "minimum": 1, "maximum": 168}}}}}},
            "responses": {"201": {"description": "queued; delivered with the host's next "
                                                 "delivery answer as a signed JWS",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}},
                          **_err(400, 401, 403, 404, 409)}}},
    }
