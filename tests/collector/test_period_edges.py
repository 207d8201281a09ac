"""Report periods at the calendar's edges: ISO week 53, year ends in two zones, DST weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hostpatrol.collector.reports.period import PeriodError, current_week, parse
from hypothesis import given
from hypothesis import strategies as st

ZONES = ("UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York")
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 1),
                        timezones=st.just(UTC))


def test_new_years_day_2027_is_in_iso_week_53_of_2026() -> None:
    w53 = parse("2026-W53")
    assert (w53.start, w53.end) == (datetime(2026, 12, 28, tzinfo=UTC),
                                    datetime(2027, 1, 4, tzinfo=UTC))
    assert current_week(datetime(2027, 1, 1, 0, 30, tzinfo=UTC)) == "2026-W53"
    assert current_week(datetime(2027, 1, 4, 0, 0, tzinfo=UTC)) == "2027-W01"
    assert w53.label("zh") == "2026年第53周"
    with pytest.raises(PeriodError, match="does not exist"):
        parse("2027-W53")  # 2027 has 52 ISO weeks


def test_the_week_turns_at_local_midnight_of_the_report_zone() -> None:
    """Sunday 2027-01-03 18:00 UTC is already Monday in Beijing: a new week there only."""
    t = datetime(2027, 1, 3, 18, 0, tzinfo=UTC)
    assert current_week(t) == "2026-W53"
    assert current_week(t, "Asia/Shanghai") == "2027-W01"
    q1 = parse("2027-Q1", "Asia/Shanghai")
    assert q1.start.astimezone(UTC) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_a_week_with_a_dst_change_is_one_hour_shorter_or_longer() -> None:
    spring = parse("2026-W13", "Europe/Berlin")  # clocks go forward on 2026-03-29
    autumn = parse("2026-W43", "Europe/Berlin")  # and back on 2026-10-25
    assert spring.end - spring.start == timedelta(days=7)  # wall time: same length...
    assert spring.end.astimezone(UTC) - spring.start.astimezone(UTC) == timedelta(hours=167)
    assert autumn.end.astimezone(UTC) - autumn.start.astimezone(UTC) == timedelta(hours=169)
    assert spring.start.utcoffset() == timedelta(hours=1)
    assert spring.end.utcoffset() == timedelta(hours=2)
    beijing = parse("2026-W13", "Asia/Shanghai")  # no DST in China
    assert beijing.end.astimezone(UTC) - beijing.start.astimezone(UTC) == timedelta(days=7)


@given(instants, st.sampled_from(ZONES))
def test_every_instant_lies_in_the_week_the_report_names_for_it(now: datetime,
                                                                 zone: str) -> None:
    week = parse(current_week(now, zone), zone)
    assert week.start <= now < week.end
    assert week.start.astimezone(ZoneInfo(zone)).isoweekday() == 1
    nxt = parse(current_week(week.end, zone), zone)
    assert nxt.start == week.end  # weeks tile the time line: no gap, no overlap


@given(instants, st.sampled_from(ZONES))
def test_months_quarters_and_years_tile_the_time_line(now: datetime, zone: str) -> None:
    local = now.astimezone(ZoneInfo(zone))
    for key in (f"{local.year}-{local.month:02d}", f"{local.year}-Q{(local.month + 2) // 3}",
                f"{local.year}"):
        period = parse(key, zone)
        assert period.start <= now < period.end
