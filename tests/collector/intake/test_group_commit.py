"""Group commit: concurrent deliveries share a transaction, each gets its own answer."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from forge import LIMITS, report_doc, sign
from harness import wait_until
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.intake.batcher import Batcher
from hostpatrol.collector.intake.checkin import create_command, response_extras_many
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import reports as report_store
from hostpatrol.collector.store.schema import (
    agent_commands,
    agents,
    check_results,
    host_latest,
    reports,
)
from hostpatrol.collector.store.writelock import ingest_writer
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate
from hostpatrol.shared.report import format_time


def _agents(engine, count: int) -> list[tuple[str, object]]:
    now = utcnow()
    with engine.begin() as conn:
        agent_store.create_token(conn, "tok-gc", now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=count, group="g1", auto_approve=True)
    out = []
    for _ in range(count):
        key = generate()
        with engine.begin() as conn:
            out.append((enroll(conn, {"token": "tok-gc",
                                      "proof": make_proof(key, "tok-gc")}, now).agent_id, key))
    return out


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_waiting_deliveries_are_stored_together_each_with_its_own_outcome(tmp_path) -> None:
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    upgrade(engine)
    try:
        fleet = _agents(engine, 6)
        commands = {}
        with engine.begin() as conn:  # a pending command for the first agent only
            commands[fleet[0][0]] = create_command(conn, fleet[0][0], ["disk"], now=utcnow(),
                                                   created_by="test")
        signing = generate()

        def extras(conn, deliveries):
            return response_extras_many(conn, signing, [
                [o.agent_id for o in outs if o.outcome != "rejected"] for outs in deliveries],
                utcnow())

        batcher = Batcher(engine, LIMITS, extras=extras)
        first = sign(report_doc(fleet[1][0], seq=1), fleet[1][1])
        assert batcher.submit([first])[0][0].outcome == "accepted"  # idle: straight through
        deliveries = {
            "good": [sign(report_doc(aid, seq=2), key) for aid, key in fleet],
            "dup": [first],
            "forged": [sign(report_doc(fleet[2][0], seq=3), generate())],
            "mixed": [sign(report_doc(fleet[3][0], seq=4), fleet[3][1]), "not-a-jws"],
        }
        answers: dict[str, tuple] = {}
        # hold the writer: the first delivery's commit waits, the others queue behind it
        with ingest_writer(engine):
            threads = [threading.Thread(target=lambda n=n, t=t: answers.__setitem__(
                n, batcher.submit(t))) for n, t in deliveries.items()]
            for t in threads:
                t.start()
            for _ in range(200):
                if not batcher._queue:  # noqa: SLF001 - the committer took the first
                    break
                threading.Event().wait(0.01)
            threading.Event().wait(0.3)  # the rest arrive while the first waits
        for t in threads:
            t.join(30)
        good, extra = answers["good"]
        assert [o.outcome for o in good] == ["accepted"] * 6
        assert [o.agent_id for o in good] == [aid for aid, _ in fleet]
        assert answers["dup"][0][0].outcome == "duplicate"
        assert answers["forged"][0][0].status == 401
        assert [o.outcome for o in answers["mixed"][0]] == ["accepted", "rejected"]
        assert answers["mixed"][0][1].reason == "malformed"
        # several senders in one delivery: no commands; one sender: its own commands
        assert extra == {"commands": []}
        assert answers["mixed"][1]["commands"] == []
        assert "policy_version" in answers["mixed"][1]
        assert batcher.commits <= 3 < 1 + len(deliveries)  # shared, not one per delivery
        assert _count(engine, reports) == 1 + 6 + 1
        assert _count(engine, check_results) == 8
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(host_latest)
                                ).scalar_one() == 6
        alone = batcher.submit([sign(report_doc(fleet[0][0], seq=9), fleet[0][1])])[1]
        assert len(alone["commands"]) == 1  # the command goes to its own agent's answer
    finally:
        engine.dispose()


def test_a_database_failure_reaches_every_waiting_delivery(tmp_path) -> None:
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    upgrade(engine)
    try:
        fleet = _agents(engine, 2)
        batcher = Batcher(engine, LIMITS)
        with engine.begin() as conn:  # break the store: results can no longer be written
            conn.execute(sa.text("CREATE TRIGGER no_results BEFORE INSERT ON check_results "
                                 "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"))
        tokens = [sign(report_doc(aid, seq=1), key) for aid, key in fleet]
        errors = []

        def send(token: str) -> None:
            try:
                batcher.submit([token])
            except sa.exc.DBAPIError as e:
                errors.append(e)

        threads = [threading.Thread(target=send, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(errors) == 2  # nobody was told "accepted"
        assert _count(engine, reports) == 0  # and nothing half-stored
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER no_results"))
        assert [batcher.submit([t])[0][0].outcome for t in tokens] == ["accepted"] * 2
    finally:
        engine.dispose()


def test_one_batch_applies_reports_in_order(engine) -> None:
    """Reports of one host in one batch end as if they had come one by one."""
    fleet = _agents(engine, 2)
    now = utcnow()
    docs = []
    for n, (aid, key) in enumerate(fleet):
        for seq, minutes, pct in ((1, 30, 50.0), (3, 10, 97.0), (2, 20, 60.0)):
            doc = report_doc(aid, seq=seq, created_at=now - timedelta(minutes=minutes))
            doc["results"][0]["started_at"] = format_time(now - timedelta(minutes=minutes))
            fs = doc["results"][0]["data"]["filesystems"][0]
            fs.update(used_percent=pct + n)
            docs.append(sign(doc, key))
    outcomes = ingest(engine, docs, limits=LIMITS)
    assert [o.outcome for o in outcomes] == ["accepted"] * 6
    with engine.connect() as conn:
        rows = conn.execute(sa.select(agents.c.last_seq)).all()
        latest = [r for aid in {r.agent_id for r in conn.execute(sa.select(host_latest))}
                  for r in report_store.latest_results(conn, aid)]
    # seq moved forward to 3 although 2 came last; the newest result is the 10-minute one
    assert {r.last_seq for r in rows} == {3}
    assert sorted(r.data["filesystems"][0]["used_percent"] for r in latest) == [97.0, 98.0]


def test_one_refused_delivery_does_not_fail_the_others(tmp_path) -> None:
    """The store refuses one delivery: the batch is retried one by one, the others land."""
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    upgrade(engine)
    try:
        fleet = _agents(engine, 4)
        poison = fleet[0][0]
        with engine.begin() as conn:
            conn.execute(sa.text(
                "CREATE TRIGGER poison BEFORE INSERT ON check_results "
                f"WHEN NEW.agent_id = '{poison}' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        batcher = Batcher(engine, LIMITS)
        answers: dict[str, object] = {}

        def send(aid: str, key) -> None:
            try:
                answers[aid] = batcher.submit([sign(report_doc(aid, seq=1), key)])[0][0].outcome
            except sa.exc.DBAPIError as e:
                answers[aid] = e

        with ingest_writer(engine):  # let them queue up into one batch
            threads = [threading.Thread(target=send, args=f) for f in fleet]
            for t in threads:
                t.start()
            threading.Event().wait(0.5)
        for t in threads:
            t.join(30)
        assert isinstance(answers.pop(poison), sa.exc.DBAPIError)
        assert set(answers.values()) == {"accepted"}
        assert _count(engine, reports) == 3
    finally:
        engine.dispose()


def test_commands_are_capped_per_agent_not_across_a_batch(tmp_path) -> None:
    from hostpatrol.collector.intake.checkin import MAX_COMMANDS
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    upgrade(engine)
    try:
        (busy, _), (quiet, _) = _agents(engine, 2)
        now = utcnow()
        with engine.begin() as conn:
            for n in range(MAX_COMMANDS + 5):  # an old backlog for one agent
                create_command(conn, busy, ["disk"], now=now - timedelta(minutes=60 - n),
                               created_by="test")
            create_command(conn, quiet, ["time"], now=now, created_by="test")
        with engine.begin() as conn:
            got = response_extras_many(conn, generate(), [[busy], [quiet]], now)
        assert len(got[0]["commands"]) == MAX_COMMANDS
        assert len(got[1]["commands"]) == 1
        with engine.begin() as conn:
            again = response_extras_many(conn, generate(), [[busy], [quiet]], now)
        assert len(again[0]["commands"]) == MAX_COMMANDS  # handed out until done
    finally:
        engine.dispose()


def test_a_newer_result_written_meanwhile_is_not_overtaken(engine) -> None:
    """Another collector stores a newer result of the same check while this batch is
    being stored: host_latest keeps it, and this batch's result is not judged as newest."""
    from hostpatrol.collector.store import intake
    from hostpatrol.shared.report import validate_report

    (aid, key), = _agents(engine, 1)
    doc = report_doc(aid, seq=1)
    later = utcnow() + timedelta(minutes=5)

    def meanwhile(report, sender) -> None:
        # runs after the snapshot of host_latest and before the upsert: the row another
        # collector would have committed in between (PostgreSQL lets that happen)
        conn.execute(host_latest.insert().values(
            agent_id=aid, check_name="disk", result_id=999_999, status="ok",
            started_at=later))

    with engine.begin() as conn:
        stored = intake.store_batch(conn, [intake.Incoming(validate_report(doc), "x.y.z",
                                                           "0" * 64)],
                                    now=utcnow(), source="test", inspect=meanwhile)
        latest = conn.execute(sa.select(host_latest.c.result_id)).scalar_one()
    assert latest == 999_999
    assert stored[0].pk is not None
    assert stored[0].newest == {}


def _extras(signing):
    def extras(conn, deliveries):
        return response_extras_many(conn, signing, [
            [o.agent_id for o in outs if o.outcome != "rejected"] for outs in deliveries],
            utcnow())
    return extras


class _Gate:
    """Check-in extras that hold the committer inside a group's transaction until opened."""

    def __init__(self, extras) -> None:
        self.extras, self.entered, self.opened = extras, threading.Event(), threading.Event()

    def __call__(self, conn, deliveries):
        self.entered.set()
        assert self.opened.wait(30)
        return self.extras(conn, deliveries)


def test_a_group_is_verified_stored_and_answered_in_one_transaction(engine,
                                                                    monkeypatch) -> None:
    """On PostgreSQL every round trip counts: one transaction a group for verifying,
    storing and answering (on SQLite the verification reads end before the writer lock is
    taken), and one checkout (a ping) while deliveries keep coming."""
    from hostpatrol.collector.store import writelock

    # no WAL checkpoint meanwhile: its own connection would show in the events
    monkeypatch.setattr(writelock, "CHECKPOINT_REPORTS", 10**9)
    fleet = _agents(engine, 3)
    with engine.begin() as conn:
        create_command(conn, fleet[0][0], ["disk"], now=utcnow(), created_by="test")
    events: list[str] = []
    for name in ("checkout", "checkin"):
        sa.event.listen(engine.pool, name, lambda *a, name=name: events.append(name))
    for name in ("begin", "commit", "rollback"):
        sa.event.listen(engine, name, lambda conn, name=name: events.append(name))

    gate = _Gate(_extras(generate()))
    gate.opened.set()
    batcher = Batcher(engine, LIMITS, extras=gate)
    aid, key = fleet[0]
    outcomes, answer = batcher.submit([sign(report_doc(aid, seq=1), key)])
    assert [o.outcome for o in outcomes] == ["accepted"]
    assert len(answer["commands"]) == 1
    assert "policy_version" in answer
    wait_until(lambda: "checkin" in events)  # the queue ran dry: back to the pool
    if engine.dialect.name == "postgresql":  # the reads, the store and the answers: one
        assert events == ["checkout", "begin", "commit", "checkin"]
    else:
        assert events == ["checkout", "begin", "rollback", "begin", "commit", "checkin"]
    with engine.connect() as conn:  # marked delivered by the transaction that answered
        assert conn.execute(sa.select(sa.func.count()).select_from(agent_commands).where(
            agent_commands.c.delivered_at.is_not(None))).scalar_one() == 1

    # deliveries queued while a group commits share its connection
    events.clear()
    gate.opened.clear()
    gate.entered.clear()
    threads = [threading.Thread(target=batcher.submit, args=(
        [sign(report_doc(a, seq=2 + i), k)],)) for i, (a, k) in enumerate(fleet * 2)]
    threads[0].start()
    assert gate.entered.wait(30)  # the first group is inside its transaction
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(batcher._queue) == 5)  # noqa: SLF001
    gate.opened.set()
    for t in threads:
        t.join(30)
    wait_until(lambda: "checkin" in events)
    assert batcher.commits == 3  # the first delivery alone, this one, then the other five
    assert events.count("checkout") == 1  # one connection for both groups
    assert events[-1] == "checkin"
    assert _count(engine, reports) == 7


def test_a_connection_lost_mid_group_is_replaced_and_nothing_is_lost(pg_engine) -> None:
    """PostgreSQL drops the committer's connection (a restart, an administrator) in the
    middle of a group: the group is ingested again on a new connection, not answered
    503, and the delivery queued meanwhile is stored too."""
    engine = pg_engine
    (a0, k0), (a1, k1) = _agents(engine, 2)
    checkouts: list[int] = []
    sa.event.listen(engine.pool, "checkout", lambda dbapi, *a: checkouts.append(
        dbapi.info.backend_pid))
    gate = _Gate(_extras(generate()))
    batcher = Batcher(engine, LIMITS, extras=gate)
    got: dict[str, tuple] = {}
    first = threading.Thread(target=lambda: got.__setitem__("first", batcher.submit(
        [sign(report_doc(a0, seq=1), k0)])))
    first.start()
    assert gate.entered.wait(30)
    pid = batcher._conn.connection.dbapi_connection.info.backend_pid  # noqa: SLF001
    with engine.connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"),
                             {"p": pid}).scalar_one()
    second = threading.Thread(target=lambda: got.__setitem__("second", batcher.submit(
        [sign(report_doc(a1, seq=1), k1)])))
    second.start()
    wait_until(lambda: len(batcher._queue) == 1)  # noqa: SLF001
    gate.opened.set()
    first.join(30)
    second.join(30)
    assert [o.outcome for o in got["first"][0]] == ["accepted"]
    assert [o.outcome for o in got["second"][0]] == ["accepted"]
    assert _count(engine, reports) == 2
    assert checkouts[:2] == [pid, checkouts[1]]  # the killed one, then its replacement
    assert checkouts[1] != pid


def test_answering_never_waits_for_a_command_row_another_transaction_holds(
        pg_engine) -> None:
    """Marking a command delivered is bookkeeping: a row another transaction holds (say a
    report from the same agent, in another worker, marking it done) is skipped rather than
    waited for, so two workers answering each other's agents cannot deadlock."""
    engine = pg_engine
    ((aid, key),) = _agents(engine, 1)
    with engine.begin() as conn:
        cid = create_command(conn, aid, ["disk"], now=utcnow(), created_by="test")
    batcher = Batcher(engine, LIMITS, extras=_extras(generate()))
    got: list = []
    with engine.connect() as other:
        other.execute(agent_commands.update().where(agent_commands.c.id == cid)
                      .values(done_at=None))  # holds the row until it ends
        sender = threading.Thread(target=lambda: got.append(batcher.submit(
            [sign(report_doc(aid, seq=1), key)])))
        sender.start()
        sender.join(20)
        answered_while_held = not sender.is_alive()
        other.rollback()
    sender.join(30)
    assert answered_while_held
    assert [o.outcome for o in got[0][0]] == ["accepted"]
    assert len(got[0][1]["commands"]) == 1  # handed out all the same
    with engine.connect() as conn:  # not marked: it will be handed out again until done
        assert conn.execute(sa.select(agent_commands.c.delivered_at)).scalar_one() is None


def test_a_failed_store_is_rolled_back_before_the_writer_lock_is_released(
        tmp_path, monkeypatch) -> None:
    """SQLite: the next worker's writer must not find the failed transaction still open
    (it would wait in SQLite's sleeping busy handler, which the writer lock avoids)."""
    import fcntl

    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    upgrade(engine)
    try:
        ((aid, key),) = _agents(engine, 1)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TRIGGER poison BEFORE INSERT ON check_results "
                                 "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        order: list[str] = []
        sa.event.listen(engine, "rollback", lambda conn: order.append("rollback"))
        real = fcntl.flock

        def flock(fd: int, op: int) -> None:  # the real lock, its releases recorded
            real(fd, op)
            if op == fcntl.LOCK_UN:
                order.append("unlock")

        monkeypatch.setattr(fcntl, "flock", flock)
        try:
            ingest(engine, [sign(report_doc(aid, seq=1), key)], limits=LIMITS)
        except sa.exc.DBAPIError:
            pass
        else:
            raise AssertionError("the poisoned store did not fail")
        assert order[-2:] == ["rollback", "unlock"]
        assert _count(engine, reports) == 0
    finally:
        engine.dispose()


def test_answers_that_fail_to_compute_do_not_cost_the_reports(engine) -> None:
    """A bug in answering (here: a command that cannot be signed) is contained: the
    reports are stored and answered without commands, and the command, not handed out,
    is not marked delivered. A database error while answering fails the group instead
    (the transaction is gone with it): nothing is stored, the agent resends."""
    ((aid, key),) = _agents(engine, 1)
    with engine.begin() as conn:
        create_command(conn, aid, ["disk"], now=utcnow(), created_by="test")

    class Unsignable:
        def sign(self, data):  # the collector key: broken
            raise RuntimeError("signing key unusable")

        def public_key(self):
            return generate().public_key()

    batcher = Batcher(engine, LIMITS, extras=_extras(Unsignable()))
    outcomes, answer = batcher.submit([sign(report_doc(aid, seq=1), key)])
    assert [o.outcome for o in outcomes] == ["accepted"]
    assert answer == {"commands": []}
    with engine.connect() as conn:
        assert conn.execute(sa.select(agent_commands.c.delivered_at)).scalar_one() is None
    assert _count(engine, reports) == 1

    def broken(conn, deliveries):
        conn.execute(sa.text("SELECT * FROM no_such_table"))

    batcher = Batcher(engine, LIMITS, extras=broken)
    try:
        batcher.submit([sign(report_doc(aid, seq=2), key)])
    except sa.exc.DBAPIError:
        pass
    else:
        raise AssertionError("a database error while answering was not raised")
    assert _count(engine, reports) == 1  # the second report was not kept unanswered
