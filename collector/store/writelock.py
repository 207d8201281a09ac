"""One ingest writer at a time on SQLite, across threads and worker processes.

SQLite has a single writer. When `serve` worker processes race for it, the losers sit in
SQLite's busy handler, which polls with growing sleeps (up to 100 ms each): throughput
drops and tail latency soars under load. Ingest therefore queues its write transactions
on an exclusive ``flock`` of ``<database>.ingest-lock`` (plus a thread lock inside a
process): a waiter is woken by the kernel the moment the holder is done. Verification
and parsing stay outside, in parallel. PostgreSQL needs none of this (row locks).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

log = logging.getLogger("hostpatrol.collector.store")

_LOCKS: dict[str, WriteLock] = {}
_GUARD = threading.Lock()
CHECKPOINT_REPORTS = 150  # stored between checkpoints: ~1 MB of WAL, well under 1,000 pages
_since_checkpoint = 0


class WriteLock:
    """An exclusive lock on a file, shared by every thread of the process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock (blocking until it is free)."""
        with self._thread:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def ingest_writer(engine: sa.Engine) -> Iterator[None]:
    """Serialize ingest write transactions on a SQLite file database; no-op otherwise."""
    if not _sqlite_file(engine):
        yield
        return
    database = engine.url.database or ""
    with _GUARD:
        lock = _LOCKS.get(database)
        if lock is None:
            lock = _LOCKS[database] = WriteLock(database + ".ingest-lock")
    with lock.held():
        yield


def _sqlite_file(engine: sa.Engine) -> bool:
    database = engine.url.database
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"


def checkpoint_now_and_then(engine: sa.Engine, stored: int) -> None:
    """Every ``CHECKPOINT_REPORTS`` reports stored (``stored`` just now), copy the WAL into
    the database — outside the writer (group commit calls it once its requests are
    answered).

    SQLite checkpoints by itself when a commit finds 1,000 pages in the WAL, and that
    commit then copies them while it still holds the write lock (about two thirds of an
    ingest commit's time here). A passive checkpoint run after the lock is released does
    the same work while the other workers go on writing, and keeps the WAL below that mark.
    """
    global _since_checkpoint  # noqa: PLW0603 - one count per process, races are harmless
    if not _sqlite_file(engine):
        return
    _since_checkpoint += stored
    if _since_checkpoint < CHECKPOINT_REPORTS:
        return
    _since_checkpoint = 0
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception as e:  # noqa: BLE001 - only an optimisation: SQLite checkpoints anyway
        log.warning("WAL checkpoint failed (%s); SQLite will checkpoint on a later commit", e)
