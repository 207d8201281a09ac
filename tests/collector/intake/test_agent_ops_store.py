"""Commands, key rotation and clone signals on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from forge import LIMITS, enroll_in_store, report_doc, sign
from hostpatrol.agent.checkin import verify_command
from hostpatrol.agent.rotation import announcement
from hostpatrol.agent.runner import host_identity
from hostpatrol.collector.errors import ApiError
from hostpatrol.collector.intake.checkin import create_command, pending_commands, policy_token
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.intake.rotation import rotate_key
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store.schema import agent_commands, agent_keys
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate, key_id, public_b64

SKEW = timedelta(minutes=5)


def test_commands_are_signed_handed_out_until_done(engine) -> None:
    agent_id, key = enroll_in_store(engine)
    collector = generate()
    now = utcnow()
    with engine.begin() as conn:
        cid = create_command(conn, agent_id, ["disk"], now=now, created_by="alice")
        create_command(conn, agent_id, [], now=now - timedelta(days=2), created_by="bob")
    with engine.begin() as conn:
        tokens = pending_commands(conn, agent_id, collector, now)
    assert len(tokens) == 1  # the expired one is not handed out
    cmd = verify_command(tokens[0], public_b64(collector.public_key()), agent_id, now)
    assert (cmd.id, cmd.checks) == (cid, ("disk",))
    with engine.begin() as conn:
        assert len(pending_commands(conn, agent_id, collector, now)) == 1  # until done
        policy = policy_token(conn, agent_store.get(conn, agent_id), collector, now)
    assert policy.count(".") == 2
    doc = report_doc(agent_id, meta={"commands": [cid]})
    assert ingest(engine, [sign(doc, key)], limits=LIMITS)[0].outcome == "accepted"
    with engine.begin() as conn:
        assert pending_commands(conn, agent_id, collector, now) == []
        done = conn.execute(sa.select(agent_commands.c.done_at)
                            .where(agent_commands.c.id == cid)).scalar_one()
    assert done is not None


def test_rotation_retires_the_old_key(engine) -> None:
    agent_id, old = enroll_in_store(engine)
    new = generate()
    token = announcement(old, new, agent_id)
    with engine.begin() as conn:
        assert rotate_key(conn, token, now=utcnow(), skew=SKEW)["status"] == "rotated"
    with engine.begin() as conn:  # the same announcement again: idempotent
        assert rotate_key(conn, token, now=utcnow(), skew=SKEW)["status"] == "already rotated"
        row = agent_store.get(conn, agent_id)
        retired = conn.execute(sa.select(agent_keys)).all()
    assert row.kid == key_id(new.public_key())
    assert [(r.kid, r.retired_at is not None) for r in retired] == [
        (key_id(old.public_key()), True)]
    assert ingest(engine, [sign(report_doc(agent_id), new)], limits=LIMITS)[0].outcome == \
        "accepted"
    assert ingest(engine, [sign(report_doc(agent_id), old)], limits=LIMITS)[0].status == 401
    wrong_proof = announcement(new, generate(), agent_id)
    head, payload, _ = wrong_proof.split(".")
    with engine.begin() as conn, pytest.raises(ApiError, match="does not verify"):
        rotate_key(conn, f"{head}.{payload}.{'A' * 86}", now=utcnow(), skew=SKEW)
    with engine.begin() as conn, pytest.raises(ApiError, match="clock skew"):
        rotate_key(conn, announcement(new, generate(), agent_id),
                   now=utcnow() + timedelta(hours=1), skew=SKEW)


def test_clone_signals(engine) -> None:
    agent_id, key = enroll_in_store(engine)
    first = report_doc(agent_id, seq=5)
    # what the enrollment proof said; without one, the first report's id is recorded
    first["host"]["machine_id"] = host_identity().get("machine_id") or "a" * 32
    tokens = [sign(first, key)]
    assert ingest(engine, tokens, limits=LIMITS)[0].outcome == "accepted"
    assert ingest(engine, tokens, limits=LIMITS)[0].outcome == "duplicate"  # fine
    with engine.connect() as conn:
        row = agent_store.get(conn, agent_id)
    assert row.clone_suspected_at is None
    back = report_doc(agent_id, seq=4)
    back["host"]["machine_id"] = "b" * 32
    ingest(engine, [sign(back, key)], limits=LIMITS)
    with engine.connect() as conn:
        row = agent_store.get(conn, agent_id)
    assert row.clone_suspected_at is not None
    assert "machine id bbbb" in row.clone_reason
    assert "seq 4 is not after the last seq 5" in row.clone_reason
