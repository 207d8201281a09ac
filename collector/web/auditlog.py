"""The audit log for auditors: browse, filter, verify the chain, export CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, g, render_template, request, stream_with_context
from flask_babel import lazy_gettext as _l

from .. import audit, authz
from . import finding_labels, finding_text, labels, timefmt
from .blueprint import engine, page_number, web
from .sheets import BOM, cell

PAGE = 100
# The columns the chain is hashed over keep their stored form (``at`` in UTC, ``action`` as
# its code, ``details`` as JSON) so the export can be re-checked; ``time`` and ``what`` are
# the same in the reader's language.
CSV_HEADER = (_l("seq"), _l("time"), _l("actor"), _l("what"), _l("target (code)"), _l("details"),
              _l("at (UTC, hashed)"), _l("action (code)"), _l("details (JSON)"),
              _l("prev_hash"), _l("hash"))


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


TIME_KEYS = ("until", "expires_at", "occurred_at", "at")


def _value(key: str, value: Any) -> str:
    """A detail's value: named states, roles, kinds and levels translated, data as stored."""
    if isinstance(value, str) and key in TIME_KEYS and timefmt.parse_instant(value):
        return timefmt.datetime_text(timefmt.parse_instant(value))
    if isinstance(value, str):
        named = {"to": finding_labels.state_label, "role": labels.role_label,
                 "kind": labels.baseline_label, "level": finding_labels.level_label,
                 "status": labels.status_label, "previous": labels.status_label,
                 "source": labels.source_label}
        return named[key](value) if key in named else value
    if isinstance(value, bool) or value is None:
        return finding_text.value_text(value)
    return json.dumps(value, ensure_ascii=False)


def details_pairs(details: str) -> list[tuple[str, str]]:
    """Details for display: (translated name, value) pairs from the stored JSON."""
    try:
        doc = json.loads(details)
    except ValueError:
        return [("", details)]
    if not isinstance(doc, dict):
        return [("", details)]
    return [(labels.audit_key_label(k), _value(k, v)) for k, v in doc.items()]


def details_text(details: str) -> str:
    """Details as one line: ``name: value`` pairs."""
    return "; ".join(f"{k}: {v}" if k else v for k, v in details_pairs(details))


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
                           details_pairs=details_pairs, check=check)


def _csv_rows(f: audit.AuditFilter) -> Iterator[str]:
    buf = io.StringIO()
    buf.write(BOM)  # Excel on Chinese Windows reads UTF-8 only after one
    writer = csv.writer(buf)
    writer.writerow([str(h) for h in CSV_HEADER])
    with engine().connect() as conn:
        for r in audit.iter_entries(conn, f):
            writer.writerow([r.seq, timefmt.datetime_text(r.at), cell(r.actor),
                             labels.audit_action_label(r.action), cell(r.target),
                             cell(details_text(r.details)), r.at.isoformat(), r.action,
                             cell(r.details), r.prev_hash, r.hash])
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
