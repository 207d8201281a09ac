"""The ingest hook: evaluate a stored report inside a savepoint so a rule bug loses nothing."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report

from ..policy.model import Policy
from ..rules.engine import rules_fed_by
from .evaluate import on_report
from .register import Applied, findings_of

log = logging.getLogger("hostpatrol.collector.findings")


def evaluate_batch(conn: sa.Connection, stored: list[tuple[Report, Any]], now: datetime, *,
                   policy: Policy) -> None:
    """Run the rules for each stored report, in order, under one savepoint.

    ``stored`` pairs each report with its :class:`intake.Stored`. Should any rule fail,
    the savepoint is rolled back and the reports are evaluated again one by one, each in
    its own savepoint, so one bad report costs only its own evaluation.
    """
    # only the findings of rules the batch's checks can feed (a heartbeat: disk, not the
    # host's every finding)
    rules = rules_fed_by(policy, {r.check for report, _ in stored for r in report.results})
    try:
        with conn.begin_nested():
            # the hosts' findings in one read. A host's later report in the batch (an
            # agent delivering its spool) reuses them while its reports only see the same
            # deviations again, and reads them afresh once one changed the register
            known = findings_of(conn, [report.agent_id for report, _ in stored], rules)
            for report, st in stored:
                mine = known.pop(report.agent_id, None)
                if mine is None:
                    mine = findings_of(conn, [report.agent_id], rules)[report.agent_id]
                applied = on_report(conn, report, now, policy=policy, stored=st,
                                    findings=mine)
                if applied.opened:  # opening may raise other hosts' findings (fleet spread)
                    known.clear()
                elif applied.current:
                    known[report.agent_id] = mine
                _log(report, applied)
    except Exception:  # a broken rule must never cost a signed report
        log.warning("rule evaluation failed in a batch of %d: evaluating one by one",
                    len(stored), exc_info=True)
        for report, st in stored:
            evaluate_stored(conn, report, now, policy=policy, stored=st)


def _log(report: Report, applied: Applied) -> None:
    if applied.opened or applied.reopened or applied.verified:
        log.info("findings agent=%s opened=%s reopened=%s verified=%s", report.agent_id,
                 applied.opened, applied.reopened, applied.verified)


def evaluate_stored(conn: sa.Connection, report: Report, now: datetime,
                    **known: Any) -> Applied | None:
    """Run the rules for ``report``; on an unexpected error keep the evidence and log it.

    ``known`` (``policy``, ``stored``) is passed to :func:`on_report` to spare queries.
    """
    try:
        with conn.begin_nested():
            applied = on_report(conn, report, now, **known)
    except Exception:  # a broken rule must never cost a signed report
        log.exception("rule evaluation failed agent=%s report=%s", report.agent_id,
                      report.report_id)
        return None
    _log(report, applied)
    return applied
