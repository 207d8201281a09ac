"""The signed-in user's own account: display name and password (the current one needed)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from .. import audit, authz
from ..people import PASSWORD_MIN, DisplayNameError, clean_display_name, password_acceptable
from ..store import accounts
from ..store import users as user_store
from .blueprint import engine, web


def _self() -> Any:
    with engine().connect() as conn:
        user = user_store.by_id(conn, g.user.id)
    if user is None:  # signed in a moment ago and deleted since
        raise authz.Forbidden(_("Your account no longer exists."))
    return user


@web.get("/account")
@authz.require("read")
def account_page() -> str:
    """Display name and password of the signed-in user."""
    return render_template("account.html", user=_self(), password_min=PASSWORD_MIN)


@web.post("/account/profile")
@authz.require("read")
def account_profile() -> Any:
    """Change one's own display name (any script; blank removes it)."""
    user = _self()
    try:
        display = clean_display_name(request.form.get("display_name", "")[:256])
    except DisplayNameError:
        flash(_("A display name is at most 64 characters, without control or invisible "
                "characters."))
        return redirect(url_for("web.account_page"))
    if display != user.display_name:
        with engine().begin() as conn:
            user_store.set_display_name(conn, user.id, display)
            audit.record(conn, actor=user.name, action="user.display_name",
                         target=f"user:{user.name}", now=g.now,
                         details={"display_name": display,
                                  "previous_display_name": user.display_name})
    flash(_("Your display name is now %(name)s.", name=display or user.name))
    return redirect(url_for("web.account_page"))


@web.post("/account/password")
@authz.require("read")
def account_password() -> Any:
    """Change one's own password: the current one, then the new one twice. The user's
    other sessions end; this one stays signed in."""
    current = request.form.get("current", "")[:1024]
    new, again = request.form.get("new", "")[:2048], request.form.get("again", "")[:2048]
    if not password_acceptable(new):
        flash(_("A new password is %(min)d to 1,024 characters long.", min=PASSWORD_MIN))
        return redirect(url_for("web.account_page"))
    if new != again:
        flash(_("The two new passwords differ."))
        return redirect(url_for("web.account_page"))
    user = _self()
    with engine().begin() as conn:
        ok = user_store.verify_password(conn, user, current, g.now)
        if ok:
            user_store.set_password(conn, user.id, new)
            accounts.close_user_sessions(conn, user.id, keep=session.get("sid"))
        audit.record(conn, actor=user.name, action="user.password" if ok
                     else "user.password_refused", target=f"user:{user.name}",
                     details={}, now=g.now)
    if not ok:
        flash(_("The current password is wrong (or the account is locked). Nothing changed."))
        return redirect(url_for("web.account_page"))
    flash(_("Your password is changed. Your other sessions have been signed out."))
    return redirect(url_for("web.account_page"))
