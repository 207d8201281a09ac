"""The host dossier with history and evidence (the list is :mod:`host_list`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, abort, current_app, g, render_template
from flask_babel import gettext as _
from hostpatrol.shared.report import NOT_RUN
from markupsafe import Markup

from .. import authz
from ..store import agents as agent_store
from ..store import fleet
from ..store import reports as report_store
from ..store.packing import PackError
from ..store.resultdata import judged
from .blueprint import engine, silent_after, web
from .charts import time_plot
from .evidence import public_jwks, verify_stored
from .forecast import days_to_full

log = logging.getLogger("hostpatrol.collector.web")
CHECK_TEMPLATES = frozenset({"disk", "inventory", "patches", "antivirus", "logs", "ports",
                             "accounts"})


def _visible_host(conn: Any, agent_id: str) -> Any:
    row = agent_store.get(conn, agent_id[:64])
    if row is None or not authz.visible(row.group_name):
        abort(404)  # a viewer learns nothing about hosts outside its groups
    return row


def _disk_history(history: list[Any], now: Any) -> dict[str, Any]:
    series: dict[str, list[tuple[Any, int, int]]] = {}
    for r in history:  # readable rows only: their data is what the disk schema says
        for fs in r.data.get("filesystems", []) if r.status not in NOT_RUN else []:
            if fs["total_bytes"]:
                series.setdefault(fs["mount"], []).append(
                    (r.started_at, fs["used_bytes"], fs["total_bytes"]))
    mounts = []
    for i, (mount, pts) in enumerate(sorted(series.items())[:8]):
        forecast = days_to_full(pts, now=now)
        line = [(t, 100.0 * used / total) for t, used, total in pts]
        lines = [(mount, f"line-{i % 8}", line, False)]
        if forecast and forecast.full_at and forecast.days_to_full is not None \
                and forecast.days_to_full < 120:
            lines.append((mount, f"line-{i % 8}", [line[-1], (forecast.full_at, 100.0)], True))
        mounts.append({"mount": mount, "forecast": forecast, "css": f"line-{i % 8}",
                       "last": pts[-1]})
        mounts[-1]["lines"] = lines
    chart = time_plot([ln for m in mounts for ln in m["lines"]], y_max=100, width=1200,
                      height=260)
    return {"mounts": mounts, "chart": chart, "samples": len(history)}


def _detail(result: Any) -> Markup | None:
    """A readable result's data drawn by its check's template; None (and a log line with
    the traceback) when drawing fails, so that one result never takes the page down."""
    name = result.check_name if result.check_name in CHECK_TEMPLATES else "generic"
    try:  # the template autoescapes what the agent sent; its output is markup
        return Markup(render_template(f"checks/{name}.html", d=result.data))  # noqa: S704
    except Exception:
        log.exception("check result not shown result=%s check=%s", result.id,
                      result.check_name)
        return None


def _shown(results: list[Any]) -> list[Any]:
    """Latest results with ``detail`` (the drawn data) or ``unreadable`` (why not)."""
    for r in results:
        r.detail = None
        if r.unreadable is None and r.status != "error" and r.data:
            r.detail = _detail(r)
            if r.detail is None:
                r.unreadable = _("the dashboard could not draw this result")
    return results


@web.get("/hosts/<agent_id>")
@authz.require("read")
def host(agent_id: str) -> str:
    """One host's dossier: identity, latest result of every check, history, evidence."""
    horizon = current_app.extensions["hostpatrol.limits"].latest_result(g.now)
    with engine().connect() as conn:
        row = _visible_host(conn, agent_id)
        results = judged(report_store.latest_results(conn, row.id), horizon)
        recent = report_store.recent_reports(conn, row.id)
        disk = judged(fleet.check_history(conn, row.id, "disk", limit=200), horizon)
        patches = judged(fleet.check_history(conn, row.id, "patches", limit=30), horizon)
        antivirus = judged(fleet.check_history(conn, row.id, "antivirus", limit=30), horizon)
        reports_total = report_store.count_reports(conn, row.id)
        # other packages (the findings register) add sections: f(conn, host) -> (template, ctx)
        panels = [p for p in (panel(conn, row) for panel in
                              current_app.extensions.get("hostpatrol.web.host_panels", []))
                  if p is not None]
    return render_template(
        "host.html", host=row, results=_shown(results), recent=recent,
        reports_total=reports_total, panels=panels,
        disk=_disk_history([r for r in disk if r.unreadable is None], g.now),
        patch_history=list(reversed(patches)), av_history=list(reversed(antivirus)),
        silent=row.status == "active" and (
            row.last_seen_at is None or row.last_seen_at < g.now - silent_after()),
        pretty=lambda d: json.dumps(d, indent=2, ensure_ascii=False)[:50000])


@web.get("/hosts/<agent_id>/evidence/<report_id>.jws")
@authz.require("read")
def evidence(agent_id: str, report_id: str) -> Response:
    """The signed report exactly as received (re-verifiable with any JOSE tool)."""
    with engine().connect() as conn:
        row = _visible_host(conn, agent_id)
        try:
            jws = report_store.evidence(conn, row.id, report_id[:64])
        except PackError as e:  # a missing or corrupt dictionary or body: say so
            return Response(f"the stored evidence cannot be read: {e}\n", status=500,
                            content_type="text/plain; charset=utf-8")
    if jws is None:
        abort(404)
    return Response(jws + "\n", content_type="application/jose", headers={
        "Content-Disposition": f'attachment; filename="{report_id[:64]}.jws"'})


@web.get("/hosts/<agent_id>/evidence/<report_id>")
@authz.require("read")
def evidence_check(agent_id: str, report_id: str) -> str:
    """Verify one stored report again and show the outcome."""
    with engine().connect() as conn:
        row = _visible_host(conn, agent_id)
        result = verify_stored(conn, row.id, report_id[:64])
    if result is None:
        abort(404)
    return render_template("evidence.html", host=row, report_id=report_id[:64],
                           result=result)


@web.get("/hosts/<agent_id>/keys.jwks")
@authz.require("read")
def host_keys(agent_id: str) -> Response:
    """The agent's public keys (JWK Set) to verify downloaded evidence elsewhere."""
    with engine().connect() as conn:
        row = _visible_host(conn, agent_id)
        keys = public_jwks(conn, row.id)
    return Response(json.dumps(keys, indent=1) + "\n", content_type="application/jwk-set+json",
                    headers={"Content-Disposition":
                             f'attachment; filename="{row.id}.jwks"'})
