"""Glue: evaluate a stored report (at ingest) or the check-in deadlines (in the background)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import Report

from ..policy import loader
from ..policy.model import Policy
from ..rules.drift import extract, kinds_for
from ..rules.engine import evaluate
from ..rules.model import HostFacts, Result
from ..store import profiles
from ..store.intake import Stored
from ..store.schema import agents, check_results, host_latest, reports
from . import history
from .register import Applied, apply


def host_facts(row: Any, *, last_seen_at: datetime | None = None) -> HostFacts:
    """HostFacts from :func:`profiles.host_row`."""
    return HostFacts(agent_id=row.id, hostname=row.hostname, group=row.group_name,
                     critical=bool(row.critical), tags=frozenset(row.tags or ()),
                     owner=row.owner, backup_owner=row.backup_owner,
                     last_seen_at=last_seen_at or row.last_seen_at)


def _late_markers(policy: Policy) -> set[str]:
    return {r.check for r in policy.rules if r.kind == "checkin" and r.param("mode") == "late"}


def on_report(conn: sa.Connection, report: Report, now: datetime, *,
              policy: Policy | None = None, stored: Stored | None = None,
              findings: list[Any] | None = None) -> Applied:
    """Evaluate the checks of a just-stored report that are the host's newest results.

    Ingest passes the ``policy`` it loaded once per batch, what :func:`intake.store_batch`
    already knows (the sender's row, the newest results) and the host's current
    ``findings`` (:func:`register.findings_of`), saving four queries a report.
    """
    policy = policy or loader.current(conn)
    if stored is not None:
        row: Any = SimpleNamespace(**{**stored.host, "hostname": (
            report.host.get("hostname") or stored.host["hostname"])})
        ids = stored.newest or {}
    else:
        row = profiles.host_row(conn, report.agent_id)
        if row is None:
            return Applied()
        # this report's results that are now the host's newest of their check (one
        # query); an older result delivered late is stored but not judged
        ids = dict(conn.execute(
            sa.select(check_results.c.check_name, check_results.c.id)
            .join(reports, reports.c.id == check_results.c.report_pk)
            .join(host_latest, host_latest.c.result_id == check_results.c.id)
            .where(reports.c.agent_id == report.agent_id,
                   reports.c.report_id == report.report_id)).all())
    markers = _late_markers(policy)
    results: dict[str, Result] = {}
    for r in report.results:
        rid = ids.get(r.check)
        if rid is None:
            continue
        previous = None
        if r.check in markers:
            previous = conn.execute(
                sa.select(check_results.c.started_at).where(
                    check_results.c.agent_id == report.agent_id,
                    check_results.c.check_name == r.check, check_results.c.id < rid)
                .order_by(check_results.c.id.desc()).limit(1)).scalar()
        results[r.check] = Result(r.check, r.status, r.started_at, r.data, rid, previous)
    if not results:
        return Applied()
    results = history.attach(conn, policy, row.id, row.group_name, results)  # trend rules
    base: dict[str, frozenset[str]] = {}
    if any(kinds_for(check) for check in results):
        base = {k: frozenset(b.items) for k, b in profiles.get_baselines(conn, row.id).items()}
    for check, res in results.items():
        if res.status in ("error", "skipped"):
            continue
        for kind in kinds_for(check):
            if kind not in base:  # the first inspection becomes the baseline
                base[kind] = extract(kind, res.data)
                profiles.put_baseline(conn, row.id, kind, sorted(base[kind]),
                                      by="first-inspection", now=now, result_id=res.result_id)
    host = host_facts(row, last_seen_at=now)
    ev = evaluate(policy, host, results, base, now)
    return apply(conn, policy, host, ev, now, {c: r.result_id for c, r in results.items()
                                               if r.result_id is not None}, known=findings)


def sweep_checkins(conn: sa.Connection, now: datetime, limit: int = 5000) -> Applied:
    """Silent hosts and missed runs: evaluate hosts whose last contact is old enough."""
    policy = loader.current(conn)
    totals = Applied()
    for rule in policy.rules:
        if rule.kind != "checkin" or rule.param("mode") not in ("silent", "missed"):
            continue
        cutoff = now - timedelta(hours=rule.param("interval_hours") + rule.param("grace_hours"))
        if rule.param("mode") == "silent":
            ids = conn.execute(sa.select(agents.c.id).where(
                agents.c.status == "active", agents.c.last_seen_at < cutoff).limit(limit)
            ).scalars().all()
        else:
            ids = conn.execute(sa.select(host_latest.c.agent_id).join(
                agents, agents.c.id == host_latest.c.agent_id).where(
                agents.c.status == "active", host_latest.c.check_name == rule.check,
                host_latest.c.started_at < cutoff).limit(limit)).scalars().all()
        for agent_id in ids:
            done = _sweep_host(conn, policy, agent_id, rule.param("mode"), now)
            totals = Applied(*(a + b for a, b in zip(
                (totals.opened, totals.updated, totals.reopened, totals.verified),
                (done.opened, done.updated, done.reopened, done.verified), strict=True)))
    return totals


def _sweep_host(conn: sa.Connection, policy: Policy, agent_id: str, mode: str,
                now: datetime) -> Applied:
    row = profiles.host_row(conn, agent_id)
    if row is None:
        return Applied()
    results = {
        r.check_name: Result(r.check_name, r.status, r.started_at, {}, r.result_id)
        for r in conn.execute(sa.select(host_latest).where(host_latest.c.agent_id == agent_id))
    }
    ev = evaluate(policy, host_facts(row), results, {}, now, checkin_modes=(mode,),
                  only_kinds=("checkin",))
    return apply(conn, policy, host_facts(row), ev, now)
