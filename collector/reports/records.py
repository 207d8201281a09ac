"""Stored reports: draft → reviewed → approved, separation of duties, the frozen snapshot."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .. import audit, authz
from ..errors import CollectorError
from ..store.schema import self_report_files, self_reports
from ..store.sql import insert_ignore
from .content import CHECK_RESULTS, NARRATIVE, checklist_item, parse_day
from .period import Period

STATES = ("draft", "reviewed", "approved")
RESULTS = CHECK_RESULTS
MAX_TEXT = 20000
MAX_LINE = 255
MAX_ITEMS = 100
FILE_FORMATS = ("html", "pdf", "docx", "csv")


class ReportError(CollectorError):
    """A report action that the report's state does not allow."""


def canonical(data: Any) -> str:
    """The snapshot's canonical JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    """SHA-256 hex of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get(conn: sa.Connection, period: str) -> sa.Row | None:
    """The stored report of a period, or None."""
    return conn.execute(sa.select(self_reports).where(self_reports.c.period == period)).first()


def listing(conn: sa.Connection, limit: int = 200) -> list[sa.Row]:
    """Stored reports, newest period first (without the snapshot texts)."""
    cols = [c for c in self_reports.c if c.name not in ("snapshot", "html_en", "html_zh")]
    return list(conn.execute(sa.select(*cols).order_by(self_reports.c.prepared_at.desc())
                             .limit(limit)).all())


def create(conn: sa.Connection, period: Period, *, by: str, unit: str, basis: str,
           checklist: list[str], now: datetime, addressee: str = "",
           organisation: str = "") -> sa.Row:
    """Start the draft of a period (the existing report when there is one)."""
    rid = insert_ignore(conn, self_reports, {
        "period": period.key, "state": "draft", "unit": unit[:MAX_LINE],
        "addressee": addressee[:MAX_LINE], "basis": basis[:MAX_TEXT],
        "narrative": {**dict.fromkeys(NARRATIVE, ""), "organisation": organisation[:MAX_TEXT],
                      "measures_by_type": {}},
        "next_steps": "", "checklist": [checklist_item({"item": i}) for i in checklist],
        "prepared_by": by[:64], "prepared_at": now, "updated_at": now}, conflict=("period",))
    if rid is not None:
        audit.record(conn, actor=by, action="report.create", target=f"report:{period.key}",
                     details={}, now=now)
    row = get(conn, period.key)
    assert row is not None  # noqa: S101 - just written
    return row


def _draft(conn: sa.Connection, period: str) -> sa.Row:
    row = get(conn, period)
    if row is None:
        msg = f"no report for {period} yet"
        raise ReportError(msg)
    if row.state != "draft":
        msg = f"the report for {period} is {row.state}; only a draft can change"
        raise ReportError(msg)
    return row


def clean_checklist(checklist: list[dict[str, str]]) -> list[dict[str, str]]:
    """Checklist items as stored: known results only, bounded texts, deadlines as dates."""
    items = []
    for n, c in enumerate(checklist[:MAX_ITEMS], 1):
        item = checklist_item(c)
        try:
            item["deadline"] = parse_day(item["deadline"])
        except ValueError as e:
            msg = (f"checklist item {n}: deadline {item['deadline'][:20]!r} is not a date "
                   "(YYYY-MM-DD)")
            raise ReportError(msg) from e
        items.append({"item": item["item"][:MAX_LINE], "result": item["result"],
                      "note": item["note"][:1000], "measure": item["measure"][:1000],
                      "deadline": item["deadline"], "owner": item["owner"][:64]})
    return items


def save(conn: sa.Connection, period: str, *, by: str, texts: dict[str, Any],
         checklist: list[dict[str, str]], now: datetime) -> None:
    """Change a draft's editable parts: unit, addressee, basis, next steps, the narrative of
    sections 一–四 (``texts["narrative"]``) and the manual checklist."""
    _draft(conn, period)
    items = clean_checklist(checklist)
    story = texts.get("narrative") or {}
    narrative = {k: str(story.get(k) or "")[:MAX_TEXT] for k in NARRATIVE}
    narrative["measures_by_type"] = {
        str(k)[:128]: str(v)[:1000] for k, v in
        list((story.get("measures_by_type") or {}).items())[:MAX_ITEMS] if str(v).strip()}
    conn.execute(self_reports.update().where(self_reports.c.period == period).values(
        unit=str(texts.get("unit", ""))[:MAX_LINE],
        addressee=str(texts.get("addressee", ""))[:MAX_LINE],
        basis=str(texts.get("basis", ""))[:MAX_TEXT],
        next_steps=str(texts.get("next_steps", ""))[:MAX_TEXT],
        narrative=narrative, checklist=items, updated_at=now))
    audit.record(conn, actor=by, action="report.edit", target=f"report:{period}",
                 details={"checklist_items": len(items)}, now=now)


def review(conn: sa.Connection, period: str, *, by: str, now: datetime) -> None:
    """Mark a draft reviewed; the reviewer is not the preparer."""
    row = _draft(conn, period)
    authz.ensure_not_self(by, row.prepared_by, f"the report for {period}")
    missing = [what for what, value in (("the unit", row.unit), ("the addressee",
                                                                 row.addressee))
               if not (value or "").strip()]
    if missing:
        msg = f"the draft for {period} names no {' and no '.join(missing)}; the preparer " \
              "fills them in first"
        raise ReportError(msg)
    conn.execute(self_reports.update().where(self_reports.c.period == period,
                                             self_reports.c.state == "draft")
                 .values(state="reviewed", reviewed_by=by[:64], reviewed_at=now))
    audit.record(conn, actor=by, action="report.review", target=f"report:{period}",
                 details={"prepared_by": row.prepared_by}, now=now)


def reopen(conn: sa.Connection, period: str, *, by: str, now: datetime) -> None:
    """Send a reviewed report back to draft (an approved one stays locked)."""
    row = get(conn, period)
    if row is None or row.state != "reviewed":
        msg = f"only a reviewed report can go back to draft ({period})"
        raise ReportError(msg)
    conn.execute(self_reports.update().where(self_reports.c.period == period).values(
        state="draft", reviewed_by=None, reviewed_at=None))
    audit.record(conn, actor=by, action="report.reopen", target=f"report:{period}",
                 details={}, now=now)


def approve(conn: sa.Connection, period: str, *, by: str, now: datetime,
            content: Callable[[Any], dict[str, Any]],
            render: Callable[[dict[str, Any], str], dict[tuple[str, str], bytes]]) -> str:
    """Approve and lock a reviewed report: freeze its content and every export of it.

    ``content(row)`` gives the report as approved; ``render(content, sha256)`` the files a
    user can export, by (format, language): HTML, Word and CSV (the PDF is made from the
    stored HTML at its first export, :func:`frozen_pdf`). The snapshot and the files are
    stored, so each later export is exactly what was approved whatever the code renders
    by then; their sha256 go to the audit log.
    """
    row = get(conn, period)
    if row is None or row.state != "reviewed":
        msg = f"only a reviewed report can be approved ({period})"
        raise ReportError(msg)
    authz.ensure_not_self(by, row.prepared_by, f"the report for {period}")
    authz.ensure_not_self(by, row.reviewed_by, f"the report for {period} (you reviewed it)")
    approved = SimpleNamespace(**{**row._mapping, "state": "approved", "approved_by": by,
                                  "approved_at": now})
    snapshot = canonical(content(approved))
    digest = sha256_text(snapshot)
    files = render(json.loads(snapshot), digest)
    done = conn.execute(self_reports.update().where(
        self_reports.c.period == period, self_reports.c.state == "reviewed").values(
        state="approved", approved_by=by[:64], approved_at=now, snapshot=snapshot,
        sha256=digest, html_en=files[("html", "en")].decode("utf-8"),
        html_zh=files[("html", "zh-CN")].decode("utf-8")))
    if done.rowcount != 1:
        msg = f"the report for {period} changed meanwhile; reload it"
        raise ReportError(msg)
    hashes = {}
    for (fmt, lang), body in sorted(files.items()):
        hashes[f"{fmt}_{lang}"] = hashlib.sha256(body).hexdigest()
        conn.execute(self_report_files.insert().values(
            report_id=row.id, fmt=fmt, lang=lang, sha256=hashes[f"{fmt}_{lang}"], body=body))
    audit.record(conn, actor=by, action="report.approve", target=f"report:{period}",
                 details={"sha256": digest, "html_en_sha256": hashes["html_en"],
                          "html_zh_sha256": hashes["html_zh-CN"], "files": hashes,
                          "prepared_by": row.prepared_by, "reviewed_by": row.reviewed_by},
                 now=now)
    return digest


def frozen(row: sa.Row) -> dict[str, Any] | None:
    """The content of an approved report exactly as approved (None before approval)."""
    return None if row.snapshot is None else json.loads(row.snapshot)


def frozen_file(conn: sa.Connection, row: sa.Row, fmt: str, lang: str) -> bytes | None:
    """An approved report's export as stored. Reports approved before every format was
    frozen have their HTML only (None for Word and CSV)."""
    body = conn.execute(sa.select(self_report_files.c.body).where(
        self_report_files.c.report_id == row.id, self_report_files.c.fmt == fmt,
        self_report_files.c.lang == lang)).scalar()
    if body is None and fmt == "html":
        text = row.html_zh if lang == "zh-CN" else row.html_en
        return text.encode("utf-8") if text else None
    return body


def frozen_pdf(engine: sa.Engine, row: sa.Row, lang: str,
               render_pdf: Callable[[str], bytes]) -> bytes | None:
    """An approved report's PDF: rendered once from its stored HTML at the first export
    (a PDF of a large register takes WeasyPrint tens of seconds, too long for the approval
    request), then kept, so every export after it is byte for byte the same."""
    with engine.connect() as conn:
        body = frozen_file(conn, row, "pdf", lang)
        html = None if body is not None else frozen_file(conn, row, "html", lang)
    if body is not None or html is None:
        return body
    pdf = render_pdf(html.decode("utf-8"))
    with engine.begin() as conn:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            self_report_files).values(report_id=row.id, fmt="pdf", lang=lang,
                                      sha256=hashlib.sha256(pdf).hexdigest(), body=pdf)
        conn.execute(insert.on_conflict_do_nothing(
            index_elements=["report_id", "fmt", "lang"]))
        return frozen_file(conn, row, "pdf", lang)  # a concurrent first export may have won
