"""Agent schedules at the calendar's edges: year ends, leap days, the far future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hostpatrol.agent import cron
from hostpatrol.agent.schedule import DEFAULT_SCHEDULES, RAISED_SCHEDULES
from hypothesis import given
from hypothesis import strategies as st

instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 1),
                        timezones=st.just(UTC))
SCHEDULES = sorted({*DEFAULT_SCHEDULES.values(), *RAISED_SCHEDULES.values(),
                    "0 0 29 2 *", "30 23 31 12 *", "0 0 1 1 *"})


def test_the_weekly_run_crosses_the_year_end() -> None:
    weekly = cron.parse(DEFAULT_SCHEDULES["weekly"])  # Fridays 03:00 UTC
    assert weekly.next_after(datetime(2026, 12, 25, 3, 0, tzinfo=UTC)) == \
        datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    assert weekly.next_after(datetime(2027, 12, 31, 3, 0, tzinfo=UTC)) == \
        datetime(2028, 1, 7, 3, 0, tzinfo=UTC)


def test_a_leap_day_schedule_waits_for_the_next_leap_year() -> None:
    leap = cron.parse("0 0 29 2 *")
    assert leap.next_after(datetime(2027, 3, 1, tzinfo=UTC)) == datetime(2028, 2, 29,
                                                                         tzinfo=UTC)
    assert leap.next_after(datetime(2096, 3, 1, tzinfo=UTC)) == datetime(2104, 2, 29,
                                                                         tzinfo=UTC)


@pytest.mark.parametrize("expr", SCHEDULES)
def test_far_future_firings_are_found(expr: str) -> None:
    c = cron.parse(expr)
    assert c.next_after(datetime(2199, 12, 1, tzinfo=UTC)) > datetime(2199, 12, 1, tzinfo=UTC)


def test_the_end_of_the_calendar_is_an_error_not_an_overflow() -> None:
    """A last-run time near year 9999 (a host clock gone wrong) gets a CronError."""
    with pytest.raises(cron.CronError, match="never fires"):
        cron.parse("0 0 29 2 *").next_after(datetime(9999, 3, 1, tzinfo=UTC))
    assert cron.parse("*/15 * * * *").next_after(datetime(9999, 12, 1, tzinfo=UTC)).year == 9999


@given(instants, st.sampled_from(SCHEDULES))
def test_the_next_firing_is_later_matches_and_skips_none(ts: datetime, expr: str) -> None:
    c = cron.parse(expr)
    nxt = c.next_after(ts)
    assert nxt > ts
    assert nxt.tzinfo == UTC
    assert nxt.minute in c.minutes
    assert nxt.hour in c.hours
    assert nxt.month in c.months
    assert c._day_matches(nxt)
    # no firing was skipped: the minute before the found one, walking back to ts, has none
    probe = nxt - timedelta(minutes=1)
    if probe > ts and nxt - ts <= timedelta(hours=2):
        while probe > ts:
            assert not (probe.minute in c.minutes and probe.hour in c.hours
                        and probe.month in c.months and c._day_matches(probe))
            probe -= timedelta(minutes=1)
