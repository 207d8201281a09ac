"""agents: agent check-in endpoints (policy, key rotation) and commands for hosts.

``GET /api/v1/policy`` and ``POST /api/v1/agents/rotate`` authenticate the agent by its
key (never a user); ``POST /api/v1/hosts/<id>/commands`` needs an admin or operator.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from hostpatrol.shared.report import CHECK_NAME, format_time
from werkzeug.exceptions import HTTPException

from .. import audit
from ..errors import ApiError
from ..intake.agent_auth import verify_agent_request
from ..intake.checkin import create_command, policy_token
from ..intake.rotation import rotate_key
from ..store import agents as agent_store
from .base import api_error, http_error, json_body, require_reader

log = logging.getLogger("hostpatrol.collector.api_agents")
agent_api = Blueprint("agent_api", __name__, url_prefix="/api/v1")
agent_api.register_error_handler(ApiError, api_error)
agent_api.register_error_handler(HTTPException, http_error)
MAX_TTL_HOURS = 24 * 7


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


def _skew() -> timedelta:
    return current_app.extensions["hostpatrol.limits"].clock_skew


def _mark(permission: str | None) -> Any:
    """Tag a view for the route/permission matrix (None: not a user endpoint)."""
    def wrap(view: Any) -> Any:
        view.hostpatrol_permission = permission
        return view
    return wrap


@agent_api.get("/policy")
@_mark(None)
def get_policy() -> Response:
    """This agent's policy, signed by the collector key (application/jose)."""
    now = g.now
    with _engine().begin() as conn:
        agent = verify_agent_request(conn, request.headers.get("Authorization", ""),
                                     method="GET", path=request.path, now=now, skew=_skew())
        token = policy_token(conn, agent, current_app.extensions["hostpatrol.signing_key"],
                             now)
    return Response(token, mimetype="application/jose")


@agent_api.post("/agents/rotate")
@_mark(None)
def post_rotate() -> Response:
    """Replace the agent's key (announcement signed by the old key, proof by the new)."""
    try:
        token = request.get_data(cache=False).decode("ascii").strip()
    except UnicodeDecodeError as e:
        msg = "announcement is not a JWS compact serialization"
        raise ApiError(msg, status=400) from e
    with _engine().begin() as conn:
        answer = rotate_key(conn, token, now=g.now, skew=_skew())
    return jsonify(answer)


@agent_api.post("/hosts/<agent_id>/commands")
@_mark("operate")
def post_command(agent_id: str) -> tuple[Response, int]:
    """Queue a ``run_now`` command for a host (admin or operator)."""
    user = require_reader()
    if user.role not in ("admin", "operator"):
        msg = f"role {user.role} may not send commands (admin or operator)"
        raise ApiError(msg, status=403)
    body = json_body()
    if not isinstance(body, dict) or body.get("kind", "run_now") != "run_now":
        msg = 'body must be {"kind": "run_now", "checks": [names], "ttl_hours": N}'
        raise ApiError(msg, status=400)
    checks = body.get("checks", [])
    if not isinstance(checks, list) or not all(
            isinstance(c, str) and CHECK_NAME.match(c) for c in checks) or len(checks) > 50:
        msg = "checks must be a list of check names (empty: every enabled check)"
        raise ApiError(msg, status=400)
    ttl = body.get("ttl_hours", 24)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_HOURS:
        msg = f"ttl_hours must be an integer between 1 and {MAX_TTL_HOURS}"
        raise ApiError(msg, status=400)
    now = g.now
    with _engine().begin() as conn:
        row = agent_store.get(conn, agent_id)
        if row is None:
            msg = f"no host with id {agent_id[:64]!r}"
            raise ApiError(msg, status=404)
        if row.status != "active":
            msg = f"host {row.id} is {row.status}; commands go to active agents only"
            raise ApiError(msg, status=409)
        cid = create_command(conn, row.id, checks, now=now, created_by=user.name,
                             ttl=timedelta(hours=ttl))
        audit.record(conn, actor=user.name, action="agent.run_now", target=f"agent:{row.id}",
                     details={"command": cid, "checks": checks, "ttl_hours": ttl,
                              "via": "api"}, now=now)
    log.info("command queued id=%s agent=%s checks=%s by=%s", cid, agent_id, checks, user.name)
    return jsonify({"ok": True, "id": cid, "agent_id": agent_id, "kind": "run_now",
                    "checks": checks,
                    "expires_at": format_time(now + timedelta(hours=ttl))}), 201
