"""HTTP API under /api/v1 plus /healthz, /metrics and /openapi.json."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from hostpatrol.shared.keys import public_jwk
from hostpatrol.shared.report import format_time
from werkzeug.exceptions import HTTPException

from .. import authz
from ..errors import ApiError
from ..intake.admission import gated
from ..intake.enroll import enroll
from ..intake.throttle import enroll_failed, enroll_refused
from ..metrics import INGEST_SECONDS, render
from ..store import agents as agent_store
from ..store import fleet
from ..store import reports as report_store
from ..store.resultdata import judged
from .base import api_error, error_response, http_error, int_arg, json_body, with_limits
from .openapi import document

log = logging.getLogger("hostpatrol.collector.api")
api = Blueprint("api", __name__, url_prefix="/api/v1")
meta = Blueprint("meta", __name__)
api.register_error_handler(ApiError, api_error)
api.register_error_handler(HTTPException, http_error)

MAX_PAGE = 500


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


@api.post("/enroll")
def post_enroll() -> tuple[Response, int]:
    """Register an agent's new key with an enrollment token."""
    body = json_body()
    ip, now = (request.remote_addr or "unknown")[:56], g.now
    limits = current_app.extensions["hostpatrol.config"].settings["enroll"]
    window = timedelta(minutes=limits["window_minutes"])
    with _engine().begin() as conn:
        if enroll_refused(conn, ip, now, max_failures=limits["max_failures_per_ip"],
                          window=window):
            log.warning("enrollment throttled ip=%s", ip)
            resp = error_response("too many failed enrollments from this address; "
                                  "try again later", 429)
            resp.headers["Retry-After"] = str(int(window.total_seconds()))
            return resp, 429
    try:
        with _engine().begin() as conn:
            done = enroll(conn, body, now, ip=ip)
    except ApiError as e:
        if e.status == 401:  # a wrong, expired or used-up token: what guessing produces
            with _engine().begin() as conn:
                enroll_failed(conn, ip, now, window)
        raise
    key = current_app.extensions["hostpatrol.signing_key"].public_key()
    log.info("agent enrolled agent=%s status=%s", done.agent_id, done.status)
    return jsonify({
        "ok": True, "agent_id": done.agent_id, "status": done.status, "kid": done.kid,
        "collector_key": public_jwk(key),
    }), 201


@api.post("/reports")
@gated
def post_reports() -> tuple[Response, int]:
    """Accept one JWS (application/jose) or a JSON batch ``{"reports": [...]}``."""
    started = time.perf_counter()
    batcher = current_app.extensions["hostpatrol.batcher"]
    if request.mimetype in ("application/jose", "application/jose+json", "text/plain"):
        outcomes, extras = batcher.submit([request.get_data(cache=False)])
        outcome = outcomes[0]
        INGEST_SECONDS.observe(time.perf_counter() - started)
        if outcome.outcome == "rejected":
            return with_limits(_refusal(outcome)), outcome.status
        return with_limits(jsonify({**outcome.to_dict(), **extras})), outcome.status
    body = json_body()
    items = body.get("reports") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        msg = 'a JSON batch must be {"reports": ["<JWS>", ...]}'
        raise ApiError(msg, status=400)
    max_batch = current_app.config["HOSTPATROL_MAX_BATCH"]
    if len(items) > max_batch:
        msg = f"batch of {len(items)} reports; the limit is {max_batch}"
        return with_limits(error_response(msg, 413)), 413
    outcomes, extras = batcher.submit(list(items))
    INGEST_SECONDS.observe(time.perf_counter() - started)
    limited = [o for o in outcomes if o.status == 429]
    if limited and len(limited) == len(outcomes):
        return with_limits(_refusal(limited[0])), 429
    return with_limits(jsonify({
        "ok": True,
        "accepted": sum(o.outcome == "accepted" for o in outcomes),
        "duplicates": sum(o.outcome == "duplicate" for o in outcomes),
        "rejected": sum(o.outcome == "rejected" for o in outcomes),
        "results": [o.to_dict() for o in outcomes],
        **extras,
    })), 200


def _refusal(outcome: Any) -> Response:
    """The error answer for a refused report (429 carries Retry-After)."""
    resp = error_response(outcome.error or "rejected", outcome.status)
    if outcome.retry_after is not None:
        resp.headers["Retry-After"] = str(outcome.retry_after)
    return resp


def host_dict(row: Any) -> dict[str, Any]:
    """An agent row as the API shows a host."""
    return {
        "id": row.id, "hostname": row.hostname, "status": row.status,
        "group": row.group_name, "os": row.os_name, "agent_version": row.agent_version,
        "machine_id": row.machine_id, "worst_status": row.worst_status,
        "enrolled_at": format_time(row.enrolled_at),
        "last_seen_at": format_time(row.last_seen_at) if row.last_seen_at else None,
        "last_report_at": format_time(row.last_report_at) if row.last_report_at else None,
        "last_seq": row.last_seq,
        "clone_suspected_at": (format_time(row.clone_suspected_at)
                               if row.clone_suspected_at else None),
        "clone_reason": row.clone_reason,
        "evidence_gap": ({**row.evidence_gap, "reported_at": format_time(row.evidence_gap_at)}
                         if row.evidence_gap and row.evidence_gap_at else None),
        "last_crash": ({**row.last_crash, "reported_at": format_time(row.last_crash_at)}
                       if row.last_crash and row.last_crash_at else None),
    }


@api.get("/hosts")
@authz.require("read")
def get_hosts() -> Response:
    """Hosts (enrolled agents), paginated with limit/offset, optional ?q= search."""
    limit = int_arg("limit", 100, MAX_PAGE)
    offset = int_arg("offset", 0, 10**9)
    f = fleet.HostFilter(q=(request.args.get("q") or "")[:100] or None, scope=authz.scope())
    window = {"now": g.now, "silent_after": timedelta(hours=48)}
    with _engine().connect() as conn:
        rows = fleet.hosts(conn, f, limit=limit, offset=offset, **window)
        total = fleet.count_hosts(conn, f, **window)
    return jsonify({"ok": True, "total": total, "limit": limit, "offset": offset,
                    "hosts": [host_dict(r) for r in rows]})


@api.get("/hosts/<agent_id>")
@authz.require("read")
def get_host(agent_id: str) -> Response:
    """One host with the latest result of every check."""
    horizon = current_app.extensions["hostpatrol.limits"].latest_result(g.now)
    with _engine().connect() as conn:
        row = agent_store.get(conn, agent_id)
        if row is None or not authz.visible(row.group_name):
            msg = f"no host with id {agent_id[:64]!r}"
            raise ApiError(msg, status=404)
        results = judged(report_store.latest_results(conn, agent_id), horizon)
        count = report_store.count_reports(conn, agent_id)
    # an unreadable row (stored by an older version) has data null and says why: a client
    # may rely on data matching the check's schema whenever it is given
    return jsonify({"ok": True, "host": host_dict(row), "reports": count, "results": [
        {"check": r.check_name, "status": r.status, "started_at": format_time(r.started_at),
         "duration_ms": r.duration_ms, "data": None if r.unreadable else r.data,
         "error": r.error, "unreadable": r.unreadable} for r in results
    ]})


@meta.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and database reachability."""
    try:
        with _engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as e:
        log.error("healthz database error=%r", str(e)[:200])
        return with_limits(jsonify({"ok": False, "error": "database unreachable",
                                    "status": 503})), 503
    return with_limits(jsonify({"ok": True, "database": "ok"})), 200


@meta.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition."""
    body, ctype = render()
    return Response(body, content_type=ctype)


@meta.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of the HTTP API."""
    return Response(json.dumps(document(), indent=1), content_type="application/json")
