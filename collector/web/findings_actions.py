"""Register actions from the dashboard: assign, transition, bulk, waivers, baselines.

The lifecycle lives in ``collector.findings``; these views call it, write the one audit
row each human action gets (as the API does) and turn refusals into a flashed message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from hostpatrol.shared.strictjson import INT64_MAX

from .. import audit, authz
from ..errors import ApiError
from ..findings import assignment, baselines, lifecycle, owners, waivers
from ..policy import loader
from ..store import agents as agent_store
from . import labels
from .auth import safe_next
from .blueprint import engine, web
from .finding_labels import state_label
from .refusals import refusal_text

MAX_BULK = 500
ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit also takes "²"


def _actor() -> lifecycle.Actor:
    return lifecycle.Actor(g.user.name, g.user.role)


def _audit(conn: sa.Connection, action: str, target: str, **details: Any) -> None:
    audit.record(conn, actor=g.user.name, action=action, target=target, details=details,
                 now=g.now)


def _visible_finding(conn: sa.Connection, finding_id: int) -> Any:
    try:
        row = lifecycle.get_finding(conn, finding_id)
    except ApiError:
        abort(404)
    if not authz.visible(row.group_name):
        abort(404)
    return row


def _back(finding_id: int | None = None) -> Any:
    default = (url_for("web.finding", finding_id=finding_id) if finding_id is not None
               else url_for("web.findings"))
    return redirect(safe_next(request.form.get("next"), default))


def _run(finding_id: int, work: Callable[[sa.Connection], str]) -> Any:
    """Run one action in a transaction; a refusal (ApiError) becomes a flash message."""
    try:
        with engine().begin() as conn:
            _visible_finding(conn, finding_id)
            flash(work(conn))
    except (ApiError, authz.Forbidden) as e:
        flash(_("Not done: %(why)s", why=refusal_text(e)))
    return _back(finding_id)


def _note() -> str | None:
    return (request.form.get("note") or "").strip()[:2000] or None


@web.post("/findings/<int:finding_id>/transition")
@authz.require("respond")
def finding_transition(finding_id: int) -> Any:
    """Move a finding to another state (the lifecycle decides what is allowed)."""
    to, note = request.form.get("to", "")[:32], _note()

    def work(conn: sa.Connection) -> str:
        policy, owner = loader.current(conn), (request.form.get("owner") or "").strip()[:64]
        if owner and to == "assigned":  # a name picked by hand: a known person
            owners.check_owner(conn, policy, owner)
        lifecycle.transition(conn, policy, finding_id, to, _actor(), g.now,
                             note=note, owner=owner or None)
        _audit(conn, "finding.transition", f"finding:{finding_id}", to=to, note=note)
        return _("Finding %(id)s is now %(state)s.", id=finding_id, state=state_label(to))
    return _run(finding_id, work)


@web.post("/findings/<int:finding_id>/assign")
@authz.require("respond")
def finding_assign(finding_id: int) -> Any:
    """Give a finding an owner."""
    owner, note = (request.form.get("owner") or "").strip()[:64], _note()

    def work(conn: sa.Connection) -> str:
        assignment.assign(conn, loader.current(conn), finding_id, owner, _actor(), g.now,
                          note=note)
        _audit(conn, "finding.assign", f"finding:{finding_id}", owner=owner, note=note)
        return _("Finding %(id)s is assigned to %(owner)s.", id=finding_id, owner=owner)
    return _run(finding_id, work)


@web.post("/findings/bulk")
@authz.require("respond")
def findings_bulk() -> Any:
    """Assign or transition the selected findings; each is done or refused on its own."""
    ids = sorted({int(x) for x in request.form.getlist("ids")
                  if ID.fullmatch(x) and int(x) <= INT64_MAX})[:MAX_BULK]
    op, note = request.form.get("op", ""), _note()
    owner, to = (request.form.get("owner") or "").strip()[:64], request.form.get("to", "")[:32]
    if not ids or op not in ("assign", "transition"):
        flash(_("Select findings and an action."))
        return _back()
    done, refused = 0, []
    with engine().begin() as conn:
        policy = loader.current(conn)
        for fid in ids:
            try:
                with conn.begin_nested():
                    row = lifecycle.get_finding(conn, fid)
                    if not authz.visible(row.group_name):
                        raise ApiError(f"no finding {fid}", status=404)  # noqa: EM102
                    if op == "assign":
                        assignment.assign(conn, policy, fid, owner, _actor(), g.now, note=note)
                    else:
                        lifecycle.transition(conn, policy, fid, to, _actor(), g.now, note=note)
                    done += 1
            except ApiError as e:
                refused.append(f"#{fid}: {refusal_text(e)}")
        if done:
            _audit(conn, f"finding.bulk_{op}", "findings", ids=ids, to=to or None,
                   owner=owner or None, note=note, done=done, refused=len(refused))
    flash(_("%(done)s finding(s) changed, %(refused)s refused.", done=done,
            refused=len(refused)))
    for why in refused[:10]:
        flash(why)
    return _back()


@web.post("/findings/<int:finding_id>/waivers")
@authz.require("respond")
def waiver_request(finding_id: int) -> Any:
    """Ask for a waiver: justification and how many days it lasts."""
    days = request.form.get("days", type=int) or 0
    justification = (request.form.get("justification") or "")[:2000]

    def work(conn: sa.Connection) -> str:
        if not 1 <= days <= 3650:
            raise ApiError("a waiver lasts 1 to 3650 days", status=400)  # noqa: EM101
        w = waivers.request(conn, loader.current(conn), finding_id, _actor(),
                            justification=justification, expires_at=g.now + timedelta(days=days),
                            now=g.now)
        _audit(conn, "waiver.request", f"finding:{finding_id}", waiver=w.id,
               expires_at=w.expires_at.isoformat())
        return _("Waiver requested; another approver must decide on it.")
    return _run(finding_id, work)


@web.post("/waivers/<int:waiver_id>/<action>")
@authz.require("approve")
def waiver_decide(waiver_id: int, action: str) -> Any:
    """Approve or reject a waiver (never one's own request)."""
    if action not in ("approve", "reject"):
        abort(404)
    from ..store.schema import waivers as waiver_table

    with engine().connect() as conn:
        finding_id = conn.execute(sa.select(waiver_table.c.finding_id).where(
            waiver_table.c.id == waiver_id)).scalar()
    if finding_id is None:
        abort(404)
    note = _note()

    def work(conn: sa.Connection) -> str:
        w = waivers.decide(conn, loader.current(conn), waiver_id, _actor(),
                           approve=action == "approve", now=g.now, note=note)
        _audit(conn, f"waiver.{action}", f"waiver:{waiver_id}", finding=w.finding_id, note=note)
        return _("Waiver %(id)s: %(state)s.", id=waiver_id, state=state_label(w.state))
    return _run(finding_id, work)


@web.post("/hosts/<agent_id>/baseline/<kind>/approve")
@authz.require("respond")
def baseline_approve(agent_id: str, kind: str) -> Any:
    """Make the host's current state of ``kind`` its approved baseline."""
    with engine().connect() as conn:
        host = agent_store.get(conn, agent_id[:64])
    if host is None or not authz.visible(host.group_name):
        abort(404)
    try:
        with engine().begin() as conn:
            items = baselines.approve(conn, host.id, kind[:32], g.user.name, g.now)
            _audit(conn, "baseline.approve", f"host:{host.id}", kind=kind, items=len(items))
        flash(_("The %(kind)s baseline now holds %(n)s item(s).", kind=labels.baseline_label(kind),
                n=len(items)))
    except ApiError as e:
        flash(_("Not done: %(why)s", why=refusal_text(e)))
    return redirect(url_for("web.host", agent_id=host.id) + "#baselines")
