"""The one way to read and write a check result's data.

Since migration 0015 a result's data is stored once, in one of two places:

- a report of one result (a heartbeat: ``disk`` alone) holds it in its evidence: the
  result row keeps neither ``data`` nor ``data_id``, and its data is read from the
  packed JWS of ``report_pk`` (a small document: one zstd frame, one JSON parse);
- a report of several results keeps each one's data apart, so a page reads one check
  without the rest: ``data_id`` names a row of ``result_data`` (canonical JSON, zstd with
  the dictionary the row names), the same row as the host's previous result of the check
  when the data did not change, so an unchanged daily result stores no new data.

Rows stored before hold ``data`` (JSON) and read as before. Pages, rules, history and the
API read data only through :func:`with_data`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.keys import b64url_decode
from hostpatrol.shared.strictjson import loads_strict

from . import packing
from .dictionaries import EVIDENCE_COLUMNS, Codecs, evidence_text
from .schema import check_results, reports, result_data

# what a query must select (with check_name) for with_data to fill ``data``
DATA_COLUMNS = (check_results.c.data, check_results.c.data_id, check_results.c.report_pk)


def digest(raw: bytes) -> bytes:
    """The 16-byte digest that says two results' data are the same."""
    return hashlib.blake2b(raw, digest_size=16).digest()


def _from_evidence(conn: sa.Connection, codecs: Codecs,
                   pks: list[int]) -> dict[int, dict[str, Any] | packing.PackError]:
    """Report pk -> {check: data} of its results, read from its evidence (or why not)."""
    out: dict[int, dict[str, Any] | packing.PackError] = {}
    for start in range(0, len(pks), 500):
        rows = conn.execute(sa.select(reports.c.id, *EVIDENCE_COLUMNS)
                            .where(reports.c.id.in_(pks[start:start + 500]))).all()
        for row in rows:
            try:
                text = evidence_text(codecs, row)
                doc = loads_strict(b64url_decode(text.split(".")[1]))
                out[row.id] = {r["check"]: r.get("data") for r in doc["results"]}
            except packing.PackError as e:
                out[row.id] = e
            except (ValueError, IndexError, KeyError, TypeError) as e:
                out[row.id] = packing.PackError(f"the evidence's payload: {e}")
    return out


def with_data(conn: sa.Connection, rows: Iterable[Any],
              codecs: Codecs | None = None) -> list[SimpleNamespace]:
    """``rows`` (selected with :data:`DATA_COLUMNS` and ``check_name``) as objects whose
    ``data`` is the result's data, plus ``data_error``: None, or why the stored data cannot
    be read (missing or corrupt dictionary, body or evidence; then ``data`` is None)."""
    out = [SimpleNamespace(**dict(row._mapping), data_error=None) for row in rows]
    codecs = codecs or Codecs(conn)
    packed = [r for r in out if r.data is None]
    wanted = sorted({r.data_id for r in packed if r.data_id is not None})
    bodies: dict[int, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        bodies.update({row.id: row for row in conn.execute(
            sa.select(result_data.c.id, result_data.c.dict_id, result_data.c.body)
            .where(result_data.c.id.in_(chunk)))})
    evidence = _from_evidence(conn, codecs, sorted(
        {r.report_pk for r in packed if r.data_id is None}))
    opened: dict[int, Any] = {}
    for r in packed:
        if r.data_id is None:
            found = evidence.get(r.report_pk)
            if found is None:
                r.data_error = "stored data cannot be read: its report is missing"
            elif isinstance(found, packing.PackError):
                r.data_error = f"stored data cannot be read: {found}"
            elif r.check_name not in found:
                r.data_error = "stored data cannot be read: its report has no such result"
            else:
                r.data = found[r.check_name]
            continue
        if r.data_id not in opened:
            blob = bodies.get(r.data_id)
            try:
                if blob is None:
                    msg = f"result data {r.data_id} is missing"
                    raise packing.PackError(msg)
                opened[r.data_id] = packing.data_of(blob.body, codecs.decompressor(blob.dict_id))
            except packing.PackError as e:
                opened[r.data_id] = e
        value = opened[r.data_id]
        if isinstance(value, packing.PackError):
            r.data_error = f"stored data cannot be read: {value}"
        else:
            # one object per distinct data: callers must not change it in place
            r.data = value
    return out


def pack_new(conn: sa.Connection, codecs: Codecs,
             pending: list[tuple[bytes, bytes]]) -> list[int]:
    """Store new data rows ((canonical JSON, digest) each) in one statement; their ids,
    in the order given."""
    if not pending:
        return []
    dict_id, compressor = codecs.newest()
    rows = [{"digest": d, "dict_id": dict_id,
             "body": packing.compress(packing.JSON, raw, compressor)} for raw, d in pending]
    pg = conn.dialect.name == "postgresql"
    stmt = result_data.insert().returning(result_data.c.id, sort_by_parameter_order=pg)
    ids = [row.id for row in conn.execute(stmt, rows)]
    # SQLite: one writer numbers a multi-row INSERT's rows in order, RETURNING may not
    return ids if pg else sorted(ids)


def drop_unnamed(conn: sa.Connection, ids: list[int]) -> None:
    """Delete the result_data rows among ``ids`` that no result names any more (index
    ix_check_results_data: on every partition on PostgreSQL)."""
    named = sa.select(check_results.c.id).where(
        check_results.c.data_id == result_data.c.id).exists()
    conn.execute(result_data.delete().where(result_data.c.id.in_(ids), ~named))
