"""Compact storage (migration 0015): packed evidence comes back byte for byte and verifies,
unchanged result data is stored once yet reads the same, a missing or corrupt dictionary
is a clear error, and a downgrade writes every packed row back into the old columns."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from forge import LIMITS, disk, enroll_in_store, report_doc, result, sign
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.retention import purge
from hostpatrol.collector.store import dictionaries, packing
from hostpatrol.collector.store import reports as report_store
from hostpatrol.collector.store.db import current_revision, downgrade, upgrade
from hostpatrol.collector.store.schema import check_results, reports, result_data, zstd_dicts
from hostpatrol.collector.web.evidence import verify_stored
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import b64url

FIREWALL = {"backend": "nftables", "active": True, "default_input_policy": "drop",
            "rule_count": 12, "open_ports": [22, 443]}


def _daily(agent_id: str, seq: int, percent: float, when=None) -> dict:
    """A report of two results: disk (changing) and a check without a schema (unchanged)."""
    now = when or utcnow() - timedelta(minutes=60 - seq)
    return report_doc(agent_id, seq=seq, created_at=now, results=[
        result("disk", disk(percent), now), result("custom_fw", FIREWALL, now)])


def _heartbeats(engine, agent_id, key, count: int, start: int = 1) -> list[str]:
    tokens = [sign(report_doc(agent_id, seq=start + i,
                              created_at=utcnow() - timedelta(minutes=55 - i)), key)
              for i in range(count)]
    assert {o.outcome for o in ingest(engine, tokens, limits=LIMITS)} == {"accepted"}
    return tokens


def _train(engine, monkeypatch) -> int:
    monkeypatch.setattr(dictionaries, "MIN_SAMPLES", 10)  # a test's few small reports
    monkeypatch.setattr(dictionaries, "DICT_BYTES", 1024)
    with engine.begin() as conn:
        assert dictionaries.due(conn, utcnow())
        dict_id = dictionaries.train(conn, utcnow())
    assert dict_id is not None
    with engine.connect() as conn:
        assert not dictionaries.due(conn, utcnow())  # a fresh one: not again for 30 days
    return dict_id


def test_packing_round_trips_any_jws_text_byte_for_byte() -> None:
    comp, decomp = packing.compressor(None), packing.decompressor(None)
    for text in ("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln",  # canonical parts
                 "eyJhbGciOiJFZERTQSJ9.eyJhIjoxfR.c2ln",  # non-canonical base64url
                 "not a jws at all\n", "a.b", "é.ü.ß"):
        body = packing.compress(*packing.jws_raw(text), comp)
        assert packing.jws_of(body, decomp) == text
    assert packing.jws_raw("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln")[0] == packing.JWS_PARTS
    assert packing.jws_raw("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfR.c2ln")[0] == packing.JWS_TEXT
    # the row's ids are left out of the bytes and put back, wherever they stand
    payload = b64url(b'{"agent_id":"a-1","report_id":"r-2","x":["r-2","a-1r-2"],"y":"\\u0000"}')
    token = f"eyJhbGciOiJFZERTQSJ9.{payload}.c2ln"
    fmt, raw = packing.jws_raw(token, ("a-1", "r-2"))
    assert fmt == packing.JWS_BOUND
    assert b'"r-2"' not in raw
    assert packing.jws_of(packing.compress(fmt, raw, comp), decomp, ("a-1", "r-2")) == token
    with pytest.raises(packing.PackError, match="ids are needed"):
        packing.jws_of(packing.compress(fmt, raw, comp), decomp)
    # ids that are not plain (quotes, NUL) are not taken out
    assert packing.jws_raw(token, ('a"', "r-2"))[0] == packing.JWS_PARTS
    with pytest.raises(packing.PackError):
        packing.jws_of(b"\x01garbage", decomp)
    with pytest.raises(packing.PackError):
        packing.data_of(packing.compress(packing.JWS_TEXT, b"x", comp), decomp)


def test_evidence_is_packed_and_verifies_byte_for_byte(engine, monkeypatch) -> None:
    agent_id, key = enroll_in_store(engine)
    plain = _heartbeats(engine, agent_id, key, 12)  # before any dictionary: plain zstd
    dict_id = _train(engine, monkeypatch)
    trained = _heartbeats(engine, agent_id, key, 3, start=13)
    with engine.connect() as conn:
        rows = {r.report_id: r for r in conn.execute(sa.select(
            reports.c.report_id, reports.c.jws, reports.c.sha256, reports.c.body,
            reports.c.dict_id).where(reports.c.agent_id == agent_id))}
        for token in plain + trained:
            rid = sign_report_id(token)
            row = rows[rid]
            assert row.jws is None
            assert row.sha256 is None
            assert row.body is not None
            assert row.dict_id == (dict_id if token in trained else None)
            assert len(row.body) < len(token) * 0.6  # packed, not merely stored
            assert report_store.evidence(conn, agent_id, rid) == token  # byte for byte
            check = verify_stored(conn, agent_id, rid)
            assert check.ok, check.message
            assert check.sha256 == hashlib.sha256(token.encode()).hexdigest()
            assert check.sha256_matches is None  # no stored hash to compare with
        sizes = {t in trained: len(rows[sign_report_id(t)].body) for t in plain + trained}
        assert sizes[True] < sizes[False] / 2  # the dictionary holds what they share
        recent = report_store.recent_reports(conn, agent_id)
        assert {r.sha256 for r in recent} == {hashlib.sha256(t.encode()).hexdigest()
                                               for t in plain + trained}


def sign_report_id(token: str) -> str:
    """The report_id inside a signed report."""
    import json

    from hostpatrol.shared.keys import b64url_decode
    return json.loads(b64url_decode(token.split(".")[1]))["report_id"]


def test_a_heartbeat_keeps_its_data_only_in_its_evidence(engine) -> None:
    agent_id, key = enroll_in_store(engine)
    _heartbeats(engine, agent_id, key, 3)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(result_data)).scalar() == 0
        stored = conn.execute(sa.select(check_results.c.data, check_results.c.data_id)).all()
        assert {tuple(r) for r in stored} == {(None, None)}
        [latest] = report_store.latest_results(conn, agent_id)
        assert latest.data_error is None
        assert latest.data == report_doc(agent_id)["results"][0]["data"]


def test_unchanged_data_stores_no_new_row_yet_reads_identically(engine) -> None:
    agent_id, key = enroll_in_store(engine)
    docs = [_daily(agent_id, seq, 40.0 + seq) for seq in (1, 2, 3)]
    assert {o.outcome for o in ingest(engine, [sign(d, key) for d in docs],
                                      limits=LIMITS)} == {"accepted"}
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(check_results.c.check_name,
                                          sa.func.count(sa.distinct(check_results.c.data_id)))
                                .group_by(check_results.c.check_name)).all())
        assert ids == {"disk": 3, "custom_fw": 1}  # three changes, one unchanged data row
        assert conn.execute(sa.select(sa.func.count()).select_from(result_data)).scalar() == 4
        latest = {r.check_name: r for r in report_store.latest_results(conn, agent_id)}
        assert latest["custom_fw"].data == FIREWALL
        assert latest["disk"].data == disk(43.0)
    # a later report, in a batch of its own, still finds the unchanged row
    assert ingest(engine, [sign(_daily(agent_id, 4, 50.0), key)], limits=LIMITS)[0].outcome \
        == "accepted"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(result_data)).scalar() == 5


def test_retention_keeps_a_shared_data_row_until_no_result_names_it(engine) -> None:
    from hostpatrol.collector.policy import loader

    agent_id, key = enroll_in_store(engine)
    old = utcnow() - timedelta(days=20)
    docs = [_daily(agent_id, seq, 40.0 + seq, old + timedelta(minutes=seq)) for seq in (1, 2)]
    docs.append(_daily(agent_id, 3, 45.0))
    limits = type(LIMITS)(max_report_bytes=LIMITS.max_report_bytes,
                          clock_skew=LIMITS.clock_skew, replay_horizon=timedelta(days=60))
    assert {o.outcome for o in ingest(engine, [sign(d, key) for d in docs],
                                      limits=limits)} == {"accepted"}
    with engine.connect() as conn:
        text = loader.text_of(conn)[1].replace("results_days: 400", "results_days: 10")
    policy = loader.parse_text(text, source="test", version=0)
    with engine.begin() as conn:
        assert purge(conn, policy, utcnow())["results"] == 4
    with engine.connect() as conn:
        # the two old disk rows went; the firewall row the newest result shares stayed
        assert conn.execute(sa.select(sa.func.count()).select_from(result_data)).scalar() == 2
        latest = {r.check_name: r for r in report_store.latest_results(conn, agent_id)}
        assert latest["custom_fw"].data == FIREWALL


def test_a_missing_or_corrupt_dictionary_is_a_clear_error(engine, monkeypatch) -> None:
    agent_id, key = enroll_in_store(engine)
    _heartbeats(engine, agent_id, key, 12)
    dict_id = _train(engine, monkeypatch)
    [token] = _heartbeats(engine, agent_id, key, 1, start=13)
    ingest(engine, [sign(_daily(agent_id, 14, 60.0), key)], limits=LIMITS)
    rid = sign_report_id(token)
    good = None
    with engine.begin() as conn:
        good = conn.execute(sa.select(zstd_dicts.c.body)).scalar()
        conn.execute(zstd_dicts.update().values(body=good[:100] + b"x" + good[101:]))
    dictionaries._CACHE.clear()
    with engine.connect() as conn:
        with pytest.raises(packing.PackError, match=f"dictionary {dict_id} is corrupt"):
            report_store.evidence(conn, agent_id, rid)
        check = verify_stored(conn, agent_id, rid)
        assert not check.ok
        assert "cannot be read" in check.message
        assert "corrupt" in check.message
        latest = {r.check_name: r for r in report_store.latest_results(conn, agent_id)}
        assert "corrupt" in latest["custom_fw"].data_error
        assert latest["custom_fw"].data is None
    with engine.begin() as conn:
        conn.execute(zstd_dicts.delete())
    dictionaries._CACHE.clear()
    with engine.connect() as conn:
        with pytest.raises(packing.PackError, match=f"dictionary {dict_id} is missing"):
            report_store.evidence(conn, agent_id, rid)
        assert [r.sha256 for r in report_store.recent_reports(conn, agent_id)
                if r.report_id == rid] == [None]
    # a corrupt body (not the dictionary) says so too
    with engine.begin() as conn:
        conn.execute(zstd_dicts.insert().values(id=dict_id, created_at=utcnow(), samples=12,
                                                sha256=hashlib.sha256(good).hexdigest(),
                                                body=good))
        conn.execute(reports.update().where(reports.c.report_id == rid)
                     .values(body=sa.func.substr(reports.c.body, 1, 20)))
    with engine.connect() as conn:
        with pytest.raises(packing.PackError, match="zstd"):
            report_store.evidence(conn, agent_id, rid)


def test_downgrade_writes_packed_rows_back_and_upgrade_reads_them(engine, monkeypatch) -> None:
    agent_id, key = enroll_in_store(engine)
    tokens = _heartbeats(engine, agent_id, key, 12)
    _train(engine, monkeypatch)
    daily = sign(_daily(agent_id, 13, 70.0), key)
    ingest(engine, [daily], limits=LIMITS)
    with engine.connect() as conn:
        before = {r.check_name: r.data for r in report_store.latest_results(conn, agent_id)}
    downgrade(engine, "0012")
    assert current_revision(engine) == "0012"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT jws, sha256 FROM reports")).all()
        assert {r.jws for r in rows} == {*tokens, daily}
        assert all(r.sha256 == hashlib.sha256(r.jws.encode()).hexdigest() for r in rows)
        assert conn.execute(sa.text(
            "SELECT count(*) FROM check_results WHERE data IS NULL")).scalar() == 0
    upgrade(engine)
    with engine.connect() as conn:
        assert {r.check_name: r.data for r in report_store.latest_results(conn, agent_id)} \
            == before
        assert report_store.evidence(conn, agent_id, sign_report_id(daily)) == daily
        assert verify_stored(conn, agent_id, sign_report_id(daily)).sha256_matches is True


def test_the_background_worker_trains_a_dictionary_once_enough_is_stored(engine,
                                                                         monkeypatch) -> None:
    from hostpatrol.collector.background import run_once

    monkeypatch.setattr(dictionaries, "MIN_SAMPLES", 10)
    monkeypatch.setattr(dictionaries, "DICT_BYTES", 1024)
    agent_id, key = enroll_in_store(engine)
    _heartbeats(engine, agent_id, key, 5)
    assert "zstd_dictionary" not in run_once(engine, "worker-1", utcnow())  # too few yet
    _heartbeats(engine, agent_id, key, 7, start=6)
    dict_id = run_once(engine, "worker-1", utcnow())["zstd_dictionary"]
    assert dict_id is not None
    assert "zstd_dictionary" not in run_once(engine, "worker-1", utcnow())  # fresh: not again
    [token] = _heartbeats(engine, agent_id, key, 1, start=13)
    with engine.connect() as conn:
        assert conn.execute(sa.select(reports.c.dict_id).where(
            reports.c.report_id == sign_report_id(token))).scalar() == dict_id
        assert report_store.evidence(conn, agent_id, sign_report_id(token)) == token


def test_evidence_stored_before_0015_is_packed_later_and_keeps_its_hash(engine,
                                                                       monkeypatch) -> None:
    from hostpatrol.collector.background import run_once

    agent_id, key = enroll_in_store(engine)
    tokens = _heartbeats(engine, agent_id, key, 12)
    with engine.begin() as conn:  # as versions before 0015 stored them: text and its hash
        for token in tokens:
            conn.execute(reports.update().where(reports.c.report_id == sign_report_id(token))
                         .values(jws=token, sha256=hashlib.sha256(token.encode()).hexdigest(),
                                 body=None, dict_id=None))
    done = run_once(engine, "worker-1", utcnow())
    assert "evidence_packed" not in done  # plain zstd would gain little: wait for a dictionary
    _train(engine, monkeypatch)
    assert run_once(engine, "worker-1", utcnow())["evidence_packed"] == 12
    assert "evidence_packed" not in run_once(engine, "worker-1", utcnow())  # nothing left
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)
                            .where(reports.c.jws.is_not(None))).scalar() == 0
        for token in tokens:
            rid = sign_report_id(token)
            assert report_store.evidence(conn, agent_id, rid) == token
            check = verify_stored(conn, agent_id, rid)
            assert check.ok
            assert check.sha256_matches is True  # the hash taken on receipt, still checked
