"""joblag: each background job's lag, read from its own records, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from findings_kit import load_policy
from hostpatrol.collector.background import run_once
from hostpatrol.collector.joblag import job_lags
from hostpatrol.collector.policy import loader
from hostpatrol.collector.store.schema import job_runs, outbox, rollups
from hostpatrol.shared.clock import utcnow
from receivers import Sink


def _by_job(engine, now) -> dict:
    with engine.connect() as conn:
        return {j.job: j for j in job_lags(conn, now)}


def _snapshot(engine) -> list:
    with engine.connect() as conn:
        return [conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()
                for t in (job_runs, rollups, outbox)]


def test_nothing_ran_yet_means_no_lag_to_give(engine) -> None:
    lags = _by_job(engine, utcnow())
    assert [lags[j].last_run_at for j in ("round", "rules", "retention")] == [None] * 3
    assert lags["round"].lag_s is None
    assert lags["rollup-coverage"].lag_s is None
    assert lags["notifications"].lag_s == 0.0


def test_lag_is_age_beyond_each_jobs_own_period(engine) -> None:
    t0 = utcnow().replace(microsecond=0)
    assert run_once(engine, "holder-a", t0) != {}
    on_time = _by_job(engine, t0 + timedelta(seconds=10))
    for job in ("round", "rules", "rollup-coverage", "rollup-compliance", "retention"):
        assert on_time[job].last_run_at == t0, job
        assert (on_time[job].age_s, on_time[job].lag_s) == (10.0, 0.0), job

    later = t0 + timedelta(hours=2)
    before = _snapshot(engine)
    lags = _by_job(engine, later)
    assert _snapshot(engine) == before  # read-only
    assert lags["round"].lag_s == 7200 - 30  # tick_seconds 30 (default policy)
    assert lags["rules"].lag_s == 7200 - 3600  # fleet_seconds 3600
    assert lags["rollup-coverage"].lag_s == 7200 - (30 + 30)  # refreshed past TTL/2
    assert lags["retention"].lag_s == 0.0  # daily: not due yet
    assert lags["notifications"].lag_s == 0.0


def test_notifications_lag_is_the_oldest_due_pending_message(engine) -> None:
    now = utcnow().replace(microsecond=0)
    rows = [("old", "pending", now - timedelta(minutes=10)),
            ("sent", "sent", now - timedelta(hours=5)),
            ("future", "pending", now + timedelta(minutes=5))]
    with engine.begin() as conn:
        conn.execute(outbox.insert(), [
            {"dedup_key": key, "channel": "ops", "state": state, "payload": {},
             "created_at": at, "next_attempt_at": at} for key, state, at in rows])
    lag = _by_job(engine, now)["notifications"]
    assert (lag.age_s, lag.lag_s) == (600.0, 600.0 - 30)


@pytest.mark.parametrize(("per_minute", "messages"), [(1000, 120), (None, 1)])
def test_one_round_sends_every_due_notification_not_one_batch(engine, per_minute,
                                                              messages) -> None:
    """120 messages due at once (a fleet's first reports open findings in bulk): one
    round sends them all, so the notification job's lag is back to zero: one each to a
    channel that takes 1,000 a minute, as one bundle to one that takes 60 (notify.flood)."""
    sink = Sink()
    url = sink.start()
    cap = "" if per_minute is None else f", max_per_minute: {per_minute}"
    try:
        load_policy(engine, loader.default_text().replace(
            "  channels: {}", f"  channels: {{hook: {{type: webhook, url: '{url}/hook'{cap}}}}}"))
        now = utcnow().replace(microsecond=0)
        finding = {"id": 1, "level": "IV", "title": "Disk nearly full", "subject": "/",
                   "agent_id": "a1"}
        with engine.begin() as conn:
            conn.execute(outbox.insert(), [
                {"dedup_key": f"m{i}", "channel": "hook", "state": "pending",
                 "finding_id": i, "payload": {"event": "opened", "finding": finding},
                 "created_at": now, "next_attempt_at": now} for i in range(120)])
        assert _by_job(engine, now + timedelta(seconds=45))["notifications"].lag_s == 15.0
        done = run_once(engine, "holder-a", now + timedelta(seconds=45))
        assert done["notifications"].sent == messages
        assert len(sink.bodies) == messages
        assert _by_job(engine, now + timedelta(seconds=45))["notifications"].lag_s == 0.0
    finally:
        sink.stop()
