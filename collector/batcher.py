"""Group commit: the deliveries in flight in one worker process share one ingest transaction.

Each delivery (one report or a batch) is queued; one committer thread per process takes
every queued delivery (up to ``max_reports`` reports), verifies and stores them with one
:func:`ingest.ingest` call, one transaction, and computes the answers' check-in extras in
one more on the same connection (on PostgreSQL every checkout costs a ping, and a
verification transaction a round trip), then wakes each request with its own outcomes.
When the collector is idle a delivery is a batch of one and goes straight through; under
load the fixed cost of a transaction (connection, commit, the statements of
:mod:`store.intake`) is shared by all the deliveries that arrived meanwhile — what a
database calls group commit.

If the database fails, every delivery of that batch gets the exception, as it would have
alone (the API turns it into 503 + Retry-After); nothing was acknowledged, agents resend.
The thread is started on first use in the process that uses it (after the server forks its workers).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import utcnow

from .ingest import Outcome, ingest
from .store.writelock import checkpoint_now_and_then
from .throttle import Admission
from .trust import Limits

log = logging.getLogger("hostpatrol.collector.batcher")

Extras = Callable[[sa.Connection, list[list[Outcome]]], list[dict[str, Any]]]


@dataclass
class _Delivery:
    tokens: list[str | bytes]
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] | None = None
    extras: dict[str, Any] | None = None
    error: BaseException | None = None


class Batcher:
    """Combine concurrent deliveries of one process into shared ingest transactions."""

    def __init__(self, engine: sa.Engine, limits: Limits, *,
                 admit: Callable[[str, int], Admission] | None = None,
                 extras: Extras | None = None, max_reports: int = 500) -> None:
        self.engine, self.limits, self.admit, self.extras = engine, limits, admit, extras
        self.max_reports = max_reports
        self._cond = threading.Condition()
        self._queue: list[_Delivery] = []
        self._pid = 0
        self.commits = 0  # shared transactions run (deliveries / commits = the sharing)

    def submit(self, tokens: list[str | bytes]) -> tuple[list[Outcome], dict[str, Any]]:
        """Ingest ``tokens`` with whatever else is in flight; (outcomes, check-in extras)."""
        delivery = _Delivery(list(tokens))
        with self._cond:
            if self._pid != os.getpid():  # first use in this (forked) process
                self._pid = os.getpid()
                self._queue = []
                threading.Thread(target=self._run, name="hostpatrol-ingest",
                                 daemon=True).start()
            self._queue.append(delivery)
            self._cond.notify()
        delivery.done.wait()
        if delivery.error is not None:
            raise delivery.error
        assert delivery.outcomes is not None  # noqa: S101 - set with done
        return delivery.outcomes, delivery.extras or {}

    def _take(self) -> list[_Delivery]:
        with self._cond:
            while not self._queue:
                self._cond.wait()
            taken, count = [], 0
            while self._queue and (not taken or
                                   count + len(self._queue[0].tokens) <= self.max_reports):
                taken.append(self._queue.pop(0))
                count += len(taken[-1].tokens)
            return taken

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                self._settle(batch)
            except BaseException as e:  # noqa: BLE001 - never leave a request waiting
                for d in batch:
                    if d.outcomes is None and d.error is None:
                        d.error = e
            finally:
                for d in batch:
                    d.done.set()
            # answered: now, off the writer lock and off their latency, SQLite's WAL
            checkpoint_now_and_then(self.engine, sum(len(d.tokens) for d in batch))

    def _settle(self, batch: list[_Delivery]) -> None:
        """Commit the batch; should that fail, each delivery alone, so that one delivery
        the store refuses (or a rule bug it triggers) does not fail the others."""
        self.commits += 1
        try:
            self._commit(batch)
            return
        except Exception as e:
            if len(batch) == 1:
                batch[0].error = e
                return
            log.warning("group commit of %d deliveries failed (%s: %s); storing them one "
                        "by one", len(batch), type(e).__name__, str(e)[:200])
        for d in batch:
            self.commits += 1
            try:
                self._commit([d])
            except Exception as e:  # noqa: BLE001 - this delivery's own answer (503)
                d.error = e

    def _commit(self, batch: list[_Delivery]) -> None:
        # one connection for the group: on PostgreSQL each checkout is a ping
        with self.engine.connect() as conn:
            self._commit_on(conn, batch)

    def _commit_on(self, conn: sa.Connection, batch: list[_Delivery]) -> None:
        tokens = [t for d in batch for t in d.tokens]
        outcomes = ingest(self.engine, tokens, limits=self.limits, admit=self.admit,
                          now=utcnow(), conn=conn)
        start = 0
        for d in batch:
            d.outcomes = outcomes[start:start + len(d.tokens)]
            start += len(d.tokens)
        if len(batch) > 1:
            log.debug("group commit: %d deliveries, %d reports", len(batch), len(tokens))
        if self.extras is None:
            return
        try:
            with conn.begin():
                extras = self.extras(conn, [d.outcomes or [] for d in batch])
        except Exception:  # the reports are stored: answer them, without commands this time
            log.exception("check-in extras failed for %d deliveries", len(batch))
            extras = [{"commands": []} for _ in batch]
        for d, extra in zip(batch, extras, strict=True):
            d.extras = extra
