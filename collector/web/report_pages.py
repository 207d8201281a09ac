"""Self-inspection report pages: open a period, edit the draft, review, approve, export."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from .. import authz
from ..reports import records
from ..reports.figures import compute
from ..reports.period import Period, PeriodError, current_week, parse
from .blueprint import engine, settings, web
from .i18n import select_locale
from .report_render import (
    meta_of,
    new_meta,
    render_csv,
    render_html,
    render_pdf,
    report_settings,
)

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
           "csv": "text/csv; charset=utf-8"}
EXPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _period(key: str) -> Period:
    try:
        return parse(key[:16], settings("dashboard")["timezone"])
    except PeriodError:
        abort(404)


def content(conn: sa.Connection, period: Period, row: Any, now: Any) -> dict[str, Any]:
    """What the report says: frozen once approved, else live figures with its texts."""
    if row is not None and row.state == "approved":
        done = records.frozen(row)
        assert done is not None  # noqa: S101 - approved rows carry their snapshot
        return done
    meta = meta_of(row) if row is not None else new_meta(period)
    return {"figures": compute(conn, period, now), "meta": meta}


def render_both(snapshot: dict[str, Any], digest: str) -> tuple[str, str]:
    """The approved report's HTML in English and Chinese."""
    return (render_html(snapshot, "en", sha256=digest),
            render_html(snapshot, "zh-CN", sha256=digest))


@web.get("/reports")
@authz.require("fleet")
def reports() -> Any:
    """Stored reports; open any period."""
    if request.args.get("period"):
        return redirect(url_for("web.report", period=request.args["period"][:16].strip()))
    tz = settings("dashboard")["timezone"]
    week = current_week(g.now, tz)
    local = g.now.astimezone(parse(week, tz).start.tzinfo)
    suggestions = [week, f"{local.year}-{local.month:02d}",
                   f"{local.year}-Q{(local.month - 1) // 3 + 1}", str(local.year)]
    with engine().connect() as conn:
        rows = records.listing(conn)
    return render_template("reports.html", rows=rows, suggestions=suggestions)


@web.get("/reports/<period>")
@authz.require("fleet")
def report(period: str) -> str:
    """One period's report: its state, the editable parts and the document itself."""
    p = _period(period)
    with engine().connect() as conn:
        row = records.get(conn, p.key)
        doc = content(conn, p, row, g.now)
    lang = "zh-CN" if select_locale() == "zh_CN" else "en"
    body = render_html(doc, lang, sha256=row.sha256 if row is not None else None,
                       standalone=False)
    return render_template("report.html", p=p, row=row, doc=Markup(body),  # noqa: S704
                           meta=doc["meta"], frozen=row is not None and row.state == "approved",
                           results=records.RESULTS, doc_lang=lang)


def _act(period: str, work: Any, message: str) -> Any:
    p = _period(period)
    try:
        with engine().begin() as conn:
            work(conn, p)
        flash(message)
    except (records.ReportError, authz.Forbidden) as e:
        flash(_("Not done: %(why)s", why=str(e)))
    return redirect(url_for("web.report", period=p.key))


@web.post("/reports/<period>/create")
@authz.require("operate")
def report_create(period: str) -> Any:
    """Start the draft of a period (you become its preparer)."""
    cfg = report_settings()
    from .report_render import default_checklist

    return _act(period, lambda conn, p: records.create(
        conn, p, by=g.user.name, unit=cfg["unit"], basis=cfg["basis"],
        checklist=default_checklist(), now=g.now), _("Draft created."))


@web.post("/reports/<period>/save")
@authz.require("operate")
def report_save(period: str) -> Any:
    """Save the draft's unit, basis, next steps and manual checklist."""
    form = request.form
    items = form.getlist("item")
    checklist = [{"item": item, "result": r, "note": n} for item, r, n in zip(
        items, form.getlist("result"), form.getlist("note"), strict=False) if item.strip()]
    extra = (form.get("new_item") or "").strip()
    if extra:
        checklist.append({"item": extra, "result": "", "note": ""})
    return _act(period, lambda conn, p: records.save(
        conn, p.key, by=g.user.name, unit=(form.get("unit") or "").strip(),
        basis=(form.get("basis") or "").strip(), next_steps=form.get("next_steps") or "",
        checklist=checklist, now=g.now), _("Draft saved."))


@web.post("/reports/<period>/review")
@authz.require("approve")
def report_review(period: str) -> Any:
    """Mark the draft reviewed (not by its preparer)."""
    return _act(period, lambda conn, p: records.review(conn, p.key, by=g.user.name,
                                                       now=g.now), _("Report reviewed."))


@web.post("/reports/<period>/reopen")
@authz.require("approve")
def report_reopen(period: str) -> Any:
    """Send a reviewed report back to its preparer as a draft."""
    return _act(period, lambda conn, p: records.reopen(conn, p.key, by=g.user.name,
                                                       now=g.now), _("Back to draft."))


@web.post("/reports/<period>/approve")
@authz.require("approve")
def report_approve(period: str) -> Any:
    """Approve and lock the report (not by its preparer or reviewer)."""
    def work(conn: sa.Connection, p: Period) -> None:
        records.approve(conn, p.key, by=g.user.name, now=g.now,
                        content=lambda row: {"figures": compute(conn, p, g.now),
                                             "meta": meta_of(row)},
                        render=render_both)
    return _act(period, work, _("Report approved and locked."))


@web.get("/reports/<period>/export/<fmt>")
@authz.require("fleet")
def report_export(period: str, fmt: str) -> Response:
    """The report as printable HTML, PDF or CSV, in English or Chinese (?lang=)."""
    if fmt not in FORMATS:
        abort(404)
    p = _period(period)
    lang = request.args.get("lang") or ("zh-CN" if select_locale() == "zh_CN" else "en")
    lang = "zh-CN" if lang.startswith("zh") else "en"
    with engine().connect() as conn:
        row = records.get(conn, p.key)
        doc = content(conn, p, row, g.now)
    approved = row is not None and row.state == "approved"
    if fmt == "csv":
        body: str | bytes = render_csv(doc, lang)
    else:
        html = (row.html_zh if lang == "zh-CN" else row.html_en) if approved else \
            render_html(doc, lang, sha256=None)
        body = html if fmt == "html" else render_pdf(html)
    name = f"self-inspection-{p.key}-{lang}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    resp = Response(body, content_type=FORMATS[fmt], headers={
        "Content-Disposition": f'{disposition}; filename="{name}"'})
    if fmt == "html":
        resp.headers["Content-Security-Policy"] = EXPORT_CSP  # styles inline, no script
    return resp
