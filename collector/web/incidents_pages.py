"""The incident register's page (安全事件登记): recorded incidents and the form to record one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import authz
from ..reports import incidents
from .blueprint import NAV_KEY, engine, settings, web


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(NAV_KEY, []).append(
        ("web.incidents_page", _l("Incidents"), "fleet"))


@web.get("/incidents")
@authz.require("fleet")
def incidents_page() -> str:
    """Every recorded incident, newest first."""
    with engine().connect() as conn:
        rows = [{**i, "occurred": datetime.fromisoformat(i["occurred_at"]),
                 "recorded": datetime.fromisoformat(i["recorded_at"])}
                for i in incidents.listing(conn)]
    return render_template("incidents.html", rows=rows, levels=("I", "II", "III", "IV"))


def _local_time(text: str) -> datetime:
    """A ``datetime-local`` form value in the dashboard's zone."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(settings("dashboard")["timezone"]))
    return value


@web.post("/incidents")
@authz.require("operate")
def incident_record() -> Any:
    """Record one incident (audited)."""
    form = request.form
    try:
        occurred = _local_time(form.get("occurred_at") or "")
        ids = [int(x) for x in (form.get("findings") or "").replace(",", " ").split()]
    except ValueError:
        flash(_("Not done: give the time as shown in the form and finding ids as numbers."))
        return redirect(url_for("web.incidents_page"))
    try:
        with engine().begin() as conn:
            iid = incidents.record(conn, level=form.get("level") or "", occurred_at=occurred,
                                   title=form.get("title"), description=form.get("description"),
                                   finding_ids=ids, by=g.user.name, now=g.now)
    except incidents.IncidentError as e:
        flash(_("Not done: %(why)s", why=str(e)))
        return redirect(url_for("web.incidents_page"))
    flash(_("Incident %(id)s recorded.", id=iid))
    return redirect(url_for("web.incidents_page"))
