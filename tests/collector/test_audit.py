"""The audit log's hash chain on SQLite and PostgreSQL: appends, tampering, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from harness import Collector, free_port
from hostpatrol.collector import audit
from hostpatrol.shared.clock import utcnow


def _fill(engine, n: int = 5) -> None:
    t0 = utcnow()
    with engine.begin() as conn:
        for i in range(n):
            audit.record(conn, actor=f"user{i % 2}", action="login", target=f"user:user{i}",
                         details={"ip": "127.0.0.1", "n": i, "名": "中文"},
                         now=t0 + timedelta(seconds=i))


def _verify(engine) -> audit.VerifyResult:
    with engine.connect() as conn:
        return audit.verify(conn)


def _sql(engine, text: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(text)


def test_intact_chain_verifies_and_links(engine) -> None:
    assert _verify(engine) == audit.VerifyResult(True, 0, audit.GENESIS)
    _fill(engine)
    result = _verify(engine)
    assert result.ok, result
    assert result.count == 5
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit.audit_log).order_by(audit.audit_log.c.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert result.head_hash == rows[-1].hash
    assert rows[2].details == '{"ip":"127.0.0.1","n":2,"名":"中文"}'


@pytest.mark.parametrize(("tamper", "broken"), [
    ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3),
    ("UPDATE audit_log SET details = '{\"ip\": \"127.0.0.1\",\"n\":2,\"名\":\"中文\"}' "
     "WHERE seq = 3", 3),
    ("UPDATE audit_log SET at = at + interval '1 second' WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 5", 5),
    ("DELETE FROM audit_log", 1),
    ("UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END WHERE seq IN (2, 3)",
     2),
])
def test_any_edit_deletion_or_reordering_is_detected(engine, tamper: str, broken: int) -> None:
    _fill(engine)
    if engine.dialect.name == "sqlite":
        tamper = tamper.replace("at + interval '1 second'", "datetime(at, '+1 second')")
    if "CASE seq" in tamper:  # unique seq: move through a free value as an attacker would
        _sql(engine, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
        _sql(engine, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
        _sql(engine, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    else:
        _sql(engine, tamper)
    result = _verify(engine)
    assert not result.ok
    assert result.broken_seq == broken, result
    assert str(broken) in result.reason


def test_recomputed_row_still_breaks_the_next_link(engine) -> None:
    """An attacker who rewrites a row *and* its hash breaks the following row instead."""
    _fill(engine)
    with engine.begin() as conn:
        row = conn.execute(sa.select(audit.audit_log).where(audit.audit_log.c.seq == 3)).one()
        forged = audit.row_hash(row.prev_hash, seq=3, at=row.at, actor="mallory",
                                action=row.action, target=row.target, details=row.details)
        conn.execute(audit.audit_log.update().where(audit.audit_log.c.seq == 3)
                     .values(actor="mallory", hash=forged))
    result = _verify(engine)
    assert (result.ok, result.broken_seq) == (False, 4)
    assert "does not link" in result.reason


def test_rolled_back_transaction_leaves_the_chain_intact(engine) -> None:
    _fill(engine, 2)
    def append_then_fail() -> None:
        with engine.begin() as conn:
            audit.record(conn, actor="a", action="x", target="t", details={}, now=utcnow())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        append_then_fail()
    _fill(engine, 1)
    result = _verify(engine)
    assert (result.ok, result.count) == (True, 3)


def test_concurrent_appends_never_fork_the_chain(engine) -> None:
    writers, each = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(w: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with engine.begin() as conn:
                    audit.record(conn, actor=f"w{w}", action="test", target=str(i),
                                 details={"i": i}, now=utcnow())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = _verify(engine)
    assert (result.ok, result.count) == (True, writers * each), result


def test_filters_and_export_order(engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        f = audit.AuditFilter(actor="user0")
        assert audit.count(conn, f) == 3
        assert [r.seq for r in audit.entries(conn, f, limit=2)] == [5, 3]
        assert [r.seq for r in audit.iter_entries(conn, f, batch=2)] == [1, 3, 5]
        assert audit.distinct_actions(conn) == ["login"]


def test_cli_verify_exit_codes(tmp_path) -> None:
    collector = Collector(tmp_path / "data", free_port())
    collector.init()
    collector.cli("user", "add", "audited", "--role", "viewer")
    ok = collector.cli("audit", "verify")
    assert ok.stdout.startswith("audit log intact:")
    db = sqlite3.connect(collector.data_dir / "hostpatrol.db")
    try:
        with db:
            db.execute("UPDATE audit_log SET target = 'user:someone' "
                       "WHERE action = 'user.create' AND target = 'user:audited'")
        broken = collector.cli("audit", "verify", check=False)
        assert broken.returncode == 1
        assert "BROKEN at row" in broken.stderr
    finally:
        db.close()
