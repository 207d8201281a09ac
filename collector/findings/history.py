"""Earlier runs for trend rules: one indexed query per check a trend rule reads.

Only when a report carries a result of such a check (``logs``): a heartbeat costs nothing.
Only the values the rules read are kept (JSON paths, read from each run's data as
:func:`resultstore.with_data` opens it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa

from ..policy.model import Policy
from ..rules.model import Result, Sample
from ..rules.paths import get
from ..rules.trend import paths
from ..store.resultstore import DATA_COLUMNS, with_data
from ..store.schema import check_results

MAX_SAMPLES = 5000  # e.g. hourly runs over 28 days are 672


def _wanted(policy: Policy, group: str | None,
            results: Mapping[str, Result]) -> dict[str, tuple[set[str], float]]:
    """check → (paths to read, days to look back) for the trend rules fed by ``results``."""
    out: dict[str, tuple[set[str], float]] = {}
    for rule in policy.rules_in(group):
        result = results.get(rule.check)
        if rule.kind != "trend" or result is None or result.status in ("error", "skipped"):
            continue
        wanted, days = out.get(rule.check, (set(), 0.0))
        out[rule.check] = (wanted | set(paths(rule)), max(days, rule.param("history_days")))
    return out


def load(conn: sa.Connection, agent_id: str, result: Result, wanted: set[str],
         days: float) -> tuple[Sample, ...]:
    """The host's runs of ``result.check`` in the ``days`` before it, oldest first."""
    order = sorted(wanted)
    c = check_results.c
    rows = conn.execute(
        sa.select(c.started_at, c.check_name, *DATA_COLUMNS)
        .where(c.agent_id == agent_id, c.check_name == result.check,
               c.status.not_in(("error", "skipped")),
               c.started_at >= result.started_at - timedelta(days=days),
               c.started_at < result.started_at)
        .order_by(c.started_at.desc()).limit(MAX_SAMPLES)).all()
    # data is packed (resultstore): the paths are read here, not in SQL; an unchanged run
    # shares its data with the one before, opened once
    return tuple(Sample(r.started_at, {p: get(r.data, p) for p in order})
                 for r in with_data(conn, reversed(rows)) if r.data_error is None)


def attach(conn: sa.Connection, policy: Policy, agent_id: str, group: str | None,
           results: dict[str, Result]) -> dict[str, Result]:
    """``results`` with ``history`` filled for the checks trend rules read (no query else)."""
    for check, (wanted, days) in _wanted(policy, group, results).items():
        result = results[check]
        results[check] = dataclasses.replace(
            result, history=load(conn, agent_id, result, wanted, days))
    return results
