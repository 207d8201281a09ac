"""No state file, however damaged, and no clock gone wrong may stop the agent's runs.

Each record in the state dir is written with garbage, wrong types or dates at the ends of
the calendar; the agent must still know what is due, number its reports upwards, keep its
gap record and deliver. What cannot be repaired (no enrollment) is a clear error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostpatrol.agent import cron
from hostpatrol.agent.config import BASE_SPEC
from hostpatrol.agent.delivery import DeliveryState
from hostpatrol.agent.schedule import LastRuns, resolve
from hostpatrol.agent.spool import Spool
from hostpatrol.agent.state import State, StateError
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.configfile import validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
AGENT = "7d2c1b36-4a53-4a3a-9a2f-2b8c2d1f0e11"


class Disk:
    name = "disk"
    schedule = "heartbeat"


class Patches:
    name = "patches"
    schedule = "weekly"


def schedules():
    return resolve(validate({}, BASE_SPEC["schedule"].children), AGENT, ["disk", "patches"])


GARBAGE = [b"", b"\xff\xfe\x00", b"[]", b"null", b"42", b'"text"', b'{"checks": []}',
           b'{"checks": {"disk": 5, "patches": null}}', b"{" * 100_000,
           b'{"checks": {"disk": "0001-01-01T00:00:00+01:00"}}',
           b'{"checks": {"disk": "9999-12-31T23:59:59-01:00"}}']


@pytest.mark.parametrize("content", GARBAGE)
def test_a_damaged_last_run_record_makes_checks_due_not_stuck(tmp_path: Path,
                                                              content: bytes) -> None:
    (tmp_path / "last_run.json").write_bytes(content)
    runs = LastRuns(tmp_path).load()
    assert schedules().due([Disk, Patches], runs, T0) == [Disk, Patches]
    LastRuns(tmp_path).record(["disk"], T0)  # and it is repaired by the next run
    assert LastRuns(tmp_path).load() == {"disk": T0}


@pytest.mark.parametrize("last", [datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                                  T0 + timedelta(days=400), T0 + timedelta(minutes=11)])
def test_a_last_run_in_the_future_is_due_now(last: datetime) -> None:
    """The clock went back (or the record lies): waiting for that date would silence the
    host; the check runs now and its record is set right."""
    s = schedules()
    assert s.next_due(Disk, last, T0) == T0
    assert s.next_due(Patches, last, T0) == T0


def test_a_small_step_back_of_the_clock_is_tolerated() -> None:
    s = schedules()
    assert s.next_due(Disk, T0 + timedelta(minutes=2), T0) > T0


def test_a_clock_at_the_end_of_the_calendar_still_runs_the_checks() -> None:
    """A host clock near year 9999: the weekly schedule has no firing left before the end
    of the calendar (a CronError inside); the check is due rather than the run crashing."""
    end = datetime(9999, 12, 31, 23, 59, 50, tzinfo=UTC)
    s = schedules()
    last = {"disk": end - timedelta(seconds=10),  # next slot: 10000-01-01, an overflow
            "patches": datetime(9999, 12, 31, 3, 16, tzinfo=UTC)}
    with pytest.raises(cron.CronError):  # 9999-12-31 03:00 was the last Friday slot
        s.cron_for(Patches).next_after(last["patches"] - s.splay_of(Patches))
    assert s.due([Disk, Patches], last, end) == [Disk, Patches]


@pytest.mark.parametrize("content", [b"", b"abc", b"-5", b"\xff\xff", b"1e9",
                                     b"99999999999999999999999", b"  \n"])
def test_a_damaged_seq_file_numbering_goes_on_upwards(tmp_path: Path, content: bytes) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(41, "00000000-0000-4000-8000-000000000041", "a.b.c")
    (tmp_path / "seq").write_bytes(content)
    state = State(tmp_path)
    before = int(utcnow().timestamp() * 1000)
    seq = state.next_seq()
    assert seq > before
    assert seq > 41
    assert state.next_seq() == seq + 1  # and the file is sound again
    assert len(state.repairs) == 1
    assert "seq file unreadable" in state.repairs[0]


def test_a_lost_seq_file_after_runs_never_goes_back(tmp_path: Path) -> None:
    LastRuns(tmp_path).record(["disk"], T0)
    state = State(tmp_path)
    before = int(utcnow().timestamp() * 1000)
    assert state.next_seq() > before
    assert "missing" in state.repairs[0]


def test_a_fresh_agent_starts_at_one(tmp_path: Path) -> None:
    state = State(tmp_path)
    assert [state.next_seq(), state.next_seq()] == [1, 2]
    assert state.repairs == []


@pytest.mark.parametrize("content", [b"[]", b'{"failures": "many", "not_before": 7}',
                                     b'{"failures": true, "last_success": ["x"]}',
                                     b'{"not_before": "9999-12-31T23:59:59Z"}',
                                     b'{"not_before": "0001-01-01T00:00:00+01:00"}',
                                     b"\xff", b'{"limits": "x", "batch_cap": -1, "cuts": 3}'])
def test_a_damaged_delivery_record_never_stops_delivery(tmp_path: Path,
                                                        content: bytes) -> None:
    (tmp_path / "delivery.json").write_bytes(content)
    state = DeliveryState(tmp_path)
    record = state.load()
    assert isinstance(record["failures"], int)
    assert state.not_before(T0) is None
    state.save(failures=0, last_success=T0)
    assert state.load()["last_success"] == "2026-12-04T09:30:00.000Z"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(
                            ["gap", "carried_in", "dropped", "first_seq", "last_seq",
                             "report_ids", "reasons", "too_large"]), inner, max_size=5),
                        max_leaves=10))
def test_a_damaged_gap_record_is_kept_as_a_gap_and_never_stops_a_run(tmp_path_factory,
                                                                     doc) -> None:
    root = tmp_path_factory.mktemp("gap")
    (root / "gap.json").write_text(json.dumps(doc))
    spool = Spool(root / "spool", max_bytes=10)
    for seq in (1, 2, 3):
        spool.put(seq, f"00000000-0000-4000-8000-00000000000{seq}", "a" * 20)
    gap = spool.gap()
    assert gap is None or (gap["dropped"] >= 1 and isinstance(gap["reasons"], dict))
    spool.gap_carried(3)
    spool.enforce_bounds()  # drops 1 and 2: the record grows, whatever it held
    grown = spool.gap()
    assert grown["dropped"] >= 2
    assert grown["reasons"]["spool_full"] >= 2
    assert grown["last_seq"] >= 2
    json.dumps(grown)


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"server": 1}', b'{"agent_id": "x"}'])
def test_a_damaged_enrollment_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "enrollment.json").write_bytes(content)
    with pytest.raises(StateError, match="enroll --force"):
        State(tmp_path).enrollment()
