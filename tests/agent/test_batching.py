"""Batches sized by bytes: under the collector's stated limit, halved on a 413, never stuck."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hostpatrol.agent.batching import CUTS_TO_GIVE_UP, Sizing
from hostpatrol.agent.client import advertised_limits, batch_body, batch_body_size
from hostpatrol.agent.spool import Spool
from hypothesis import given
from hypothesis import strategies as st


def spool_of(root: Path, sizes: list[int]) -> Spool:
    spool = Spool(root / "spool")
    for seq, size in enumerate(sizes, 1):
        spool.put(seq, str(uuid.UUID(int=seq)), "a" * size)
    return spool


@given(st.lists(st.integers(0, 5000), max_size=30))
def test_the_body_size_is_computed_exactly(sizes: list[int]) -> None:
    assert len(batch_body(["a" * n for n in sizes])) == batch_body_size(sizes)


def test_a_batch_stays_under_the_stated_limit_and_the_count(tmp_path: Path) -> None:
    spool = spool_of(tmp_path, [1000] * 20)
    sizing = Sizing({"limits": {"max_body_bytes": 3500, "max_batch": 100}}, 4 << 20)
    batch, body = sizing.plan(spool.pending(), 50)
    assert [i.seq for i in batch] == [1, 2, 3]
    assert body <= 3500
    assert body == len(batch_body([i.read() for i in batch]))
    assert len(sizing.plan(spool.pending(), 2)[0]) == 2  # the agent's own batch_size
    sizing.learn({"max_body_bytes": 10**6, "max_batch": 5})
    assert len(sizing.plan(spool.pending(), 50)[0]) == 5  # the collector's max_batch


def test_one_report_over_the_budget_still_goes_alone(tmp_path: Path) -> None:
    spool = spool_of(tmp_path, [9000, 10])
    batch, body = Sizing({}, 1000).plan(spool.pending(), 50)
    assert [i.seq for i in batch] == [1]
    assert body == batch_body_size([9000])


def test_halving_and_a_new_stated_limit(tmp_path: Path) -> None:
    sizing = Sizing({}, 4 << 20)
    sizing.halve(3_000_000)
    assert sizing.budget() == 1_500_000
    sizing.learn({"max_body_bytes": 4 << 20})  # the collector restarted with a new limit
    assert sizing.budget() == 4 << 20  # the old halving no longer applies
    sizing.halve(200_000)
    assert sizing.budget() == 100_000
    assert sizing.changes(drained=False) == {"limits": {"max_body_bytes": 4 << 20},
                                             "batch_cap": 100_000, "cuts": {}}
    assert sizing.changes(drained=True)["batch_cap"] is None  # an empty spool starts afresh


def test_a_report_that_can_never_fit(tmp_path: Path) -> None:
    sizing = Sizing({"limits": {"max_body_bytes": 5000, "max_report_bytes": 3000}}, 4 << 20)
    assert sizing.never_fits(batch_body_size([3001]))  # over the report limit
    assert not sizing.never_fits(batch_body_size([3000]))
    assert "at most 5000 bytes a request and 3000 bytes a report" in sizing.limit_text()
    assert not Sizing({}, 100).never_fits(10**9)  # unknown limits: never presumed


def test_a_lone_report_cut_again_and_again_is_given_up(tmp_path: Path) -> None:
    sizing = Sizing({}, 4 << 20)
    rid = str(uuid.UUID(int=1))
    assert [sizing.cut_again(rid) for _ in range(CUTS_TO_GIVE_UP)] == \
        [False] * (CUTS_TO_GIVE_UP - 1) + [True]
    again = Sizing(sizing.changes(drained=False), 4 << 20)  # kept across runs
    assert again.cuts == {rid: CUTS_TO_GIVE_UP}


@pytest.mark.parametrize("record", [{"limits": "x"}, {"limits": {"max_body_bytes": -1}},
                                    {"batch_cap": True}, {"cuts": [1]},
                                    {"limits": {"max_batch": 2**60}}, {"cuts": {"a": "b"}}])
def test_a_damaged_record_is_ignored(record: dict) -> None:
    sizing = Sizing(record, 1000)
    assert sizing.budget() == 1000
    assert sizing.cuts == {}


def test_limit_headers_are_read_strictly() -> None:
    assert advertised_limits({"Hostpatrol-Max-Body-Bytes": "65536",
                              "Hostpatrol-Max-Batch": "x", "Hostpatrol-Max-Report-Bytes": "-3"}
                             ) == {"max_body_bytes": 65536}
    assert advertised_limits({}) == {}
