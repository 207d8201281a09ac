"""Stored reports: draft → reviewed → approved, separation of duties, the frozen snapshot."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from .. import audit, authz
from ..errors import CollectorError
from ..store.schema import self_reports
from ..store.sql import insert_ignore
from .period import Period

STATES = ("draft", "reviewed", "approved")
RESULTS = ("pass", "fail", "n/a", "")
MAX_TEXT = 20000


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
           checklist: list[str], now: datetime) -> sa.Row:
    """Start the draft of a period (the existing report when there is one)."""
    rid = insert_ignore(conn, self_reports, {
        "period": period.key, "state": "draft", "unit": unit[:255], "basis": basis[:MAX_TEXT],
        "next_steps": "", "checklist": [{"item": i, "result": "", "note": ""} for i in checklist],
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


def save(conn: sa.Connection, period: str, *, by: str, unit: str, basis: str,
         next_steps: str, checklist: list[dict[str, str]], now: datetime) -> None:
    """Change a draft's editable parts (unit, basis, next steps, manual checklist)."""
    _draft(conn, period)
    items = [{"item": str(c.get("item", ""))[:255],
              "result": c.get("result", "") if c.get("result", "") in RESULTS else "",
              "note": str(c.get("note", ""))[:1000]} for c in checklist[:100]]
    conn.execute(self_reports.update().where(self_reports.c.period == period).values(
        unit=unit[:255], basis=basis[:MAX_TEXT], next_steps=next_steps[:MAX_TEXT],
        checklist=items, updated_at=now))
    audit.record(conn, actor=by, action="report.edit", target=f"report:{period}",
                 details={"checklist_items": len(items)}, now=now)


def review(conn: sa.Connection, period: str, *, by: str, now: datetime) -> None:
    """Mark a draft reviewed; the reviewer is not the preparer."""
    row = _draft(conn, period)
    authz.ensure_not_self(by, row.prepared_by, f"the report for {period}")
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
            render: Callable[[dict[str, Any], str], tuple[str, str]]) -> str:
    """Approve and lock a reviewed report: freeze its content and rendering, audit the hash.

    ``content(row)`` gives the report's figures and texts as approved; ``render(content,
    sha256)`` its HTML in English and Chinese. Both are stored; the snapshot's sha256 and
    the HTML hashes go to the audit log.
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
    html_en, html_zh = render(json.loads(snapshot), digest)
    done = conn.execute(self_reports.update().where(
        self_reports.c.period == period, self_reports.c.state == "reviewed").values(
        state="approved", approved_by=by[:64], approved_at=now, snapshot=snapshot,
        sha256=digest, html_en=html_en, html_zh=html_zh))
    if done.rowcount != 1:
        msg = f"the report for {period} changed meanwhile; reload it"
        raise ReportError(msg)
    audit.record(conn, actor=by, action="report.approve", target=f"report:{period}",
                 details={"sha256": digest, "html_en_sha256": sha256_text(html_en),
                          "html_zh_sha256": sha256_text(html_zh),
                          "prepared_by": row.prepared_by, "reviewed_by": row.reviewed_by},
                 now=now)
    return digest


def frozen(row: sa.Row) -> dict[str, Any] | None:
    """The content of an approved report exactly as approved (None before approval)."""
    return None if row.snapshot is None else json.loads(row.snapshot)
