"""One storage contract, run against SQLite and PostgreSQL: verify, store once, read back."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from forge import LIMITS, enroll_in_store, report_doc, sign
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import reports as report_store
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.db import current_revision, downgrade, head_revision, upgrade
from hostpatrol.shared.clock import utcnow


def test_migrations_reach_head(engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    assert current_revision(engine) is not None


def test_a_rollback_to_an_older_schema_and_back_keeps_every_row(engine) -> None:
    """``downgrade`` rebuilds altered tables on SQLite while other rows point at them."""
    agent_id, key = enroll_in_store(engine)
    [out] = ingest(engine, [sign(report_doc(agent_id, seq=1), key)], limits=LIMITS)
    downgrade(engine, "0008")
    assert current_revision(engine) == "0008"
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        assert report_store.count_reports(conn, agent_id) == 1
        assert report_store.evidence(conn, agent_id, out.report_id) is not None
        assert [r.check_name for r in report_store.latest_results(conn, agent_id)] == ["disk"]


def test_ingest_stores_once_and_reads_back(engine) -> None:
    agent_id, key = enroll_in_store(engine)
    tokens = [sign(report_doc(agent_id, seq=i), key) for i in (1, 2)]
    outcomes = ingest(engine, [*tokens, tokens[0]], limits=LIMITS)
    assert [o.outcome for o in outcomes] == ["accepted", "accepted", "duplicate"]
    again = ingest(engine, [tokens[1]], limits=LIMITS)
    assert again[0].outcome == "duplicate"
    with engine.connect() as conn:
        assert report_store.count_reports(conn, agent_id) == 2
        latest = report_store.latest_results(conn, agent_id)
        assert [r.check_name for r in latest] == ["disk"]
        assert latest[0].data["filesystems"][0]["mount"] == "/"
        row = agent_store.get(conn, agent_id)
        assert row.last_seq == 2
        assert row.group_name == "g1"
        assert row.hostname == "forged-host"
        assert row.last_seen_at is not None
        assert row.last_seen_at.tzinfo is not None
        assert report_store.evidence(conn, agent_id, outcomes[0].report_id) == tokens[0]


def test_rejected_report_writes_nothing(engine) -> None:
    agent_id, key = enroll_in_store(engine, auto=False)
    out = ingest(engine, [sign(report_doc(agent_id), key)], limits=LIMITS)
    assert out[0].outcome == "rejected"
    assert out[0].status == 403
    with engine.connect() as conn:
        assert report_store.count_reports(conn) == 0
        assert conn.execute(sa.text("SELECT count(*) FROM check_results")).scalar() == 0


def test_token_uses_are_atomic(engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        tid = agent_store.create_token(conn, "once", now=now,
                                       expires_at=now + timedelta(hours=1), max_uses=1,
                                       group=None, auto_approve=True)
    with engine.begin() as conn:
        assert agent_store.consume_token(conn, tid, now) is True
    with engine.begin() as conn:
        assert agent_store.consume_token(conn, tid, now) is False


def test_user_lockout_after_failed_logins(engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        user_store.add_user(conn, "ann", "operator", "a long password 1", now)
    for _ in range(user_store.LOCKOUT_AFTER):
        with engine.begin() as conn:
            assert user_store.check_login(conn, "ann", "wrong", now) is None
    with engine.begin() as conn:
        assert user_store.check_login(conn, "ann", "a long password 1", now) is None
    later = now + user_store.LOCKOUT_FOR + timedelta(seconds=1)
    with engine.begin() as conn:
        assert user_store.check_login(conn, "ann", "a long password 1", later) is not None
    with engine.connect() as conn:
        stored = user_store.by_name(conn, "ann").password_hash
    assert stored.startswith("$argon2id$")
