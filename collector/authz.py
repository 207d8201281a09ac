"""Who may do what: roles, permissions, the viewer's group scope, separation of duties.

Every route is wrapped in exactly one of :func:`require` (a permission) or :func:`public`
(deliberately open: login, agent endpoints, health); a test walks the URL map to enforce it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError

from .errors import ApiError, CollectorError
from .store import accounts
from .store import users as user_store
from .store.sql import in_scope

ROLES = user_store.ROLES

# permission -> roles holding it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),                                    # hosts, dossiers (scoped)
    "fleet": frozenset({"admin", "operator", "approver", "auditor"}),  # unscoped views
    "operate": frozenset({"admin", "operator"}),                 # triage, remediate
    "respond": frozenset({"admin", "operator", "approver"}),     # work findings, waivers
    "approve": frozenset({"approver", "admin"}),                 # waivers, reports, closure
    "audit": frozenset({"admin", "auditor"}),                    # audit log
    "admin": frozenset({"admin"}),                               # users, agents, enrollment
}

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Forbidden(CollectorError):
    """The signed-in user may not do this."""


class SeparationOfDuties(Forbidden):
    """The same person may not both create and approve a record."""


def has(user: Any, permission: str) -> bool:
    """Whether ``user`` (a users row, or None) holds ``permission``."""
    if permission not in PERMISSIONS:
        msg = f"unknown permission {permission!r}"
        raise KeyError(msg)
    return user is not None and user.role in PERMISSIONS[permission]


def can(permission: str) -> bool:
    """Whether the current request's user holds ``permission`` (for templates)."""
    return has(getattr(g, "user", None), permission)


def ensure_not_self(actor: str, author: str | None, what: str) -> None:
    """Refuse when ``actor`` would approve ``what`` that ``author`` created or requested."""
    if author is not None and actor == author:
        msg = f"{actor} cannot approve {what}: it is their own (separation of duties)"
        raise SeparationOfDuties(msg)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _engine() -> sa.Engine:
    return current_app.extensions["hostpatrol.engine"]


def load_user(now: Any) -> None:
    """Set ``g.user`` and ``g.groups`` from an API bearer token (API only) or the session;
    ``g.auth`` says which (``"bearer"``, ``"session"`` or None)."""
    g.user, g.groups, g.auth = None, None, None
    header = request.headers.get("Authorization", "")
    if not session.get("sid") and not (_is_api() and header.startswith("Bearer ")):
        return  # agents and anonymous visitors cost no database round trip
    with _engine().connect() as conn:
        if _is_api() and header.startswith("Bearer "):
            g.user, g.auth = user_store.by_api_token(conn, header[7:].strip()), "bearer"
            if g.user is None:
                msg = "API token is not valid"
                raise ApiError(msg, status=401)
        elif session.get("sid"):
            g.user = accounts.session_user(conn, session["sid"], now)
            g.auth = "session" if g.user is not None else None
        if g.user is not None and g.user.role == "viewer":
            g.groups = accounts.groups_of(conn, g.user.id)


def require(permission: str) -> Callable[[F], F]:
    """Route decorator: anonymous → login (401 on the API); lacking permission → 403."""
    PERMISSIONS[permission]  # noqa: B018 - fail at wiring time on a typo

    def wrap(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = getattr(g, "user", None)
            if user is None:
                if _is_api():
                    msg = "authentication required (Authorization: Bearer TOKEN)"
                    raise ApiError(msg, status=401)
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not has(user, permission):
                if _is_api():
                    msg = f"role {user.role} may not do this (needs {permission})"
                    raise ApiError(msg, status=403)
                abort(403)
            check_session_write()
            return view(*args, **kwargs)
        wrapped.hostpatrol_permission = permission  # type: ignore[attr-defined]
        wrapped.hostpatrol_enforced = True  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]
    return wrap


def check_session_write() -> None:
    """An API write authenticated by the dashboard's session cookie must come as a form
    would: with the page's CSRF token (``X-CSRFToken``) and a same-origin Referer.

    The API is exempt from the dashboard's CSRF check because scripts authenticate with
    ``Authorization: Bearer``, which no other site can make a browser send; a cookie is
    sent along by the browser to any page of the same site (another port, a sibling
    host), so a write that relies on it is checked like a form. 403 otherwise.
    """
    if not _is_api() or request.method in SAFE_METHODS or getattr(g, "auth", None) != "session":
        return
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or getattr(g, "csrf_valid", False):
        return  # switched off (as for forms), or already checked in this request
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError as e:
        msg = (f"an API write with the dashboard's session needs the page's CSRF token "
               f"(X-CSRFToken header) from the same origin: {e.description}; scripts use "
               f"Authorization: Bearer TOKEN")
        raise ApiError(msg, status=403) from e


def public(view: F) -> F:
    """Mark a route as deliberately open to anyone (the matrix test checks every route)."""
    view.hostpatrol_permission = None  # type: ignore[attr-defined]
    return view


def scope() -> frozenset[str] | None:
    """Groups the current user is limited to, or None for every group."""
    return getattr(g, "groups", None)


def scope_clause(group_column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting rows to the current user's groups (true for everyone else)."""
    return in_scope(group_column, scope())


def visible(group_name: str | None) -> bool:
    """Whether a host of ``group_name`` is visible to the current user."""
    groups = scope()
    return groups is None or (group_name is not None and group_name in groups)
