"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Request, g
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from hostpatrol.shared.clock import Clock, utcnow

from .api.agents import agent_api
from .api.base import Int64Converter, StrictJSONProvider, api_error, database_error
from .api.compliance import compliance_api
from .api.findings import findings_api
from .api.routes import api, meta
from .config import CollectorConfig
from .errors import ApiError
from .intake.admission import IngestGate
from .intake.batcher import Batcher
from .intake.identity import ensure_secret, load_signing_key
from .intake.throttle import AgentRateLimiter
from .intake.trust import Limits, warm_up
from .store.db import make_engine
from .web.views import web

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # CSRF SSL-strict mode checks the Referer
    "Strict-Transport-Security": "max-age=31536000",
}
# Pages, API answers and downloads hold what a signed-in user may see: never kept by a
# browser or a proxy. Static assets (public) set their own Cache-Control.
NO_STORE = {"Cache-Control": "no-store"}


_SECURITY_ITEMS = [(k, v, k.lower()) for k, v in {**SECURITY_HEADERS, **NO_STORE}.items()]


class _SecurityHeaders:
    """WSGI wrapper: add each security header a response does not set itself.

    At the WSGI edge, on plain header tuples: Flask's ``after_request`` with
    ``Headers.setdefault`` costs ~20 µs a response, a fleet's every delivery.
    """

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            have = {name.lower() for name, _ in headers}
            headers += [(k, v) for k, v, low in _SECURITY_ITEMS if low not in have]
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


class _Sessions(SecureCookieSessionInterface):
    """Dashboard sessions; report delivery (signed by the agent, never a user) opens none."""

    def open_session(self, app: Flask, request: Request) -> Any:
        """No session for ``POST /api/v1/reports`` (Flask then uses a null session)."""
        if request.path == "/api/v1/reports":
            return None
        return super().open_session(app, request)


def create_app(config: CollectorConfig, engine: sa.Engine | None = None,
               clock: Clock = utcnow) -> Flask:
    """Build the collector app for ``config`` (engine and clock injectable for tests).

    Every request reads ``clock`` once, as ``g.now``; deliveries read it per group commit.
    """
    app = Flask(__name__)
    app.session_interface = _Sessions()
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = Int64Converter  # before any route is added
    app.config.update(
        SECRET_KEY=ensure_secret(config.secret_key_file),
        MAX_CONTENT_LENGTH=config.ingest["max_body_bytes"],
        HOSTPATROL_MAX_BATCH=config.ingest["max_batch"],
        SESSION_COOKIE_NAME="hostpatrol_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.settings["session"]["lifetime_hours"]),
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
    )
    app.extensions["hostpatrol.config"] = config
    app.extensions["hostpatrol.clock"] = clock
    app.extensions["hostpatrol.engine"] = engine or make_engine(config.database_url)
    app.extensions["hostpatrol.limits"] = Limits.from_config(config.ingest)
    app.extensions["hostpatrol.agent_limiter"] = AgentRateLimiter(
        config.ingest["agent_rate_per_minute"], config.ingest["agent_burst"])
    app.extensions["hostpatrol.signing_key"] = load_signing_key(config.signing_key)
    app.extensions["hostpatrol.ingest_gate"] = IngestGate(
        config.ingest["max_concurrent"], config.ingest["queue_wait_ms"] / 1000,
        config.ingest["busy_retry_after_seconds"])
    app.extensions["hostpatrol.batcher"] = _batcher(app)
    warm_up()

    @app.before_request
    def _now() -> None:  # registered before the blueprints: their hooks see g.now
        g.now = clock()

    csrf = CSRFProtect(app)
    csrf.exempt(api)
    csrf.exempt(agent_api)
    csrf.exempt(findings_api)
    app.register_blueprint(api)
    app.register_blueprint(agent_api)
    app.register_blueprint(findings_api)
    app.register_blueprint(compliance_api)
    app.register_blueprint(meta)
    app.register_blueprint(web)
    app.register_error_handler(sa.exc.OperationalError, database_error)
    # an ApiError raised before routing decided the blueprint (a bad bearer token on a
    # path no route matches) is still the one JSON error, never a 500
    app.register_error_handler(ApiError, api_error)

    app.wsgi_app = _SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
    logging.getLogger("hostpatrol").setLevel(logging.INFO)
    return app


def _batcher(app: Flask) -> Batcher:
    """Group commit for deliveries; answers carry policy version and commands."""
    from .intake.checkin import response_extras_many

    engine, key = app.extensions["hostpatrol.engine"], app.extensions["hostpatrol.signing_key"]
    clock = app.extensions["hostpatrol.clock"]

    def extras(conn: sa.Connection, deliveries: list[list]) -> list[dict]:  # type: ignore[type-arg]
        return response_extras_many(
            conn, key, [[o.agent_id for o in outcomes if o.outcome != "rejected"]
                          for outcomes in deliveries], clock())

    return Batcher(engine, app.extensions["hostpatrol.limits"],
                   admit=app.extensions["hostpatrol.agent_limiter"].admit, extras=extras,
                   clock=clock)
