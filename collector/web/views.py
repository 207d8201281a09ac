"""Dashboard pages: login, hosts list, host page. Server-rendered, no external assets."""

from __future__ import annotations

import json
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from hostpatrol.shared.report import utcnow

from ..store import agents as agent_store
from ..store import reports as report_store
from ..store import users as user_store

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/static")
PAGE = 50


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


@web.before_app_request
def _load_user() -> None:
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        with _engine().connect() as conn:
            user = user_store.by_id(conn, uid)
        if user is not None and not user.disabled:
            g.user = user


def login_required(view: Any) -> Any:
    """Redirect anonymous visitors to the login page."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("web.login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("web.hosts")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.hosts")
    return target


@web.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with name and password."""
    if request.method == "POST":
        name = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:1024]
        with _engine().begin() as conn:
            user = user_store.check_login(conn, name, password, utcnow())
        if user is None:
            flash("Wrong user name or password, or the account is locked.")
            return render_template("login.html"), 401
        session.clear()
        session["uid"] = user.id
        session.permanent = True
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html")


@web.post("/logout")
def logout() -> Response:
    """Sign out."""
    session.clear()
    return redirect(url_for("web.login"))


@web.get("/")
@login_required
def hosts() -> str:
    """All hosts with last check-in and status."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    q = request.args.get("q", "")[:100] or None
    with _engine().connect() as conn:
        rows = agent_store.list_agents(conn, limit=PAGE + 1, offset=(page - 1) * PAGE, search=q)
        total = agent_store.count_agents(conn)
    return render_template("hosts.html", hosts=rows[:PAGE], total=total, page=page,
                           has_next=len(rows) > PAGE, q=q or "", now=utcnow())


@web.get("/hosts/<agent_id>")
@login_required
def host(agent_id: str) -> str:
    """One host: identity and the latest result of every check."""
    with _engine().connect() as conn:
        row = agent_store.get(conn, agent_id)
        if row is None:
            abort(404)
        results = report_store.latest_results(conn, agent_id)
        recent = report_store.recent_reports(conn, agent_id)
    by_check = {r.check_name: r for r in results}
    return render_template("host.html", host=row, results=results, by_check=by_check,
                           recent=recent, pretty=lambda d: json.dumps(d, indent=2)[:20000])


@web.get("/hosts/<agent_id>/evidence/<report_id>.jws")
@login_required
def evidence(agent_id: str, report_id: str) -> Response:
    """The signed report exactly as received (re-verifiable with any JOSE tool)."""
    with _engine().connect() as conn:
        jws = report_store.evidence(conn, agent_id, report_id)
    if jws is None:
        abort(404)
    return Response(jws + "\n", content_type="application/jose", headers={
        "Content-Disposition": f'attachment; filename="{report_id}.jws"'})
