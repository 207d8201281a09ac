"""Approving a host's current state as its new baseline; drift findings then verify."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..errors import ApiError
from ..policy import loader
from ..rules.drift import BASELINES, extract
from ..rules.engine import evaluate
from ..rules.model import Result
from ..store import profiles
from ..store.resultdata import FUTURE_LIMIT, unreadable
from ..store.resultstore import with_data
from ..store.schema import check_results, host_latest
from .evaluate import host_facts
from .register import apply


def approve(conn: sa.Connection, agent_id: str, kind: str, actor: str,
            now: datetime) -> list[str]:
    """Take the newest result of the feeding check as the baseline of ``kind``."""
    if kind not in BASELINES:
        msg = f"unknown baseline {kind!r}; one of {', '.join(BASELINES)}"
        raise ApiError(msg, status=400)
    check = BASELINES[kind][0]
    found = with_data(conn, conn.execute(
        sa.select(check_results).join(host_latest, host_latest.c.result_id == check_results.c.id)
        .where(host_latest.c.agent_id == agent_id, host_latest.c.check_name == check)).all())
    if not found:
        msg = f"host {agent_id} has no {check} result yet to take a {kind} baseline from"
        raise ApiError(msg, status=409)
    latest = found[0]
    why = latest.data_error or unreadable(check, latest.status, latest.started_at,
                                          latest.data, now + FUTURE_LIMIT)
    if why is not None:
        msg = (f"the newest {check} result of host {agent_id} is unreadable ({why}); a "
               f"baseline is taken from a readable one")
        raise ApiError(msg, status=409)
    items = sorted(extract(kind, latest.data))
    profiles.put_baseline(conn, agent_id, kind, items, by=actor, now=now, result_id=latest.id)
    row = profiles.host_row(conn, agent_id)
    policy = loader.current(conn)
    result = Result(check, latest.status, latest.started_at, latest.data, latest.id)
    ev = evaluate(policy, host_facts(row), {check: result}, {kind: frozenset(items)}, now,
                  only_kinds=("drift",))
    drift_rules = tuple(r for r in ev.rules if r.param("baseline") == kind)
    apply(conn, policy, host_facts(row), type(ev)(drift_rules, ()), now, {check: latest.id})
    return items
