"""The fleet software view (/software): which hosts have package X in version Y, which still
have a security update pending; the package table as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, abort, g, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import authz
from ..store import software
from . import sheets
from .blueprint import NAV_KEY, engine, page_number, settings, web


def register_nav(app: Flask) -> None:
    """The menu entry."""
    app.extensions.setdefault(NAV_KEY, []).append(("web.software_page", _l("Software"), "read"))


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    register_nav(state.app)


def software_filter(args: Mapping[str, str]) -> tuple[software.SoftwareFilter, dict[str, str]]:
    """The view's filter from the URL, and the parameters that reproduce it."""
    params = {k: v for k, v in {"q": (args.get("q") or "").strip()[:512],
                                "version": (args.get("version") or "")[:256],
                                "security": "1" if args.get("security") == "1" else ""}.items()
              if v}
    return software.SoftwareFilter(q=params.get("q"), version=params.get("version"),
                                   scope=authz.scope()), params


@web.get("/software")
@authz.require("read")
def software_page() -> str:
    """Packages across the fleet with the hosts that have them; pending updates."""
    size = settings("dashboard")["page_size"]
    page = page_number()
    f, params = software_filter(request.args)
    security = params.get("security") == "1"
    with engine().connect() as conn:
        rows = software.packages(conn, f, limit=size + 1, offset=(page - 1) * size)
        updates = software.pending(conn, f, security=security)
        pending_hosts = software.hosts_pending(conn, f.scope, security=False)
        security_hosts = software.hosts_pending(conn, f.scope, security=True)
    return render_template("software.html", rows=rows[:size], page=page,
                           has_next=len(rows) > size,
                           f=f, params=params, updates=updates, security=security,
                           pending_hosts=pending_hosts, security_hosts=security_hosts)


@web.get("/software.<fmt>")
@authz.require("read")
def software_export(fmt: str) -> Response:
    """The package table exactly as filtered on screen, every page."""
    if fmt not in sheets.FORMATS:
        abort(404)
    f, _params = software_filter(request.args)
    with engine().connect() as conn:
        rows = software.packages(conn, f, limit=None)
    return sheets.response(fmt, f"hostpatrol-software-{g.now:%Y%m%d-%H%M%S}", _("Software"),
                           [_("Package"), _("Version"), _("Hosts")],
                           ([r.name, r.version, r.hosts] for r in rows))
