"""The audit log for auditors: browse, filter, verify the chain, export CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import Response, g, render_template, request, stream_with_context

from .. import audit, authz
from .blueprint import engine, page_number, web
from .sheets import BOM, cell

PAGE = 100
CSV_HEADER = ("seq", "at", "actor", "action", "target", "details", "prev_hash", "hash")


def _day(name: str) -> datetime | None:
    raw = request.args.get(name, "")[:10]
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC) if raw else None
    except ValueError:
        return None


def _filter() -> audit.AuditFilter:
    until = _day("until")
    return audit.AuditFilter(
        actor=request.args.get("actor", "")[:64] or None,
        action=request.args.get("action", "")[:64] or None,
        target=request.args.get("target", "")[:255] or None,
        since=_day("since"), until=until + timedelta(days=1) if until else None)


def _params() -> dict[str, str]:
    return {k: request.args[k] for k in ("actor", "action", "target", "since", "until")
            if request.args.get(k)}


def details_text(details: str) -> str:
    """Details for display: ``key=value`` pairs from the stored JSON."""
    try:
        doc = json.loads(details)
    except ValueError:
        return details
    if not isinstance(doc, dict):
        return details
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                     for k, v in doc.items())


@web.get("/audit")
@authz.require("audit")
def audit_page() -> str:
    """Newest entries first, with filters and the chain's state."""
    page = page_number()
    f = _filter()
    with engine().connect() as conn:
        rows = audit.entries(conn, f, limit=PAGE + 1, offset=(page - 1) * PAGE)
        total = audit.count(conn, f)
        actions = audit.distinct_actions(conn)
        check = audit.verify(conn) if request.args.get("verify") else None
    return render_template("audit.html", rows=rows[:PAGE], total=total, page=page,
                           has_next=len(rows) > PAGE, actions=actions, params=_params(),
                           details_text=details_text, check=check)


def _csv_rows(f: audit.AuditFilter) -> Iterator[str]:
    buf = io.StringIO()
    buf.write(BOM)  # Excel on Chinese Windows reads UTF-8 only after one
    writer = csv.writer(buf)
    writer.writerow(CSV_HEADER)
    with engine().connect() as conn:
        for r in audit.iter_entries(conn, f):
            writer.writerow([r.seq, r.at.isoformat(), cell(r.actor), r.action,
                             cell(r.target), cell(r.details), r.prev_hash, r.hash])
            if buf.tell() > 64 * 1024:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


@web.get("/audit.csv")
@authz.require("audit")
def audit_csv() -> Response:
    """Every matching entry, oldest first, as CSV (with the hashes to re-check the chain)."""
    f = _filter()
    stamp = g.now.strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(_csv_rows(f)), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="hostpatrol-audit-{stamp}.csv"'})
