"""Cron parsing, due checks, splay, catch-up and raised monitoring, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hostpatrol.agent import cron
from hostpatrol.agent.config import BASE_SPEC
from hostpatrol.agent.schedule import LastRuns, resolve, splay_for
from hostpatrol.shared.configfile import ConfigError, validate

T0 = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)  # a Friday


class Weekly:
    name = "patches"
    schedule = "weekly"


class Daily:
    name = "logs"
    schedule = "daily"


class Heartbeat:
    name = "disk"
    schedule = "heartbeat"


CHECKS = (Weekly, Daily, Heartbeat)
NAMES = [c.name for c in CHECKS]


NO_SPLAY = {"splay_seconds": 0, "daily_splay_seconds": 0, "weekly_splay_seconds": 0}


def settings(**changes):
    base = validate({}, BASE_SPEC["schedule"].children)
    base.update(changes)
    return base


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("*/15 * * * *", "2026-11-27T10:07", "2026-11-27T10:15"),
    ("*/15 * * * *", "2026-11-27T10:15", "2026-11-27T10:30"),
    ("0 3 * * 5", "2026-11-27T10:07", "2026-12-04T03:00"),
    ("0 3 * * fri", "2026-11-26T02:00", "2026-11-27T03:00"),
    ("30 6 1 * *", "2026-11-27T10:07", "2026-12-01T06:30"),
    ("0 0 29 2 *", "2026-03-01T00:00", "2028-02-29T00:00"),
    ("0 12 * jan-mar mon", "2026-11-27T10:07", "2027-01-04T12:00"),
    ("0 0 1 * 0", "2026-11-02T00:00", "2026-11-08T00:00"),  # day OR weekday (Vixie)
    ("0 0 * * 7", "2026-11-27T10:07", "2026-11-29T00:00"),  # 7 is Sunday
    ("@daily", "2026-11-27T10:07", "2026-11-28T00:00"),
    ("5-10/5 1,2 * * *", "2026-11-27T01:06", "2026-11-27T01:10"),
    ("59 23 31 12 *", "2026-12-31T23:59", "2027-12-31T23:59"),
])
def test_next_after(expr: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert cron.parse(expr).next_after(start) == datetime.fromisoformat(expected).replace(
        tzinfo=UTC)


@pytest.mark.parametrize(("expr", "hint"), [
    ("* * * *", "expected 5 fields"), ("60 * * * *", "minute value '60'"),
    ("* * * * mon-sun-x", "day of week"), ("*/0 * * * *", "step"),
    ("5-1 * * * *", "backwards"), ("0 0 31 2 *", "never fires"), ("0 0 * foo *", "month"),
])
def test_bad_cron_is_refused_with_the_reason(expr: str, hint: str) -> None:
    with pytest.raises(cron.CronError, match=hint):
        cron.parse(expr)


def test_never_run_checks_are_due_at_once() -> None:
    sched = resolve(settings(**NO_SPLAY), "a", NAMES)
    assert sched.due(CHECKS, {}, T0) == list(CHECKS)
    assert sched.run_label(CHECKS) == "weekly"
    assert sched.run_label([Heartbeat]) == "heartbeat"


def test_due_follows_each_schedule() -> None:
    sched = resolve(settings(**NO_SPLAY), "a", NAMES)
    runs = {c.name: T0 for c in CHECKS}
    assert sched.due(CHECKS, runs, T0 + timedelta(minutes=5)) == []
    assert sched.due(CHECKS, runs, T0 + timedelta(minutes=8)) == [Heartbeat]
    tomorrow_2am = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert sched.due(CHECKS, runs, tomorrow_2am) == [Daily, Heartbeat]
    next_friday = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    assert sched.next_due(Weekly, T0, T0) == next_friday
    assert Weekly in sched.due(CHECKS, runs, next_friday)


def test_missed_weekly_runs_catch_up_once_not_a_burst() -> None:
    sched = resolve(settings(**NO_SPLAY), "a", NAMES)
    last = T0 - timedelta(weeks=3)  # host was down three weeks
    assert sched.due([Weekly], {"patches": last}, T0) == [Weekly]
    # after the catch-up run, nothing more until the next Friday slot
    assert sched.due([Weekly], {"patches": T0}, T0 + timedelta(minutes=1)) == []
    assert sched.next_due(Weekly, T0, T0) == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def test_splay_is_fixed_per_host_bounded_and_shifts_the_slot() -> None:
    a, b = splay_for("agent-a", 900), splay_for("agent-b", 900)
    assert a == splay_for("agent-a", 900)
    assert timedelta(0) <= a <= timedelta(seconds=900)
    assert a != b
    assert splay_for("agent-a", 0) == timedelta(0)
    sched = resolve(settings(splay_seconds=900, weekly_splay_seconds=900), "agent-a", NAMES)
    due = sched.next_due(Weekly, T0, T0)
    assert due == datetime(2026, 12, 4, 3, 0, tzinfo=UTC) + a
    assert sched.due([Weekly], {"patches": T0}, due - timedelta(seconds=1)) == []
    assert sched.due([Weekly], {"patches": T0}, due) == [Weekly]
    assert sched.due([Weekly], {"patches": due}, due + timedelta(days=6)) == []


class Custom:
    name = "backups"
    schedule = "30 6 * * *"


@pytest.mark.parametrize("agent_id", ["agent-a", "agent-b", "主机-7", ""])
def test_the_daily_and_weekly_runs_have_their_own_wider_splays(agent_id: str) -> None:
    """By default the heartbeat shifts up to 15 minutes, the daily run up to an hour and
    the weekly inspection up to four hours, each fixed per host; a check given a named
    schedule takes that schedule's splay, cron text the heartbeat's."""
    sched = resolve(settings(), agent_id, [*NAMES, Custom.name])
    assert sched.splay == splay_for(agent_id, 900)
    assert sched.splays == {"daily": splay_for(agent_id, 3600),
                            "weekly": splay_for(agent_id, 14400)}
    friday = datetime(2026, 12, 4, tzinfo=UTC)
    assert sched.next_due(Weekly, T0, T0) == friday + timedelta(hours=3) + sched.splays[
        "weekly"]
    assert sched.next_due(Daily, T0, T0) == datetime(2026, 11, 28, 2, tzinfo=UTC) + \
        sched.splays["daily"]
    assert sched.next_due(Heartbeat, T0, T0) == datetime(2026, 11, 27, 10, 15,
                                                         tzinfo=UTC) + sched.splay
    assert sched.next_due(Custom, T0, T0) == datetime(2026, 11, 28, 6, 30,
                                                      tzinfo=UTC) + sched.splay
    moved = resolve(settings(checks={"logs": "weekly"}), agent_id, NAMES)
    assert moved.splay_of(Daily) == moved.splays["weekly"]
    # a weekly run that just happened is not due again within the week, whatever its splay
    due = sched.next_due(Weekly, T0, T0)
    assert sched.due([Weekly], {"patches": due}, due + timedelta(days=6, hours=23)) == []
    assert sched.due([Weekly], {"patches": due}, due + timedelta(days=7)) == [Weekly]


def test_the_weekly_splays_of_a_fleet_spread_over_four_hours() -> None:
    """10,000 hosts' weekly inspections: none before 03:00 or after 07:00, and no quarter
    hour of the four holding more than twice its share."""
    spread = [splay_for(f"host-{i}", 14400) for i in range(10_000)]
    assert min(spread) >= timedelta(0)
    assert max(spread) <= timedelta(hours=4)
    quarters = [0] * 17
    for s in spread:
        quarters[int(s.total_seconds() // 900)] += 1
    assert max(quarters) <= 2 * 10_000 / 16


def test_raised_level_shortens_every_named_schedule() -> None:
    normal = resolve(settings(**NO_SPLAY), "a", NAMES)
    raised = resolve(settings(**NO_SPLAY, monitoring_level="raised"), "a", NAMES)
    for check in CHECKS:
        assert raised.next_due(check, T0, T0) < normal.next_due(check, T0, T0)
    assert raised.next_due(Weekly, T0, T0) - T0 <= timedelta(days=1)
    # the policy can raise a host; it cannot lower a host raised locally
    by_policy = resolve(settings(**NO_SPLAY), "a", NAMES, {"monitoring_level": "raised"})
    assert by_policy.level == "raised"
    local = resolve(settings(monitoring_level="raised"), "a", NAMES,
                    {"monitoring_level": "normal"})
    assert local.level == "raised"


def test_per_check_schedules_from_config_and_policy() -> None:
    sched = resolve(settings(**NO_SPLAY, checks={"patches": "daily",
                                                      "logs": "30 6 * * *"}), "a", NAMES)
    assert sched.label(Weekly) == "daily"
    assert sched.next_due(Daily, T0, T0) == datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
    assert sched.run_label([Daily]) == "custom"
    policy = {"schedules": {"daily": "0 1 * * *"}, "checks": {"patches": {"schedule": "weekly"}}}
    sched = resolve(settings(**NO_SPLAY, checks={"patches": "daily"}), "a", NAMES, policy)
    assert sched.label(Weekly) == "weekly"
    assert sched.next_due(Daily, T0, T0) == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    newer = {"checks": {"from_the_future": {"schedule": "daily"}}}
    assert resolve(settings(), "a", NAMES, newer).per_check == {}


def test_bad_schedule_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"schedule.checks.nosuch: unknown check"):
        resolve(settings(checks={"nosuch": "daily"}), "a", NAMES)
    with pytest.raises(ConfigError, match=r"schedule.checks.logs: cron"):
        resolve(settings(checks={"logs": "every day"}), "a", NAMES)
    with pytest.raises(ConfigError, match=r"schedule.weekly: cron"):
        resolve(settings(weekly="0 3 * *"), "a", NAMES)


def test_last_runs_persist(tmp_path) -> None:
    runs = LastRuns(tmp_path)
    assert runs.load() == {}
    runs.record(["disk", "logs"], T0)
    runs.record(["disk"], T0 + timedelta(minutes=15))
    again = LastRuns(tmp_path).load()
    assert again == {"disk": T0 + timedelta(minutes=15), "logs": T0}
    (tmp_path / "last_run.json").write_text("{broken")
    assert LastRuns(tmp_path).load() == {}  # unreadable: all due once (safe side)
