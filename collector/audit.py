"""Append-only, hash-chained audit log of human actions, and its verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .store.schema import audit_head, audit_log

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify`: intact or the first broken row and why."""

    ok: bool
    count: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page and export select (every field optional)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text; non-JSON values as str."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, *, seq: int, at: datetime, actor: str, action: str,
             target: str, details: str) -> str:
    """SHA-256 hex over the previous hash and the canonical JSON of the row.

    ``details`` enters as the exact text stored (itself canonical JSON), so any change to
    the stored bytes, even whitespace, breaks the chain.
    """
    body = canonical({"seq": seq, "at": _stamp(at), "actor": actor, "action": action,
                      "target": target, "details": details})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _ensure_head(conn: sa.Connection) -> None:
    exists = conn.execute(sa.select(audit_head.c.id).where(audit_head.c.id == HEAD_ID)).first()
    if exists is None:
        conn.execute(audit_head.insert().values(id=HEAD_ID, seq=0, hash=GENESIS))


def record(conn: sa.Connection, *, actor: str, action: str, target: str,
           details: dict[str, Any], now: datetime) -> None:
    """Append one row in the caller's transaction; concurrent appends never fork the chain.

    The head row is updated *first*: that takes PostgreSQL's row lock (other writers wait
    and then see the new head) and SQLite's database write lock, so the read that follows
    always sees the true head.
    """
    res = conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID)
                       .values(seq=audit_head.c.seq + 1))
    if res.rowcount != 1:
        _ensure_head(conn)
        conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID)
                     .values(seq=audit_head.c.seq + 1))
    seq, prev = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                             .where(audit_head.c.id == HEAD_ID)).one()
    text = canonical(details)
    at = now.astimezone(UTC)
    digest = row_hash(prev, seq=seq, at=at, actor=actor, action=action, target=target,
                      details=text)
    conn.execute(audit_log.insert().values(
        seq=seq, at=at, actor=actor[:64], action=action[:64], target=target[:255],
        details=text, prev_hash=prev, hash=digest))
    conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID).values(hash=digest))


def verify(conn: sa.Connection, batch: int = 1000) -> VerifyResult:
    """Walk the chain from the start: any edit, deletion, insertion or reordering breaks it."""
    prev, expected, count = GENESIS, 1, 0
    for row in _walk(conn, batch):
        if row.seq != expected:
            what = "missing (deleted?)" if row.seq > expected else "out of order or duplicated"
            return VerifyResult(False, count, prev, expected, f"row {expected} is {what}")
        if row.prev_hash != prev:
            return VerifyResult(False, count, prev, row.seq,
                                f"row {row.seq} does not link to row {row.seq - 1}")
        digest = row_hash(prev, seq=row.seq, at=row.at, actor=row.actor, action=row.action,
                          target=row.target, details=row.details)
        if digest != row.hash:
            return VerifyResult(False, count, prev, row.seq,
                                f"row {row.seq} was changed after it was written")
        prev, expected, count = row.hash, expected + 1, count + 1
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)
                        .where(audit_head.c.id == HEAD_ID)).first()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        what = (f"rows {count + 1} to {head_seq} are missing (deleted from the end)"
                if head_seq > count else f"row {count + 1}: the chain head was altered")
        return VerifyResult(False, count, prev, count + 1,
                            f"the chain ends at row {count} but the head records row "
                            f"{head_seq}: {what}")
    return VerifyResult(True, count, prev)


def _walk(conn: sa.Connection, batch: int) -> Iterator[sa.Row]:
    last = 0
    while True:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.seq > last)
                            .order_by(audit_log.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _where(q: sa.Select, f: AuditFilter) -> sa.Select:
    if f.actor:
        q = q.where(audit_log.c.actor == f.actor)
    if f.action:
        q = q.where(audit_log.c.action == f.action)
    if f.target:
        q = q.where(audit_log.c.target == f.target)
    if f.since:
        q = q.where(audit_log.c.at >= f.since)
    if f.until:
        q = q.where(audit_log.c.at < f.until)
    return q


def entries(conn: sa.Connection, f: AuditFilter, *, limit: int = 100,
            offset: int = 0) -> list[sa.Row]:
    """Rows matching ``f``, newest first, paginated."""
    q = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)
    return list(conn.execute(_where(q, f)).all())


def count(conn: sa.Connection, f: AuditFilter) -> int:
    """How many rows match ``f``."""
    return conn.execute(_where(sa.select(sa.func.count()).select_from(audit_log), f)).scalar_one()


def iter_entries(conn: sa.Connection, f: AuditFilter, batch: int = 1000) -> Iterator[sa.Row]:
    """Every row matching ``f``, oldest first, fetched in batches (for export)."""
    last = 0
    while True:
        q = _where(sa.select(audit_log).where(audit_log.c.seq > last), f)
        rows = conn.execute(q.order_by(audit_log.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def distinct_actions(conn: sa.Connection) -> list[str]:
    """The action names present (for the filter menu)."""
    return list(conn.execute(sa.select(audit_log.c.action).distinct()
                             .order_by(audit_log.c.action)).scalars())
