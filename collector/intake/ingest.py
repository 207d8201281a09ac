"""Accept reports: verify each, store the accepted ones once, count every outcome."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from hostpatrol.shared.clock import utcnow

from ..errors import Rejected
from ..findings.hook import evaluate_batch
from ..metrics import REPORTS
from ..policy import loader
from ..store import intake
from ..store import reports as report_store
from ..store.writelock import ingest_writer
from .agent_ops import inspect_new
from .clock import note_refusals
from .throttle import Admission
from .trust import Limits, Verified, senders_by_kid, verify_report

log = logging.getLogger("hostpatrol.collector.ingest")
INTERNAL = "the collector failed on this report; it is kept by the agent and sent again"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one submitted report."""

    outcome: str  # accepted | duplicate | rejected
    report_id: str | None = None
    agent_id: str | None = None
    error: str | None = None
    status: int = 200
    reason: str | None = None
    retry_after: int | None = None  # seconds, when rate limited (429)

    def to_dict(self) -> dict[str, object]:
        """The per-report JSON in API answers."""
        if self.outcome == "rejected":
            out: dict[str, object] = {"ok": False, "result": "rejected", "error": self.error,
                                      "status": self.status, "reason": self.reason}
            if self.retry_after is not None:
                out["retry_after"] = self.retry_after
            return out
        return {"ok": True, "result": self.outcome, "report_id": self.report_id}


def ingest(engine: sa.Engine, tokens: list[str | bytes], *, limits: Limits,
           source: str = "http", now: datetime | None = None,
           admit: Callable[[str, int], Admission] | None = None,
           conn: sa.Connection | None = None,
           before_commit: Callable[[sa.Connection, list[Outcome]], None] | None = None,
           ) -> list[Outcome]:
    """Verify and store ``tokens`` (one transaction for the accepted ones).

    ``admit`` (the per-agent rate limit) is asked after verification, so only an agent's
    own signed reports count against it; what it refuses is rejected with 429.
    ``conn`` (not in a transaction) is used rather than a connection of its own.
    ``before_commit(conn, outcomes)`` runs in the storing transaction once every outcome
    is known (the group commit computes its answers there: on PostgreSQL a transaction of
    their own cost two more round trips; on SQLite it runs under the writer lock); when
    nothing was verified, in a transaction of its own. What it raises fails the whole
    ingest, so that nothing it wrote is kept without the reports.
    """
    if conn is None:
        with engine.connect() as own:
            return ingest(engine, tokens, limits=limits, source=source, now=now,
                          admit=admit, conn=own, before_commit=before_commit)
    now = now or utcnow()
    outcomes: list[Outcome | None] = [None] * len(tokens)
    verified: list[tuple[int, Verified]] = []
    clock_refusals: list[tuple[str, datetime, str]] = []
    try:
        known = senders_by_kid(conn, tokens)  # one query for the whole batch
        for i, token in enumerate(tokens):
            try:
                verified.append((i, verify_report(conn, token, now=now, limits=limits,
                                                  known=known)))
            except Rejected as e:
                outcomes[i] = Outcome("rejected", error=e.message, status=e.status,
                                      reason=e.reason)
                log.warning("report rejected reason=%s status=%s source=%s error=%r",
                            e.reason, e.status, source, e.message)
                if e.agent_id and isinstance(e.created_at, datetime) and source == "http":
                    clock_refusals.append((e.agent_id, e.created_at, e.reason))
            except (sa.exc.SQLAlchemyError, MemoryError):
                raise  # the database (503, every report is resent) or the process is failing
            except Exception:  # a bug this report triggers: it alone fails, the others go on
                log.exception("report verification failed source=%s", source)
                outcomes[i] = Outcome("rejected", error=INTERNAL, status=500,
                                      reason="internal")
        first = list({r[0]: r for r in reversed(clock_refusals)}.values())  # one per agent
        noted = [r for r in first if admit is None or admit(r[0], 1).admitted]
        if noted:  # charged to the sender's rate limit like a stored report
            note_refusals(engine, noted, now)
        if admit is not None:
            verified = _rate_limit(verified, outcomes, admit)
        if not verified or _sqlite(engine):
            # SQLite: a read transaction is never held while waiting for the writer lock.
            # PostgreSQL: the reads stay in the storing transaction, one commit for both.
            conn.rollback()
        if verified:
            with ingest_writer(engine):
                try:
                    with loader.pinned(conn):  # the rules and the answers: one policy read
                        _store(conn, verified, outcomes, now, source, limits)
                        if before_commit is not None:
                            before_commit(conn, _known(outcomes))
                    conn.commit()
                except BaseException:
                    _rollback(conn)  # still under the writer lock: the next writer is free
                    raise
        elif before_commit is not None:
            with conn.begin():
                before_commit(conn, _known(outcomes))
    except BaseException:
        _rollback(conn)
        raise
    for _, v in verified:
        log.debug("report stored agent=%s report=%s seq=%s source=%s", v.report.agent_id,
                  v.report.report_id, v.report.seq, source)
    done = _known(outcomes)
    for o in done:
        REPORTS.labels(outcome=o.reason if o.outcome == "rejected" else o.outcome).inc()
    return done


def _known(outcomes: list[Outcome | None]) -> list[Outcome]:
    return [o for o in outcomes if o is not None]


def _rollback(conn: sa.Connection) -> None:
    with contextlib.suppress(Exception):  # the error being raised says more
        conn.rollback()


def _sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _rate_limit(verified: list[tuple[int, Verified]], outcomes: list[Outcome | None],
                admit: Callable[[str, int], Admission]) -> list[tuple[int, Verified]]:
    """Keep each agent's reports its bucket admits (oldest first); refuse the rest."""
    by_agent: dict[str, list[tuple[int, Verified]]] = {}
    for item in verified:
        by_agent.setdefault(item[1].report.agent_id, []).append(item)
    kept: list[tuple[int, Verified]] = []
    for agent_id, items in by_agent.items():
        verdict = admit(agent_id, len(items))
        kept += items[:verdict.admitted]
        for i, v in items[verdict.admitted:]:
            msg = (f"agent {agent_id} is over its report rate limit; retry after "
                   f"{verdict.retry_after} s")
            outcomes[i] = Outcome("rejected", report_id=v.report.report_id, agent_id=agent_id,
                                  error=msg, status=429, reason="rate_limited",
                                  retry_after=verdict.retry_after)
        if len(items) > verdict.admitted:
            log.warning("reports rate limited agent=%s refused=%d retry_after=%s", agent_id,
                        len(items) - verdict.admitted, verdict.retry_after)
    return sorted(kept, key=lambda item: item[0])


def _store(conn: sa.Connection, verified: list[tuple[int, Verified]],
           outcomes: list[Outcome | None], now: datetime, source: str, limits: Limits) -> None:
    """Store the verified reports, flag clone signals, run the rules (one transaction)."""
    stored = intake.store_batch(
        conn, [intake.Incoming(v.report, v.jws, v.sha256) for _, v in verified], now=now,
        source=source, inspect=lambda report, row: inspect_new(conn, report, row, now),
        implausible_after=limits.latest_result(now))
    judge = []
    untouched = {v.report.agent_id for _, v in verified}
    for (i, v), st in zip(verified, stored, strict=True):
        report = v.report
        if st.pk is not None:
            untouched.discard(report.agent_id)
            if st.host is not None:
                judge.append((report, st))
        outcomes[i] = Outcome("accepted" if st.pk is not None else "duplicate",
                              report_id=report.report_id, agent_id=report.agent_id,
                              status=201 if st.pk is not None else 200)
    if judge:
        evaluate_batch(conn, judge, now, policy=loader.current(conn))
    for agent_id in untouched:  # only duplicates from this agent: still heard from
        report_store.touch_agent(conn, agent_id, now)
