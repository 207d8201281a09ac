"""Self-inspection report pages: open a period, edit the draft, review, approve, export."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from .. import authz
from ..reports import content as report_content
from ..reports import records
from ..reports.period import Period, PeriodError, current_week, parse
from .blueprint import engine, web
from .i18n import select_locale
from .report_measures import MEASURES
from .report_render import (
    default_checklist,
    preview_meta,
    render,
    render_all,
    render_html,
    render_pdf,
    report_settings,
    report_timezone,
)

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
           "csv": "text/csv; charset=utf-8",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
EXPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _period(key: str) -> Period:
    try:
        return parse(key[:16], report_timezone())
    except PeriodError:
        abort(404)


def content(conn: sa.Connection, period: Period, row: Any, now: Any) -> dict[str, Any]:
    """What the report says: frozen once approved, else live figures with its texts."""
    if row is not None and row.state == "approved":
        done = records.frozen(row)
        assert done is not None  # noqa: S101 - approved rows carry their snapshot
        return done
    meta = report_content.meta_of(row) if row is not None else preview_meta(period)
    return report_content.build(conn, period, meta, now)


def _frozen_article(html: str) -> str:
    """The report itself out of a stored printable file (for the dashboard's page)."""
    start, end = html.find("<article"), html.rfind("</article>")
    return html[start:end + len("</article>")] if 0 <= start < end else ""


@web.get("/reports")
@authz.require("fleet")
def reports() -> Any:
    """Stored reports; open any period."""
    if request.args.get("period"):
        return redirect(url_for("web.report", period=request.args["period"][:16].strip()))
    tz = report_timezone()
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
    lang = "zh-CN" if select_locale() == "zh_CN" else "en"
    with engine().connect() as conn:
        row = records.get(conn, p.key)
        doc = content(conn, p, row, g.now)
        frozen = row is not None and row.state == "approved"
        if frozen:  # what was approved, as stored
            stored = records.frozen_file(conn, row, "html", lang) or b""
            body = _frozen_article(stored.decode("utf-8"))
    if not frozen:
        body = render_html(doc, lang, standalone=False)
    types = [] if frozen else doc["figures"]["types"]
    return render_template("report.html", p=p, row=row, doc=Markup(body),  # noqa: S704
                           meta=doc["meta"], frozen=frozen, results=records.RESULTS,
                           doc_lang=lang, types=types, default_measures=MEASURES)


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
    return _act(period, lambda conn, p: records.create(
        conn, p, by=g.user.name, unit=cfg["unit"], basis=cfg["basis"],
        addressee=cfg["addressee"], organisation=cfg["organisation"],
        checklist=default_checklist(), now=g.now), _("Draft created."))


def _checklist(form: Any) -> list[dict[str, str]]:
    fields = ("item", "result", "note", "measure", "deadline", "owner")
    columns = [form.getlist(f) for f in fields]  # a field left out reads as blank
    rows = [dict(zip(fields, values, strict=True))
            for values in itertools.zip_longest(*columns, fillvalue="")]
    items = [r for r in rows if r["item"].strip()]
    extra = (form.get("new_item") or "").strip()
    if extra:
        items.append({"item": extra, "result": ""})
    return items


@web.post("/reports/<period>/save")
@authz.require("operate")
def report_save(period: str) -> Any:
    """Save the draft's texts (unit, addressee, basis, sections 一–五, measures per problem
    type) and its manual checklist."""
    form = request.form
    narrative = {k: form.get(k) or "" for k in report_content.NARRATIVE}
    narrative["measures_by_type"] = {
        k.removeprefix("measure:"): v.strip() for k, v in form.items()
        if k.startswith("measure:") and v.strip()}
    texts = {"unit": (form.get("unit") or "").strip(),
             "addressee": (form.get("addressee") or "").strip(),
             "basis": (form.get("basis") or "").strip(),
             "next_steps": form.get("next_steps") or "", "narrative": narrative}
    return _act(period, lambda conn, p: records.save(
        conn, p.key, by=g.user.name, texts=texts, checklist=_checklist(form), now=g.now),
        _("Draft saved."))


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
                        content=lambda row: report_content.build(
                            conn, p, report_content.meta_of(row), g.now),
                        render=render_all)
    return _act(period, work, _("Report approved and locked."))


@web.get("/reports/<period>/export/<fmt>")
@authz.require("fleet")
def report_export(period: str, fmt: str) -> Response:
    """The report as printable HTML, PDF, Word or CSV, in English or Chinese (?lang=); an
    approved report's file exactly as stored at approval."""
    if fmt not in FORMATS:
        abort(404)
    p = _period(period)
    lang = request.args.get("lang") or ("zh-CN" if select_locale() == "zh_CN" else "en")
    lang = "zh-CN" if lang.startswith("zh") else "en"
    with engine().connect() as conn:
        row = records.get(conn, p.key)
        if row is not None and row.state == "approved":
            body = (records.frozen_pdf(engine(), row, lang, render_pdf) if fmt == "pdf"
                    else records.frozen_file(conn, row, fmt, lang))
            if body is None:
                return Response(_("This report was approved before %(fmt)s files were "
                                  "kept; its approved HTML and PDF are the record.",
                                  fmt=fmt.upper()), status=404,
                                content_type="text/plain; charset=utf-8")
        else:
            body = render(content(conn, p, row, g.now), fmt, lang)
    name = f"self-inspection-{p.key}-{lang}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    resp = Response(body, content_type=FORMATS[fmt], headers={
        "Content-Disposition": f'{disposition}; filename="{name}"'})
    if fmt == "html":
        resp.headers["Content-Security-Policy"] = EXPORT_CSP  # styles inline, no script
    return resp
