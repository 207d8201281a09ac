"""One ingest writer at a time on SQLite, across threads and worker processes.

SQLite has a single writer. When gunicorn workers race for it, the losers sit in
SQLite's busy handler, which polls with growing sleeps (up to 100 ms each): throughput
drops and tail latency soars under load. Ingest therefore queues its write transactions
on an exclusive ``flock`` of ``<database>.ingest-lock`` (plus a thread lock inside a
process): a waiter is woken by the kernel the moment the holder is done. Verification
and parsing stay outside, in parallel. PostgreSQL needs none of this (row locks).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

_LOCKS: dict[str, WriteLock] = {}
_GUARD = threading.Lock()


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
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with _GUARD:
        lock = _LOCKS.get(database)
        if lock is None:
            lock = _LOCKS[database] = WriteLock(database + ".ingest-lock")
    with lock.held():
        yield
