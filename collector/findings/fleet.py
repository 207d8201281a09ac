"""Fleet rules in the background: every active host's newest result, judged together.

Run by the background worker every ``jobs.fleet_seconds`` (never on the ingest path):
one query per check a fleet rule reads, one for the hosts holding active findings of
those rules (so a cleared one verifies), then the register as for any report.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..policy import loader
from ..policy.model import Policy, Rule
from ..rules.engine import FLEET_KINDS, Evaluation, evaluate_fleet
from ..rules.model import HostFacts, Result
from ..store.resultdata import FUTURE_LIMIT, unreadable
from ..store.resultstore import DATA_COLUMNS, with_data
from ..store.schema import agents, check_results, findings, host_latest, host_profiles
from .evaluate import host_facts
from .events import ACTIVE
from .register import Applied, apply


def fleet_rules(policy: Policy) -> list[Rule]:
    """Fleet rules as written and as any group's overrides make them."""
    return [r for r in policy.every_rule() if r.kind in FLEET_KINDS]


def newest_results(conn: sa.Connection, check: str,
                   now: datetime) -> list[tuple[HostFacts, Result]]:
    """Every active host with its newest readable result of ``check``."""
    rows = conn.execute(
        sa.select(agents.c.id, agents.c.hostname, agents.c.group_name, agents.c.last_seen_at,
                  host_profiles.c.critical, host_profiles.c.tags, host_profiles.c.owner,
                  host_profiles.c.backup_owner, check_results.c.id.label("result_id"),
                  check_results.c.status, check_results.c.started_at,
                  check_results.c.check_name, *DATA_COLUMNS)
        .select_from(host_latest.join(check_results,
                                      check_results.c.id == host_latest.c.result_id)
                     .join(agents, agents.c.id == host_latest.c.agent_id)
                     .outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
        .where(host_latest.c.check_name == check, agents.c.status == "active")
        .order_by(agents.c.id)).all()
    ahead = now + FUTURE_LIMIT
    return [(host_facts(r), Result(check, r.status, r.started_at, r.data or {}, r.result_id))
            for r in with_data(conn, rows)  # a row stored unreadable is not judged
            if r.data_error is None
            and unreadable(check, r.status, r.started_at, r.data, ahead) is None]


def sweep_fleet(conn: sa.Connection, now: datetime) -> Applied:
    """Judge the fleet rules; open, update or verify their findings host by host."""
    policy = loader.current(conn)
    rules = fleet_rules(policy)
    if not rules:
        return Applied()
    fleet = {check: newest_results(conn, check, now)
             for check in sorted({r.check for r in rules})}
    evaluations = evaluate_fleet(policy, fleet, now)
    holding = set(conn.execute(sa.select(findings.c.agent_id).distinct().where(
        findings.c.rule_id.in_(sorted({r.id for r in rules})),
        findings.c.state.in_(ACTIVE))).scalars())
    hosts = {h.agent_id: (h, r) for entries in fleet.values() for h, r in entries}
    totals = Applied()
    for agent_id in sorted(evaluations):
        ev: Evaluation = evaluations[agent_id]
        if not ev.deviations and agent_id not in holding:
            continue  # nothing to open, nothing to verify
        host, result = hosts[agent_id]
        done = apply(conn, policy, host, ev, now, {result.check: result.result_id}
                     if result.result_id is not None else None)
        totals = Applied(totals.opened + done.opened, totals.updated + done.updated,
                         totals.reopened + done.reopened, totals.verified + done.verified)
    return totals
