"""Accept reports: verify each, store the accepted ones once, count every outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from hostpatrol.shared.report import utcnow

from .agent_ops import inspect_report
from .errors import Rejected
from .findings.hook import evaluate_stored
from .metrics import REPORTS
from .store import reports as report_store
from .trust import Limits, Verified, verify_report

log = logging.getLogger("hostpatrol.collector.ingest")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one submitted report."""

    outcome: str  # accepted | duplicate | rejected
    report_id: str | None = None
    agent_id: str | None = None
    error: str | None = None
    status: int = 200
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The per-report JSON in API answers."""
        if self.outcome == "rejected":
            return {"ok": False, "result": "rejected", "error": self.error,
                    "status": self.status, "reason": self.reason}
        return {"ok": True, "result": self.outcome, "report_id": self.report_id}


def ingest(engine: sa.Engine, tokens: list[str | bytes], *, limits: Limits,
           source: str = "http", now: datetime | None = None) -> list[Outcome]:
    """Verify and store ``tokens`` (one transaction for the accepted ones)."""
    now = now or utcnow()
    outcomes: list[Outcome | None] = [None] * len(tokens)
    verified: list[tuple[int, Verified]] = []
    with engine.connect() as conn:
        for i, token in enumerate(tokens):
            try:
                verified.append((i, verify_report(conn, token, now=now, limits=limits)))
            except Rejected as e:
                outcomes[i] = Outcome("rejected", error=e.message, status=e.status,
                                      reason=e.reason)
                log.warning("report rejected reason=%s status=%s source=%s error=%r",
                            e.reason, e.status, source, e.message)
    if verified:
        with engine.begin() as conn:
            for i, v in verified:
                inspect_report(conn, v.report, now)  # clone signals, executed commands
                stored = report_store.store_report(conn, v.report, jws=v.jws, sha256=v.sha256,
                                                   received_at=now, source=source)
                if stored:
                    evaluate_stored(conn, v.report, now)  # policy → findings, same transaction
                outcomes[i] = Outcome("accepted" if stored else "duplicate",
                                      report_id=v.report.report_id,
                                      agent_id=v.report.agent_id,
                                      status=201 if stored else 200)
            for agent_id in {v.report.agent_id for _, v in verified}:
                report_store.touch_agent(conn, agent_id, now)
        for _, v in verified:
            log.info("report stored agent=%s report=%s seq=%s source=%s", v.report.agent_id,
                     v.report.report_id, v.report.seq, source)
    done = [o for o in outcomes if o is not None]
    for o in done:
        REPORTS.labels(outcome=o.reason if o.outcome == "rejected" else o.outcome).inc()
    return done
