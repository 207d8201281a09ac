"""The ingest hook: evaluate a stored report inside a savepoint so a rule bug loses nothing."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report

from .evaluate import on_report
from .register import Applied

log = logging.getLogger("hostpatrol.collector.findings")


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
    if applied.opened or applied.reopened or applied.verified:
        log.info("findings agent=%s opened=%s reopened=%s verified=%s", report.agent_id,
                 applied.opened, applied.reopened, applied.verified)
    return applied
