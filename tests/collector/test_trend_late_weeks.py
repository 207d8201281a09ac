"""The weekly trend: a closed week is counted once, and again when reports for it arrive
late (an air-gapped import, a backlog after an outage) — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from forge import LIMITS, report_doc, sign
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.reports import rollup
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store.schema import rollups
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate


def _host(engine, name: str, at):
    token, key = f"tok-{name}", generate()
    with engine.begin() as conn:
        agent_store.create_token(conn, token, now=at, expires_at=at + timedelta(hours=1),
                                 max_uses=1, group="g1", auto_approve=True)
        agent_id = enroll(conn, {"token": token, "proof": make_proof(key, token, at)},
                          at).agent_id
    return agent_id, key


def _send(engine, agent_id, key, created, received, seq=1) -> None:
    doc = report_doc(agent_id, created_at=created, seq=seq)
    [out] = ingest(engine, [sign(doc, key)], limits=LIMITS, now=received)
    assert out.outcome == "accepted", out


def _computed_at(engine, window: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(rollups.c.computed_at).where(
            rollups.c.name == f"compliance:{window}")).scalar()


def _hosts(engine, now) -> dict[str, int]:
    """Hosts reporting per report week, by week key (the weeks may turn during a test)."""
    with engine.connect() as conn:
        return {w["period"]: w["hosts"] for w in rollup.weekly(conn, None, now, "UTC", 4)}


def test_a_closed_week_is_counted_once_and_again_when_late_reports_arrive(engine) -> None:
    now = utcnow()
    last, current = rollup.week_keys(now, "UTC", 2)
    window = f"week:{last.key}@{last.start.tzinfo}"
    in_last = last.start + timedelta(days=2)
    a, ka = _host(engine, "a", last.start)
    b, kb = _host(engine, "b", last.start)
    _send(engine, a, ka, in_last, in_last + timedelta(minutes=1))
    assert rollup.refresh(engine, now, "UTC", 3) == set()
    assert _hosts(engine, now)[last.key] == 1
    assert _hosts(engine, now)[current.key] == 0
    counted = _computed_at(engine, window)
    # nothing new for it: later refreshes leave the closed week alone
    for minutes in (1, 20, 60 * 24):
        assert rollup.refresh(engine, now + timedelta(minutes=minutes), "UTC", 3) == set()
    assert _computed_at(engine, window) == counted
    # b was air-gapped: its report for last week is imported now
    late = now + timedelta(days=1, minutes=1)
    _send(engine, b, kb, in_last + timedelta(hours=3), late)
    assert rollup.refresh(engine, late + timedelta(seconds=30), "UTC", 3) == {window}
    assert _hosts(engine, late + timedelta(seconds=31))[last.key] == 2
    assert rollup.refresh(engine, late + timedelta(minutes=1), "UTC", 3) == set()  # once


def test_a_page_sees_late_data_before_the_background_does(engine) -> None:
    now = utcnow()
    last, _ = rollup.week_keys(now, "UTC", 2)
    in_last = last.start + timedelta(days=1)
    a, ka = _host(engine, "a", last.start)
    b, kb = _host(engine, "b", last.start)
    _send(engine, a, ka, in_last, in_last + timedelta(minutes=1))
    rollup.refresh(engine, now, "UTC", 3)
    _send(engine, b, kb, in_last, now + timedelta(minutes=2))  # a backlog after an outage
    assert _hosts(engine, now + timedelta(minutes=3))[last.key] == 2


def test_reports_for_the_running_week_do_not_recount_closed_ones(engine) -> None:
    now = utcnow()
    last, current = rollup.week_keys(now, "UTC", 2)
    window = f"week:{last.key}@{last.start.tzinfo}"
    a, ka = _host(engine, "a", last.start)
    _send(engine, a, ka, last.start + timedelta(days=1), last.start + timedelta(days=1))
    rollup.refresh(engine, now, "UTC", 3)
    counted = _computed_at(engine, window)
    later = max(now, current.start + timedelta(hours=2))
    _send(engine, a, ka, later, later, seq=2)
    assert rollup.refresh(engine, later + timedelta(minutes=1), "UTC", 3) == set()
    assert _computed_at(engine, window) == counted
