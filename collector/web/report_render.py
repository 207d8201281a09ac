"""Render the self-inspection report: printable HTML, PDF (WeasyPrint), Word (python-docx)
and CSV, in en and zh-CN, all from one report content (:mod:`reports.content`).

Rendering needs the Flask app (templates, translations); the dashboard calls it inside a
request, the CLI inside ``app.test_request_context()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale

from ..reports.content import new_meta
from ..reports.period import Period
from .finding_labels import CHECKLIST
from .report_blocks import Block, locale_of
from .report_csv import render_csv
from .report_doc import document
from .report_docx import render_docx

EXPORT_LANGS = ("en", "zh-CN")
STATIC = Path(__file__).resolve().parent / "static"


def report_settings() -> dict[str, Any]:
    """The ``report:`` section of collector.yaml (defaults filled in, zone resolved)."""
    return current_app.extensions["hostpatrol.config"].settings["report"]


def report_timezone() -> str:
    """The zone whose midnights bound report periods (``report.timezone``)."""
    return report_settings()["timezone"]


def default_checklist() -> list[str]:
    """The configured manual checklist, else the built-in one (translated when shown)."""
    items = report_settings().get("checklist")
    return [str(i) for i in items] if items else list(CHECKLIST)


def preview_meta(period: Period) -> dict[str, Any]:
    """Texts of a report nobody has started yet: the configured defaults."""
    return new_meta(period, report_settings(), default_checklist())


def blocks_of(content: dict[str, Any], lang: str, sha256: str | None = None) -> list[Block]:
    """The report's blocks in ``lang``."""
    with force_locale(locale_of(lang)):
        return document(content, sha256)


def _widths(blocks: list[Block]) -> str:
    """Column widths of each table, as CSS for the printable file (the dashboard's page
    allows no inline styles; its tables size themselves)."""
    rules = []
    for b in blocks:
        if b.table is not None and b.id:
            total = sum(c.width for c in b.table.columns)
            rules += [f"#{b.id} col:nth-child({n}) {{ width: {100 * c.width / total:.1f}%; }}"
                      for n, c in enumerate(b.table.columns, 1)]
    return "\n".join(rules)


def render_html(content: dict[str, Any], lang: str, *, sha256: str | None = None,
                standalone: bool = True) -> str:
    """The report as HTML: a standalone printable file, or the fragment for a page."""
    with force_locale(locale_of(lang)):
        blocks = document(content, sha256)
        ctx = {"blocks": blocks, "lang_attr": "zh-CN" if locale_of(lang) == "zh_CN" else "en"}
        if not standalone:
            return render_template("report_doc.html", **ctx)
        css = (STATIC / "report.css").read_text(encoding="utf-8")
        return render_template("report_export.html", css=css, widths=_widths(blocks),
                               title=blocks[0].text, **ctx)


def render_pdf(html: str) -> bytes:
    """The printable HTML as PDF (WeasyPrint; needs Pango and CJK fonts, e.g. Noto CJK)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(STATIC)).write_pdf()


def render(content: dict[str, Any], fmt: str, lang: str,
           sha256: str | None = None) -> bytes:
    """One export of the report as bytes (html | pdf | docx | csv)."""
    if fmt == "csv":
        return render_csv(content, lang).encode("utf-8")
    if fmt == "docx":
        return render_docx(blocks_of(content, lang, sha256), lang)
    html = render_html(content, lang, sha256=sha256)
    return html.encode("utf-8") if fmt == "html" else render_pdf(html)


def render_all(content: dict[str, Any], sha256: str) -> dict[tuple[str, str], bytes]:
    """The exports frozen at approval: HTML, Word and CSV in each language (the PDF is
    rendered from the frozen HTML at its first export: ``records.frozen_pdf``)."""
    return {(fmt, lang): render(content, fmt, lang, sha256)
            for fmt in ("html", "docx", "csv") for lang in EXPORT_LANGS}
