"""Spool bounds (size, age) with gap records; export; delivery bookkeeping and backoff."""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import timedelta

from hostpatrol.agent.delivery import DeliveryState, backoff_seconds
from hostpatrol.agent.spool import MAX_GAP_IDS, Spool
from hostpatrol.shared.clock import utcnow


def _fill(spool: Spool, seqs: range, size: int = 100) -> list[str]:
    ids = []
    for seq in seqs:
        rid = str(uuid.uuid4())
        spool.put(seq, rid, "a" * (size - 1))  # +newline = size bytes
        ids.append(rid)
    return ids


def test_over_size_drops_oldest_never_newest_and_records_the_gap(tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=350)
    ids = _fill(spool, range(1, 6))
    dropped = spool.enforce_bounds()
    assert [d.seq for d in dropped] == [1, 2]
    assert [p.seq for p in spool.pending()] == [3, 4, 5]
    assert spool.gap() == {"dropped": 2, "first_seq": 1, "last_seq": 2,
                           "report_ids": ids[:2], "reasons": {"spool_full": 2}}
    tiny = Spool(tmp_path / "spool", max_bytes=1)
    tiny.enforce_bounds()
    assert [p.seq for p in tiny.pending()] == [5]  # the newest always stays
    assert tiny.gap()["dropped"] == 4
    assert tiny.gap()["last_seq"] == 4
    newest = tiny.pending()[0]
    tiny.gap_carried(newest.seq)
    tiny.acknowledge(newest)  # the collector has a report carrying the whole gap
    assert tiny.gap() is None


def test_gap_stays_until_a_carrier_of_its_latest_content_is_acknowledged(tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=250)
    _fill(spool, range(1, 4))
    spool.enforce_bounds()
    assert spool.gap()["dropped"] == 1
    spool.gap_carried(3)  # report 3 carries {dropped: 1}
    _fill(spool, range(4, 5))
    spool.enforce_bounds()  # drops 2: the content grows
    assert spool.gap()["dropped"] == 2
    spool.acknowledge(spool.pending()[0])  # report 3 carried only the older content
    assert spool.gap()["dropped"] == 2
    spool.gap_carried(4)
    spool.acknowledge(spool.pending()[0])
    assert spool.gap() is None


def test_over_age_drops_old_reports(tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_age_days=30)
    _fill(spool, range(1, 4))
    old = spool.pending()[0].path
    past = old.stat().st_mtime - 31 * 86400
    os.utime(old, (past, past))
    assert [d.seq for d in spool.enforce_bounds()] == [1]
    assert spool.enforce_bounds() == []
    assert spool.gap()["dropped"] == 1


def test_gap_report_ids_are_bounded(tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1)
    _fill(spool, range(1, MAX_GAP_IDS + 20), size=10)
    spool.enforce_bounds()
    gap = spool.gap()
    assert gap["dropped"] == MAX_GAP_IDS + 18
    assert len(gap["report_ids"]) == MAX_GAP_IDS


def test_export_writes_json_lines_and_removes_only_on_request(tmp_path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(1, str(uuid.uuid4()), "h.p.s1")
    spool.put(2, str(uuid.uuid4()), "h.p.s2")
    out = tmp_path / "export.jsonl"
    assert spool.export(out) == 2
    assert [json.loads(line) for line in out.read_text().splitlines()] == ["h.p.s1", "h.p.s2"]
    assert len(spool.pending()) == 2
    assert spool.export(out, remove=True) == 2
    assert spool.pending() == []
    assert len(out.read_text().splitlines()) == 2


def test_delivery_state_and_backoff(tmp_path) -> None:
    state = DeliveryState(tmp_path)
    assert state.not_before() is None
    when = utcnow() + timedelta(seconds=120)
    state.save(not_before=when, failures=2)
    again = DeliveryState(tmp_path)
    assert abs((again.not_before() - when).total_seconds()) < 0.01
    assert again.load()["failures"] == 2
    rng = random.Random(7)  # noqa: S311 - jitter, not crypto
    steps = [backoff_seconds(n, 30, 3600, rng) for n in range(0, 10)]
    assert steps[0] == 0
    assert 15 <= steps[1] <= 30
    assert 60 <= steps[3] <= 120
    assert all(1800 <= s <= 3600 for s in steps[8:])
    assert len({round(backoff_seconds(4, 30, 3600)) for _ in range(20)}) > 1  # jitter
