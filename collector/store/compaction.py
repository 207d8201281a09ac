"""Packing the evidence stored before migration 0015, a batch at a time (background job).

Such a report row holds its JWS as text: it is packed like a new one (store.packing,
the newest dictionary) and its text cleared; the SHA-256 taken on receipt stays, so the
evidence page still checks the bytes read back against it. Result rows keep their JSON.
A row whose text would not come back byte for byte is left as it is.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from . import packing
from .dictionaries import Codecs
from .schema import reports

BATCH = 500


def pack_legacy(conn: sa.Connection, now: datetime, batch: int = BATCH) -> int:
    """Pack up to ``batch`` text-stored reports (oldest first); how many were packed."""
    rows = conn.execute(sa.select(reports.c.id, reports.c.jws, reports.c.agent_id,
                                  reports.c.report_id)
                        .where(reports.c.jws.is_not(None)).order_by(reports.c.id)
                        .limit(batch)).all()
    if not rows:
        return 0
    codecs = Codecs(conn, now)
    dict_id, compressor = codecs.newest()
    decompressor = codecs.decompressor(dict_id)
    packed = []
    for row in rows:  # packed before the first write: SQLite's writer lock is held briefly
        ids = (row.agent_id, row.report_id)
        body = packing.compress(*packing.jws_raw(row.jws, ids), compressor)
        if packing.jws_of(body, decompressor, ids) != row.jws:
            continue  # never: jws_raw is exact; checked as the text is about to go
        packed.append({"pk": row.id, "body": body})
    if packed:
        conn.execute(reports.update().where(reports.c.id == sa.bindparam("pk")).values(
            body=sa.bindparam("body"), dict_id=dict_id, jws=None), packed)
    return len(packed)
