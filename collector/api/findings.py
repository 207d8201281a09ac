"""HTTP API of the findings register, waivers, baselines and host profiles (/api/v1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from hostpatrol.shared.report import format_time
from werkzeug.exceptions import HTTPException

from .. import authz
from ..audit import record
from ..errors import ApiError
from ..findings import baselines, lifecycle, owners, queries, waivers
from ..findings.deadlines import is_overdue, overdue_clause
from ..findings.events import timeline
from ..policy import loader
from ..policy.model import LEVELS, level_name
from ..store import agents as agent_store
from ..store import findingcounts, profiles
from ..store.schema import findings
from ..store.schema import waivers as waiver_table
from .base import api_error, http_error, int_arg, json_body, require_reader

findings_api = Blueprint("findings_api", __name__, url_prefix="/api/v1")
findings_api.register_error_handler(ApiError, api_error)
findings_api.register_error_handler(HTTPException, http_error)
MAX_PAGE = 500


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


def _ts(value: datetime | None) -> str | None:
    return format_time(value) if value else None


def finding_dict(row: Any, now: datetime) -> dict[str, Any]:
    """A finding as the API shows it."""
    return {
        "id": row.id, "host": row.agent_id, "rule": row.rule_id, "subject": row.subject,
        "check": row.check_name, "title": row.title, "group": row.group_name,
        "state": row.state, "level": level_name(row.level),
        "base_level": level_name(row.base_level), "factors": row.factors,
        "owner": row.owner, "backup_owner": row.backup_owner, "deadline": _ts(row.deadline),
        "overdue": is_overdue(row.state, row.deadline, now), "first_seen": _ts(row.first_seen),
        "opened_at": _ts(row.opened_at), "last_seen": _ts(row.last_seen),
        "repeat_count": row.repeat_count, "occurrences": row.occurrences,
        "evidence": row.evidence, "policy_version": row.policy_version,
    }


def _actor() -> lifecycle.Actor:
    user = require_reader()
    return lifecycle.Actor(user.name, user.role)


def _audit(conn: sa.Connection, actor: str, action: str, target: str,
           details: dict[str, Any], now: datetime) -> None:
    record(conn, actor=actor, action=action, target=target, details=details, now=now)


@findings_api.get("/findings")
@authz.require("read")
def list_findings() -> Response:
    """Findings, newest first; filters state, level, host, rule, overdue; paginated."""
    require_reader()
    now = g.now
    limit, offset = int_arg("limit", 100, MAX_PAGE), int_arg("offset", 0, 10**9)
    where = [authz.scope_clause(findings.c.group_name)]
    states = levels = None
    if request.args.get("state"):
        states = request.args["state"].split(",")
    if request.args.get("level"):
        try:
            levels = [LEVELS[x] for x in request.args["level"].split(",")]
        except KeyError as e:
            msg = f"unknown level {e.args[0]!r}; use I, II, III, IV or info"
            raise ApiError(msg, status=400) from e
        where.append(findings.c.level.in_(levels))
    if request.args.get("host"):
        where.append(findings.c.agent_id == request.args["host"])
    if request.args.get("rule"):
        where.append(findings.c.rule_id == request.args["rule"])
    overdue = request.args.get("overdue")
    if overdue not in (None, "1", "true"):
        msg = "overdue must be 1 or true (leave it out for every finding)"
        raise ApiError(msg, status=400)
    if overdue is not None:
        where.append(overdue_clause(now))
    counted = not (request.args.get("host") or request.args.get("rule") or overdue)
    with _engine().connect() as conn:
        total = (findingcounts.count(conn, scope=authz.scope(), states=states, levels=levels)
                 if counted else  # the triggers' counts (store.findingcounts)
                 conn.execute(sa.select(sa.func.count()).select_from(findings).where(
                     *where, *([findings.c.state.in_(states)] if states else []))
                 ).scalar_one())
        if states:  # a common state: the rows found by walking the ids' order
            where.append(queries.state_in(states, walk=queries.common(conn, authz.scope(),
                                                                     states)))
        rows = conn.execute(sa.select(findings).where(*where).order_by(findings.c.id.desc())
                            .limit(limit).offset(offset)).all()
    return jsonify({"ok": True, "total": total, "limit": limit, "offset": offset,
                    "findings": [finding_dict(r, now) for r in rows]})


@findings_api.get("/findings/<int:finding_id>")
@authz.require("read")
def get_finding(finding_id: int) -> Response:
    """One finding with its timeline and waivers."""
    require_reader()
    now = g.now
    with _engine().connect() as conn:
        row = lifecycle.get_finding(conn, finding_id)
        if not authz.visible(row.group_name):
            msg = f"no finding {finding_id}"
            raise ApiError(msg, status=404)
        events = timeline(conn, finding_id)
        ws = conn.execute(sa.select(waiver_table).where(waiver_table.c.finding_id == finding_id)
                          .order_by(waiver_table.c.id)).all()
    return jsonify({"ok": True, "finding": finding_dict(row, now), "events": [
        {"id": e.id, "at": _ts(e.at), "actor": e.actor, "action": e.action,
         "from": e.from_state, "to": e.to_state, "note": e.note, "details": e.details}
        for e in events], "waivers": [waivers.waiver_dict(w) for w in ws]})


def _body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        msg = "body must be a JSON object"
        raise ApiError(msg, status=400)
    return body


def _text(body: dict[str, Any], key: str, limit: int = 2000) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        msg = f"{key} must be a string of at most {limit} characters"
        raise ApiError(msg, status=400)
    return value


@findings_api.post("/findings/<int:finding_id>/transition")
@authz.require("respond")
def post_transition(finding_id: int) -> Response:
    """Move a finding: {"to": state, "note": text, "owner": name (for assigned)}."""
    actor, body, now = _actor(), _body(), g.now
    to = _text(body, "to", 32)
    if not to:
        msg = 'body must name the new state: {"to": "assigned", "note": "..."}'
        raise ApiError(msg, status=400)
    with _engine().begin() as conn:
        policy = loader.current(conn)
        owner = _text(body, "owner", 64)
        if owner and to == "assigned":  # a name picked by hand: a known person
            owners.check_owner(conn, policy, owner)
        row = lifecycle.transition(conn, policy, finding_id, to, actor, now,
                                   note=_text(body, "note"), owner=owner)
        _audit(conn, actor.name, "finding.transition", f"finding:{finding_id}",
               {"to": to, "note": _text(body, "note")}, now)
    return jsonify({"ok": True, "finding": finding_dict(row, now)})


@findings_api.post("/findings/<int:finding_id>/waivers")
@authz.require("respond")
def post_waiver(finding_id: int) -> tuple[Response, int]:
    """Request a waiver: {"justification": text, "days": N} or {"expires_at": RFC 3339}."""
    actor, body, now = _actor(), _body(), g.now
    days = body.get("days")
    if isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 3650:
        expires = now + timedelta(days=days)
    elif isinstance(body.get("expires_at"), str):
        try:
            expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        except ValueError as e:
            msg = "expires_at must be an RFC 3339 time"
            raise ApiError(msg, status=400) from e
        if expires.tzinfo is None:
            msg = "expires_at needs a time zone (e.g. Z)"
            raise ApiError(msg, status=400)
    else:
        msg = 'a waiver needs "days" (1-3650) or "expires_at"'
        raise ApiError(msg, status=400)
    with _engine().begin() as conn:
        w = waivers.request(conn, loader.current(conn), finding_id, actor,
                            justification=_text(body, "justification") or "",
                            expires_at=expires, now=now)
        _audit(conn, actor.name, "waiver.request", f"finding:{finding_id}",
               {"waiver": w.id, "expires_at": w.expires_at.isoformat()}, now)
    return jsonify({"ok": True, "waiver": waivers.waiver_dict(w)}), 201


def _decide(waiver_id: int, approve: bool) -> Response:
    actor, now = _actor(), g.now
    body = _body() if request.get_data(cache=True) else {}
    with _engine().begin() as conn:
        w = waivers.decide(conn, loader.current(conn), waiver_id, actor, approve=approve,
                           now=now, note=_text(body, "note"))
        _audit(conn, actor.name, "waiver.approve" if approve else "waiver.reject",
               f"waiver:{waiver_id}", {"finding": w.finding_id, "note": _text(body, "note")},
               now)
    return jsonify({"ok": True, "waiver": waivers.waiver_dict(w)})


@findings_api.post("/waivers/<int:waiver_id>/approve")
@authz.require("approve")
def post_waiver_approve(waiver_id: int) -> Response:
    """Approve a waiver (approver or admin, never the requester)."""
    return _decide(waiver_id, True)


@findings_api.post("/waivers/<int:waiver_id>/reject")
@authz.require("approve")
def post_waiver_reject(waiver_id: int) -> Response:
    """Reject a waiver (approver or admin)."""
    return _decide(waiver_id, False)


def _host(conn: sa.Connection, agent_id: str) -> Any:
    row = agent_store.get(conn, agent_id)
    if row is None or not authz.visible(row.group_name):
        msg = f"no host with id {agent_id[:64]!r}"
        raise ApiError(msg, status=404)
    return row


@findings_api.get("/hosts/<agent_id>/baseline")
@authz.require("read")
def get_baseline(agent_id: str) -> Response:
    """The host's baselines (ports, admins, software, network, hardware)."""
    require_reader()
    with _engine().connect() as conn:
        _host(conn, agent_id)
        rows = profiles.get_baselines(conn, agent_id)
    return jsonify({"ok": True, "baselines": {
        k: {"items": r.items, "taken_at": _ts(r.taken_at), "approved_by": r.approved_by}
        for k, r in rows.items()}})


@findings_api.post("/hosts/<agent_id>/baseline/<kind>/approve")
@authz.require("respond")
def post_baseline_approve(agent_id: str, kind: str) -> Response:
    """Make the host's current state of ``kind`` its baseline (drift findings verify)."""
    actor, now = _actor(), g.now
    if actor.role not in ("admin", "operator", "approver"):
        msg = f"role {actor.role} cannot approve baselines"
        raise ApiError(msg, status=403)
    with _engine().begin() as conn:
        _host(conn, agent_id)
        items = baselines.approve(conn, agent_id, kind, actor.name, now)
        _audit(conn, actor.name, "baseline.approve", f"host:{agent_id}",
               {"kind": kind, "items": len(items)}, now)
    return jsonify({"ok": True, "kind": kind, "items": items})


@findings_api.post("/hosts/<agent_id>/profile")
@authz.require("admin")
def post_profile(agent_id: str) -> Response:
    """Set criticality, tags, group, owner, backup owner (admin)."""
    actor, body, now = _actor(), _body(), g.now
    if actor.role != "admin":
        msg = "changing a host's profile needs the admin role"
        raise ApiError(msg, status=403)
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(
            isinstance(t, str) and 0 < len(t) <= 64 for t in tags)):
        msg = "tags must be a list of short strings"
        raise ApiError(msg, status=400)
    critical = body.get("critical")
    if critical is not None and not isinstance(critical, bool):
        msg = "critical must be true or false"
        raise ApiError(msg, status=400)
    with _engine().begin() as conn:
        _host(conn, agent_id)
        row = profiles.set_profile(conn, agent_id, by=actor.name, now=now, critical=critical,
                                   tags=tags, owner=_text(body, "owner", 64),
                                   backup_owner=_text(body, "backup_owner", 64),
                                   group=_text(body, "group", 128))
        _audit(conn, actor.name, "host.profile", f"host:{agent_id}",
               {k: body.get(k) for k in ("critical", "tags", "owner", "backup_owner", "group")
                if k in body}, now)
    return jsonify({"ok": True, "profile": {"critical": row.critical, "tags": row.tags,
                                            "owner": row.owner,
                                            "backup_owner": row.backup_owner}})
