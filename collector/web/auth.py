"""Sign-in (rate limited per address, audited), sign-out and the language switch."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .. import audit
from ..authz import public
from ..people import clean_user_name
from ..store import accounts
from ..store import users as user_store
from .blueprint import engine, settings, web
from .i18n import COOKIE, LANGUAGES

log = logging.getLogger("hostpatrol.collector.web")


def safe_next(target: str | None, default: str | None = None) -> str:
    """A local path to go to after sign-in or an action (never another site); ``default``
    (the overview unless given) for anything else."""
    fallback = default or url_for("web.overview")
    if not target:
        return fallback
    if any(ord(c) < 33 or ord(c) == 127 for c in target):  # browsers drop tabs/newlines
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


def client_ip() -> str:
    """The peer address (``serve`` terminates TLS itself: no proxy header to trust)."""
    return (request.remote_addr or "unknown")[:64]


@web.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Sign in with name and password."""
    if request.method == "GET":
        return render_template("login.html")
    raw = request.form.get("username", "")[:256]
    name = clean_user_name(raw) or raw[:64]  # NFC, as names are stored
    password = request.form.get("password", "")[:1024]
    ip, now = client_ip(), g.now
    limits = settings("login")
    window = timedelta(minutes=limits["window_minutes"])
    with engine().begin() as conn:
        if accounts.recent_failures(conn, ip, now, window) >= limits["max_failures_per_ip"]:
            log.warning("login throttled ip=%s user=%r", ip, name)
            abort(429)
        before = user_store.by_name(conn, name)
        user = user_store.check_login(conn, name, password, now)
        if user is None:
            accounts.record_failure(conn, ip, now, window)
            after = user_store.by_name(conn, name)
            locked = after is not None and after.locked_until is not None \
                and after.locked_until > now
            audit.record(conn, actor="anonymous", action="login.failed", target=f"user:{name}",
                         details={"ip": ip, "locked": locked}, now=now)
            if locked and (before.locked_until is None or before.locked_until <= now):
                audit.record(conn, actor="system", action="user.locked", target=f"user:{name}",
                             details={"until": after.locked_until.isoformat(), "ip": ip},
                             now=now)
            failed = True
        else:
            failed = False
            lifetime = current_app.permanent_session_lifetime
            token = accounts.open_session(conn, user.id, now=now, lifetime=lifetime, ip=ip)
            audit.record(conn, actor=user.name, action="login", target=f"user:{user.name}",
                         details={"ip": ip}, now=now)
    if failed:
        flash(_("Wrong user name or password, or the account is locked."))
        return render_template("login.html"), 401
    session.clear()  # a session fixed before sign-in never carries over
    session["sid"] = token
    session.permanent = True
    return redirect(safe_next(request.args.get("next")))


@web.post("/logout")
@public
def logout() -> Response:
    """Sign out: the server-side session ends, so the old cookie is worthless."""
    sid = session.get("sid")
    if sid:
        with engine().begin() as conn:
            accounts.close_session(conn, sid)
            if g.user is not None:
                audit.record(conn, actor=g.user.name, action="logout",
                             target=f"user:{g.user.name}", details={"ip": client_ip()},
                             now=g.now)
    session.clear()
    return redirect(url_for("web.login"))


@web.get("/lang/<code>")
@public
def language(code: str) -> Response:
    """Switch the dashboard language (a cookie) and go back."""
    if code not in LANGUAGES:
        abort(404)
    resp = make_response(redirect(safe_next(request.args.get("next"))))
    resp.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, secure=True, httponly=True,
                    samesite="Lax")
    return resp
