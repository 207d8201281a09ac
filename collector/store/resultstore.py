"""The one way to read and write a check result's data.

Since migration 0015 a result row holds ``data_id``, a row of ``result_data`` (its data
as canonical JSON, zstd with the dictionary the row names); a host's result whose data is
the same as its previous result's of the check names the same row, so an unchanged
heartbeat stores no new data. Rows stored before hold ``data`` (JSON) and read as before.
Pages, rules, history and the API read data only through :func:`with_data`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from . import packing
from .dictionaries import Codecs
from .schema import check_results, result_data

# what a query must select for with_data to fill ``data``
DATA_COLUMNS = (check_results.c.data, check_results.c.data_id)


def digest(raw: bytes) -> bytes:
    """The 16-byte digest that says two results' data are the same."""
    return hashlib.blake2b(raw, digest_size=16).digest()


def with_data(conn: sa.Connection, rows: Iterable[Any],
              codecs: Codecs | None = None) -> list[SimpleNamespace]:
    """``rows`` (selected with :data:`DATA_COLUMNS`) as objects whose ``data`` is the
    result's data, plus ``data_error``: None, or why the stored data cannot be read
    (missing or corrupt dictionary or body; then ``data`` is None)."""
    out = [SimpleNamespace(**dict(row._mapping), data_error=None) for row in rows]
    wanted = sorted({r.data_id for r in out if r.data is None and r.data_id is not None})
    bodies: dict[int, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        bodies.update({row.id: row for row in conn.execute(
            sa.select(result_data.c.id, result_data.c.dict_id, result_data.c.body)
            .where(result_data.c.id.in_(chunk)))})
    codecs = codecs or Codecs(conn)
    opened: dict[int, Any] = {}
    for r in out:
        if r.data is not None or r.data_id is None:
            if r.data is None:
                r.data_error = "the result row holds no data"
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
