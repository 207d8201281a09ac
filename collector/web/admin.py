"""Admin pages: agents (approve, revoke), enrollment tokens (join line) and users."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit, authz
from ..intake.identity import fingerprint
from ..people import DisplayNameError, clean_display_name, clean_user_name
from ..store import accounts
from ..store import agents as agent_store
from ..store import users as user_store
from ..store.schema import agents, enroll_tokens
from .blueprint import engine, page_number, settings, web
from .labels import status_label

GROUP = re.compile(r"^[^\x00-\x1f,]{1,128}$")
EXPIRIES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
            "30d": timedelta(days=30)}


def _audit(conn: sa.Connection, action: str, target: str, **details: Any) -> None:
    audit.record(conn, actor=g.user.name, action=action, target=target, details=details,
                 now=g.now)


def _agents_page(conn: sa.Connection, page: int, join: dict[str, str] | None) -> str:
    """The agents page: pending first, one page of them; the tokens; a join line once."""
    size = settings("dashboard")["page_size"]
    rows = conn.execute(sa.select(agents).order_by(
        sa.case((agents.c.status == "pending", 0), else_=1), agents.c.hostname, agents.c.id)
        .limit(size + 1).offset((page - 1) * size)).all()
    counts = dict(conn.execute(sa.select(agents.c.status, sa.func.count())
                               .group_by(agents.c.status)).all())
    tokens = conn.execute(sa.select(enroll_tokens).order_by(
        enroll_tokens.c.created_at.desc()).limit(20)).all()
    total = sum(counts.values())
    return render_template("agents.html", agents=rows[:size], tokens=tokens,
                           expiries=EXPIRIES, join=join, page=page,
                           has_next=len(rows) > size, counts=counts, total=total,
                           pages=max(1, -(-total // size)))


@web.get("/agents")
@authz.require("admin")
def agents_page() -> str:
    """Pending agents first (with what an admin needs to decide), then all others, a page
    at a time; enrollment tokens."""
    with engine().connect() as conn:
        return _agents_page(conn, page_number(), None)


@web.post("/agents/<agent_id>/<action>")
@authz.require("admin")
def agent_action(agent_id: str, action: str) -> Any:
    """Approve or revoke one agent."""
    if action not in ("approve", "revoke"):
        abort(404)
    status = "active" if action == "approve" else "revoked"
    with engine().begin() as conn:
        row = agent_store.get(conn, agent_id[:64])
        if row is None:
            abort(404)
        if row.status == "revoked" and status == "active":
            flash(_("A revoked agent must enroll again with a new key."))
            return redirect(url_for("web.agents_page"))
        agent_store.set_status(conn, row.id, status, g.now)
        _audit(conn, f"agent.{action}", f"agent:{row.id}", hostname=row.hostname,
               previous=row.status)
    flash(_("Agent %(host)s is now %(state)s.", host=row.hostname, state=status_label(status)))
    return redirect(url_for("web.agents_page"))


@web.post("/agents/tokens")
@authz.require("admin")
def token_create() -> Any:
    """Create an enrollment token and show its join line once."""
    config = current_app.extensions["hostpatrol.config"]
    uses = request.form.get("uses", 1, type=int) or 1
    expires = EXPIRIES.get(request.form.get("expires", "24h"), EXPIRIES["24h"])
    group = request.form.get("group", "").strip() or None
    auto = request.form.get("auto_approve") == "on"
    if not 1 <= uses <= 10000 or (group is not None and not GROUP.match(group)):
        flash(_("Uses must be between 1 and 10000 and the group a short name."))
        return redirect(url_for("web.agents_page"))
    token = "hpe_" + secrets.token_urlsafe(24)
    with engine().begin() as conn:
        tid = agent_store.create_token(conn, token, now=g.now, expires_at=g.now + expires,
                                       max_uses=uses, group=group, auto_approve=auto)
        _audit(conn, "token.create", f"token:{tid}", uses=uses, group=group,
               auto_approve=auto, expires_at=(g.now + expires).isoformat())
    join = join_lines(config.public_url, token, fingerprint(config.tls_cert))
    with engine().connect() as conn:
        return _agents_page(conn, 1, join)


def join_lines(server: str, token: str, fingerprint_: str) -> dict[str, str]:
    """How a host joins, per platform: the agent's ``enroll`` on Linux and macOS, the
    Windows zip's ``install.cmd`` (elevated) on Windows."""
    args = f"--server {server} --token {token} --fingerprint {fingerprint_}"
    return {"linux": f"hostpatrol-agent enroll {args}", "windows": f"install.cmd {args}"}


@web.get("/users")
@authz.require("admin")
def users_page() -> str:
    """Every account with its role, groups and state."""
    with engine().connect() as conn:
        rows = accounts.list_users(conn)
    return render_template("users.html", users=rows, roles=authz.ROLES, secret=None)


def _groups(text: str) -> set[str] | None:
    groups = {p.strip() for p in text.split(",") if p.strip()}
    return groups if all(GROUP.match(x) for x in groups) else None


@web.post("/users")
@authz.require("admin")
def user_create() -> Any:
    """Create an account; its first password is generated and shown once."""
    name = clean_user_name(request.form.get("name", "")[:256])
    role = request.form.get("role", "")
    groups = _groups(request.form.get("groups", ""))
    if name is None or role not in authz.ROLES or groups is None:
        flash(_("A user name is 1–64 letters (any script, e.g. 张伟), digits or _.@- "
                "without spaces; pick a role."))
        return redirect(url_for("web.users_page"))
    try:
        display = clean_display_name(request.form.get("display_name"))
    except DisplayNameError as e:
        flash(_("Not done: %(why)s", why=str(e)))
        return redirect(url_for("web.users_page"))
    password = secrets.token_urlsafe(15)
    with engine().begin() as conn:
        if user_store.by_name(conn, name) is not None:
            flash(_("User %(name)s already exists.", name=name))
            return redirect(url_for("web.users_page"))
        uid = user_store.add_user(conn, name, role, password, g.now, display_name=display)
        accounts.set_groups(conn, uid, groups)
        _audit(conn, "user.create", f"user:{name}", role=role, groups=sorted(groups),
               display_name=display)
        rows = accounts.list_users(conn)
    secret = {"label": _("First password of %(name)s", name=name), "value": password}
    return render_template("users.html", users=rows, roles=authz.ROLES, secret=secret)


@web.post("/users/<int:user_id>")
@authz.require("admin")
def user_update(user_id: int) -> Any:
    """Change role, groups or enabled state; ends the user's sessions."""
    role = request.form.get("role", "")
    disabled = request.form.get("disabled") == "on"
    groups = _groups(request.form.get("groups", ""))
    if role not in authz.ROLES or groups is None:
        abort(400)
    with engine().begin() as conn:
        user = user_store.by_id(conn, user_id)
        if user is None:
            abort(404)
        losing_admin = user.role == "admin" and not user.disabled and (
            role != "admin" or disabled)
        if losing_admin and accounts.count_admins(conn) <= 1:
            flash(_("The last admin cannot be demoted or disabled."))
            return redirect(url_for("web.users_page"))
        accounts.update_user(conn, user.id, role=role, disabled=disabled)
        accounts.set_groups(conn, user.id, groups)
        if role != user.role or disabled:
            accounts.close_user_sessions(conn, user.id)
        _audit(conn, "user.update", f"user:{user.name}", role=role, disabled=disabled,
               groups=sorted(groups), previous_role=user.role)
    flash(_("User %(name)s updated.", name=user.name))
    return redirect(url_for("web.users_page"))


@web.post("/users/<int:user_id>/api-token")
@authz.require("admin")
def user_token(user_id: int) -> Any:
    """Issue (replace) a user's API token and show it once."""
    token = "hpt_" + secrets.token_urlsafe(32)
    with engine().begin() as conn:
        user = user_store.by_id(conn, user_id)
        if user is None:
            abort(404)
        user_store.set_api_token(conn, user.id, token)
        _audit(conn, "user.api_token", f"user:{user.name}")
        rows = accounts.list_users(conn)
    secret = {"label": _("API token of %(name)s", name=user.name), "value": token}
    return render_template("users.html", users=rows, roles=authz.ROLES, secret=secret)


@web.post("/users/<int:user_id>/password")
@authz.require("admin")
def user_password_reset(user_id: int) -> Any:
    """Reset another user's password: a new one is generated and shown once, the user's
    sessions end and the audit log records who reset it."""
    password = secrets.token_urlsafe(15)
    with engine().begin() as conn:
        user = user_store.by_id(conn, user_id)
        if user is None:
            abort(404)
        if user.id == g.user.id:  # one's own goes through the account page (current needed)
            flash(_("Change your own password on your account page."))
            return redirect(url_for("web.account_page"))
        user_store.set_password(conn, user.id, password)
        accounts.close_user_sessions(conn, user.id)
        _audit(conn, "user.password_reset", f"user:{user.name}")
        rows = accounts.list_users(conn)
    secret = {"label": _("New password of %(name)s", name=user.name), "value": password}
    return render_template("users.html", users=rows, roles=authz.ROLES, secret=secret)
