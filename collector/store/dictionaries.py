"""The trained zstd dictionaries (table ``zstd_dicts``): the newest packs new rows, any
one a row names reads it back; the background job trains a new one from recent evidence.

A dictionary row is never changed or deleted while rows name it (they would become
unreadable): retraining adds a row. Loaded dictionaries are kept per process by the
SHA-256 of their bytes, so two databases in one process never mix theirs up.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import zstandard

from . import packing
from .schema import reports, result_data, zstd_dicts

DICT_BYTES = 112 * 1024  # zstd's own default; 64 KiB leaves a heartbeat ~25 bytes larger
SAMPLES = 2000  # newest reports (and as many result data rows) a dictionary learns from
MIN_SAMPLES = 200  # fewer and zstd's training has too little to go on
RETRAIN_AFTER = timedelta(days=30)  # check contents and agents change; the rows stay readable
_CACHE: dict[str, zstandard.ZstdCompressionDict] = {}
_CACHE_MAX = 16
_LOCK = threading.Lock()


class DictionaryError(packing.PackError):
    """A row names a dictionary that is missing or whose bytes are not the ones stored."""


def _loaded(sha256: str, body: bytes | None, dict_id: int) -> zstandard.ZstdCompressionDict:
    with _LOCK:
        hit = _CACHE.get(sha256)
    if hit is not None:
        return hit
    if body is None or hashlib.sha256(body).hexdigest() != sha256:
        msg = f"zstd dictionary {dict_id} is corrupt (its bytes do not match their SHA-256)"
        raise DictionaryError(msg)
    try:
        zdict = packing.load_dictionary(body)
    except packing.PackError as e:
        msg = f"zstd dictionary {dict_id} is corrupt ({e})"
        raise DictionaryError(msg) from e
    with _LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[sha256] = zdict
    return zdict


_THREAD = threading.local()  # compressors are not thread-safe: one per thread and dictionary
# which dictionary is the newest, kept in the pooled database connection's ``info`` as
# (when looked up, id, sha256) and looked up again after NEWEST_TTL of the caller's clock:
# ingest spares a query per batch; a database replaced under the same name comes with new
# connections, so it is never packed with a dictionary it does not hold
_NEWEST_KEY = "hostpatrol.newest_zstd_dict"
NEWEST_TTL = timedelta(minutes=1)
_GENERATION = [0]  # bumped when this process trains one: its connections look again


def _compressor(key: str, zdict: zstandard.ZstdCompressionDict | None
                ) -> zstandard.ZstdCompressor:
    """This thread's compressor for a dictionary (a fresh one costs ~0.07 ms to set up)."""
    cache = getattr(_THREAD, "compressors", None)
    if cache is None:
        cache = _THREAD.compressors = {}
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        hit = cache[key] = packing.compressor(zdict)
    return hit


class Codecs:
    """The dictionaries one connection's work needs, each read at most once.

    ``now`` (the caller's clock, e.g. ingest's): the newest dictionary's id may be taken
    from a lookup at most :data:`NEWEST_TTL` old instead of a query.
    """

    def __init__(self, conn: sa.Connection, now: datetime | None = None) -> None:
        self.conn = conn
        self.now = now
        self._by_id: dict[int, zstandard.ZstdCompressionDict] = {}
        self._newest: tuple[int | None, zstandard.ZstdCompressor] | None = None

    def newest(self) -> tuple[int | None, zstandard.ZstdCompressor]:
        """(dictionary id or None, a compressor with it) for rows written now (read once
        per instance: one batch packs with one dictionary)."""
        if self._newest is None:
            self._newest = self._read_newest()
        return self._newest

    def _read_newest(self) -> tuple[int | None, zstandard.ZstdCompressor]:
        info = self.conn.info
        seen = info.get(_NEWEST_KEY) if self.now is not None else None
        if (seen is not None and seen[3] == _GENERATION[0]
                and timedelta(0) <= self.now - seen[0] < NEWEST_TTL):
            dict_id, sha256 = seen[1], seen[2]
        else:
            row = self.conn.execute(sa.select(zstd_dicts.c.id, zstd_dicts.c.sha256).order_by(
                zstd_dicts.c.id.desc()).limit(1)).first()
            dict_id, sha256 = (row.id, row.sha256) if row is not None else (None, None)
            if self.now is not None:
                info[_NEWEST_KEY] = (self.now, dict_id, sha256, _GENERATION[0])
        if dict_id is None or sha256 is None:
            return None, _compressor("", None)
        return dict_id, _compressor(sha256, self._load(dict_id, sha256))

    def dictionary(self, dict_id: int) -> zstandard.ZstdCompressionDict:
        """Dictionary ``dict_id`` loaded; DictionaryError when it is missing or corrupt."""
        hit = self._by_id.get(dict_id)
        if hit is not None:
            return hit
        row = self.conn.execute(sa.select(zstd_dicts.c.sha256).where(
            zstd_dicts.c.id == dict_id)).first()
        if row is None:
            msg = f"zstd dictionary {dict_id} is missing: the rows packed with it cannot be read"
            raise DictionaryError(msg)
        return self._load(dict_id, row.sha256)

    def _load(self, dict_id: int, sha256: str) -> zstandard.ZstdCompressionDict:
        with _LOCK:
            cached = _CACHE.get(sha256)
        body = None if cached is not None else self.conn.execute(
            sa.select(zstd_dicts.c.body).where(zstd_dicts.c.id == dict_id)).scalar()
        zdict = _loaded(sha256, body, dict_id)
        self._by_id[dict_id] = zdict
        return zdict

    def decompressor(self, dict_id: int | None) -> zstandard.ZstdDecompressor:
        """A decompressor for rows naming ``dict_id`` (None: plain zstd)."""
        return packing.decompressor(None if dict_id is None else self.dictionary(dict_id))



def evidence_text(codecs: Codecs, row: Any) -> str:
    """A report row's JWS (``row``: its jws, body, dict_id, agent_id and report_id),
    whether stored as text (before 0015) or packed; PackError when it cannot be read."""
    if row.jws is not None:
        return row.jws
    if row.body is None:
        msg = "the report row holds no evidence"
        raise packing.PackError(msg)
    return packing.jws_of(row.body, codecs.decompressor(row.dict_id),
                          (row.agent_id, row.report_id))


# what a query must select for evidence_text
EVIDENCE_COLUMNS = (reports.c.jws, reports.c.body, reports.c.dict_id, reports.c.agent_id,
                    reports.c.report_id)


def newest_id(conn: sa.Connection) -> int | None:
    """The newest dictionary's id, None before the first."""
    return conn.execute(sa.select(sa.func.max(zstd_dicts.c.id))).scalar()


def due(conn: sa.Connection, now: datetime) -> bool:
    """Whether a (new) dictionary should be trained: none yet, or the newest is old."""
    newest = conn.execute(sa.select(sa.func.max(zstd_dicts.c.created_at))).scalar()
    if newest is not None and now - newest < RETRAIN_AFTER:
        return False
    return conn.execute(sa.select(sa.func.count()).select_from(
        sa.select(reports.c.id).order_by(reports.c.id.desc()).limit(MIN_SAMPLES).subquery())
    ).scalar_one() >= MIN_SAMPLES


def _samples(conn: sa.Connection) -> tuple[list[bytes], int]:
    codecs = Codecs(conn)
    out: list[bytes] = []
    rows = conn.execute(sa.select(*EVIDENCE_COLUMNS)
                        .order_by(reports.c.id.desc()).limit(SAMPLES)).all()
    for row in rows:
        try:
            out.append(packing.jws_raw(evidence_text(codecs, row),
                                       (row.agent_id, row.report_id))[1])
        except packing.PackError:
            continue  # an unreadable row teaches nothing; it stays as it is
    reports_used = len(out)
    for row in conn.execute(sa.select(result_data.c.body, result_data.c.dict_id)
                            .order_by(result_data.c.id.desc()).limit(SAMPLES)):
        try:
            out.append(packing.decompress(row.body, codecs.decompressor(row.dict_id))[1])
        except packing.PackError:
            continue
    return out, reports_used


def train(conn: sa.Connection, now: datetime) -> int | None:
    """Train a dictionary from the newest evidence and result data and store it; its id,
    or None when there is too little to learn from."""
    samples, used = _samples(conn)
    if used < MIN_SAMPLES:
        return None
    try:
        body = packing.train(samples, DICT_BYTES)
    except packing.PackError:
        return None  # e.g. samples too alike for zstd: plain zstd until next time
    made = conn.execute(zstd_dicts.insert().values(
        created_at=now, samples=used, sha256=hashlib.sha256(body).hexdigest(), body=body,
    ).returning(zstd_dicts.c.id)).scalar_one()
    _GENERATION[0] += 1  # this process packs with it at once; others within NEWEST_TTL
    return made
