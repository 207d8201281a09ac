"""Render the self-inspection report: printable HTML, PDF (WeasyPrint), CSV; en and zh-CN.

Rendering needs the Flask app (templates, translations, timezone); the dashboard calls it
inside a request, the CLI inside ``app.test_request_context()``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _

from ..reports.period import Period, parse, zh_numeral
from .finding_labels import (
    CHECKLIST,
    area_label,
    checklist_label,
    level_label,
    result_label,
    rule_title,
)
from .finding_labels import state_label as finding_state

LANGS = {"en": "en", "zh-CN": "zh_CN", "zh_CN": "zh_CN", "zh": "zh_CN"}
STATIC = Path(__file__).resolve().parent / "static"


def locale_of(lang: str) -> str:
    """``zh-CN`` → ``zh_CN``; anything unknown → ``en``."""
    return LANGS.get(lang, "en")


def report_settings() -> dict[str, Any]:
    """The ``report:`` section of collector.yaml (defaults filled in)."""
    return current_app.extensions["hostpatrol.config"].settings["report"]


def default_checklist() -> list[str]:
    """The configured manual checklist, else the built-in one in the current language."""
    items = report_settings().get("checklist")
    return [str(i) for i in items] if items else list(CHECKLIST)


def new_meta(period: Period) -> dict[str, Any]:
    """Texts and sign-off of a report nobody has started yet (for previews and the CLI)."""
    cfg = report_settings()
    return {"period": period.key, "state": "preview", "unit": cfg["unit"],
            "basis": cfg["basis"], "next_steps": "",
            "checklist": [{"item": i, "result": "", "note": ""} for i in default_checklist()],
            "prepared_by": None, "prepared_at": None, "reviewed_by": None,
            "reviewed_at": None, "approved_by": None, "approved_at": None}


def meta_of(row: Any) -> dict[str, Any]:
    """The texts and sign-off of a stored report (JSON-safe)."""
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None
    return {"period": row.period, "state": row.state, "unit": row.unit, "basis": row.basis,
            "next_steps": row.next_steps, "checklist": list(row.checklist or []),
            "prepared_by": row.prepared_by, "prepared_at": iso(row.prepared_at),
            "reviewed_by": row.reviewed_by, "reviewed_at": iso(row.reviewed_at),
            "approved_by": row.approved_by, "approved_at": iso(row.approved_at)}


def _day(iso: str | None) -> str:
    return format_datetime(datetime.fromisoformat(iso), "yyyy-MM-dd") if iso else ""


def _context(content: dict[str, Any], lang: str, sha256: str | None) -> dict[str, Any]:
    figures, meta = content["figures"], content["meta"]
    period = parse(figures["period"]["key"])
    zh = locale_of(lang) == "zh_CN"
    end = datetime.fromisoformat(figures["period"]["end"])
    last_day = format_datetime(end - timedelta(seconds=1), "yyyy-MM-dd")
    return {"f": figures, "m": meta, "zh": zh, "sha256": sha256,
            "period_label": period.label("zh" if zh else "en"),
            "period_first": _day(figures["period"]["start"]), "period_last": last_day,
            "sec": (lambda n: zh_numeral(n) + "、") if zh else (lambda n: f"{n}. "),
            "day": _day, "area_label": area_label, "level_label": level_label,
            "rule_title": rule_title, "finding_state": finding_state,
            "result_label": result_label, "checklist_label": checklist_label,
            "lang_attr": "zh-CN" if zh else "en"}


def render_html(content: dict[str, Any], lang: str, *, sha256: str | None = None,
                standalone: bool = True) -> str:
    """The report as HTML: a standalone printable file, or the fragment for a page."""
    with force_locale(locale_of(lang)):
        ctx = _context(content, lang, sha256)
        if not standalone:
            return render_template("report_doc.html", **ctx)
        css = (STATIC / "report.css").read_text(encoding="utf-8")
        return render_template("report_export.html", css=css, **ctx)


def render_pdf(html: str) -> bytes:
    """The printable HTML as PDF (WeasyPrint; needs Pango and CJK fonts, e.g. Noto CJK)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(STATIC)).write_pdf()


def _cell(value: Any) -> str:
    """Neutralise spreadsheet formulas in text that users or hosts chose."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(content: dict[str, Any], lang: str) -> str:
    """The report's tables as CSV: one block per section, each with its own header row."""
    figures, meta = content["figures"], content["meta"]
    buf = io.StringIO()
    w = csv.writer(buf)
    with force_locale(locale_of(lang)):
        scope, rect, verdict = figures["scope"], figures["rectification"], figures["verdict"]
        w.writerow([_("Section"), _("Item"), _("Value")])
        for item, value in (
                (_("Unit"), meta["unit"]), (_("Period"), figures["period"]["key"]),
                (_("Hosts"), scope["hosts"]), (_("Servers"), scope["servers"]),
                (_("Terminals"), scope["terminals"]),
                (_("Xinchuang (domestic OS)"), scope.get("xinchuang", "")),
                (_("Verdict"), _("pass") if verdict["pass"] else _("fail")),
                (_("Security incidents"), figures["incidents"]),
                (_("Found"), rect["found"]), (_("Rectified"), rect["rectified"]),
                (_("Fixed, awaiting verification"), rect["fixed"]), (_("Open"), rect["open"]),
                (_("Waived"), rect["waived"]), (_("Overdue"), rect["overdue"]),
                (_("Closure rate %"), rect["closure_rate"]), (_("Report state"), meta["state"])):
            w.writerow([_("Summary"), _cell(item), _cell(value)])
        w.writerow([])
        w.writerow([_("Check area"), _("Hosts checked"), _("Hosts passed"), _("Coverage %"),
                    _("Pass rate %")])
        for a in figures["areas"]:
            w.writerow([area_label(a["area"]), a["checked"], a["passed"], a["coverage"],
                        a["pass_rate"]])
        w.writerow([])
        w.writerow(["#", _("Host"), _("Problem"), _("Subject"), _("Level"), _("Owner"),
                     _("Deadline"), _("Status"), _("Overdue"), _("Finding id")])
        for p in figures["problems"]:
            w.writerow([p["no"], _cell(p["hostname"]), _cell(rule_title(p["title"])),
                        _cell(p["subject"]), p["level"], _cell(p["owner"]),
                        (p["deadline"] or "")[:10], finding_state(p["state"]),
                        "1" if p["overdue"] else "0", p["id"]])
        w.writerow([])
        w.writerow(["#", _("Manual check"), _("Result"), _("Note")])
        for n, c in enumerate(meta["checklist"], 1):
            w.writerow([n, _cell(checklist_label(c["item"])), result_label(c["result"]),
                        _cell(c["note"])])
    return buf.getvalue()
