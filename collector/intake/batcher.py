"""Group commit: the deliveries in flight in one worker process share one ingest transaction.

Each delivery (one report or a batch) is queued; one committer thread per process takes
every queued delivery (up to ``max_reports`` reports), verifies and stores them with one
:func:`ingest.ingest` call, one transaction that also computes the answers' check-in
extras, then wakes each request with its own outcomes. On PostgreSQL every round trip
counts: under load the committer spends more of its time waiting for them than running
Python, so it keeps its connection while deliveries keep coming (a checkout is a ping)
and returns it to the pool when the queue runs dry.
When the collector is idle a delivery is a batch of one and goes straight through; under
load the fixed cost of a transaction (connection, commit, the statements of
:mod:`store.intake`) is shared by all the deliveries that arrived meanwhile — what a
database calls group commit.

If the database fails, every delivery of that batch gets the exception, as it would have
alone (the API turns it into 503 + Retry-After); nothing was acknowledged, agents resend.
A connection found lost (the database restarted) is first replaced and the group run
once more: should its COMMIT have landed after all, the reports come back as duplicates,
which agents count as delivered.
The thread is started on first use in the process that uses it (after the server forks its workers).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.clock import Clock, utcnow

from ..store.writelock import checkpoint_now_and_then
from .ingest import Outcome, ingest
from .throttle import Admission
from .trust import Limits

log = logging.getLogger("hostpatrol.collector.batcher")

# the check-in extras of each delivery's answer, in the storing transaction
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
                 extras: Extras | None = None, max_reports: int = 500,
                 clock: Clock = utcnow) -> None:
        self.engine, self.limits, self.admit, self.extras = engine, limits, admit, extras
        self.clock = clock
        self.max_reports = max_reports
        self._conn: sa.Connection | None = None  # held while deliveries keep coming
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
                self._conn = None  # the parent's (its socket is not this process's)
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
            with self._cond:
                idle = not self._queue
            if idle:
                self._release()
            # answered: now, off the writer lock and off their latency, SQLite's WAL
            checkpoint_now_and_then(self.engine, sum(len(d.tokens) for d in batch))

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead connection is dropped all the same
                log.warning("closing the ingest connection failed", exc_info=True)

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
        """Ingest the group on the held connection; once more on a new one if that
        connection turns out dead (the database restarted while it was held)."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self.engine.connect()
            try:
                self._commit_on(self._conn, batch)
                return
            except Exception as e:
                self._release()  # rare: the next group starts on a fresh connection
                lost = isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated
                if not lost or attempt == 2:
                    raise
                log.warning("ingest connection lost (%s); reconnecting", str(e.orig)[:200])

    def _commit_on(self, conn: sa.Connection, batch: list[_Delivery]) -> None:
        tokens = [t for d in batch for t in d.tokens]

        bounds = list(itertools.accumulate((len(d.tokens) for d in batch), initial=0))

        def split(outcomes: list[Outcome]) -> list[list[Outcome]]:  # by delivery
            return [outcomes[a:b] for a, b in itertools.pairwise(bounds)]

        answers: list[dict[str, Any]] = []

        def answer(conn: sa.Connection, outcomes: list[Outcome]) -> None:
            # extras write last (commands are marked delivered once signed), so a failure
            # caught here has written nothing; a database error fails the transaction
            assert self.extras is not None  # noqa: S101 - only passed with extras
            try:
                got = self.extras(conn, split(outcomes))
                if len(got) != len(batch):
                    msg = f"{len(got)} answers for {len(batch)} deliveries"
                    raise ValueError(msg)
                answers[:] = got
            except sa.exc.SQLAlchemyError:
                raise  # the group fails (503), nothing is stored, agents resend
            except Exception:  # a bug in answering: store the reports, answer without commands
                log.exception("check-in extras failed for %d deliveries", len(batch))
                answers[:] = [{"commands": []} for _ in batch]

        outcomes = ingest(self.engine, tokens, limits=self.limits, admit=self.admit,
                          now=self.clock(), conn=conn,
                          before_commit=answer if self.extras is not None else None)
        for d, mine in zip(batch, split(outcomes), strict=True):
            d.outcomes = mine
        for d, extra in zip(batch, answers or [None] * len(batch), strict=True):
            d.extras = extra
        if len(batch) > 1:
            log.debug("group commit: %d deliveries, %d reports", len(batch), len(tokens))
