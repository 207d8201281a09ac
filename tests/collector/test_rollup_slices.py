"""The overview's compliance rollup judges the fleet a slice of hosts at a time and reads the
running week from each host's newest results: its figures are those of the whole fleet
judged at once, and the running week's are the report's for that week judged now (on
SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import report_fleet
import sqlalchemy as sa
from forge import disk
from hostpatrol.collector.reports import compliance, observed, rollup, windows
from hostpatrol.collector.reports.period import parse
from hostpatrol.collector.store.schema import agents, rollup_compliance

PERIOD = parse("2026-W48", "Asia/Shanghai")
FRIDAY = PERIOD.start + timedelta(days=4, hours=11)  # after every seeded report and change
SIZES = (1, 2, 3, 7, 16, 39, 40, 41, 2_000)


def _figures(result: windows.Compliance) -> tuple:
    return (frozenset(result.scope), result.reported,
            {a: (r.hosts, r.checked, r.compliant) for a, r in result.areas.items()})


def _stored(engine: sa.Engine, window: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    with engine.connect() as conn:
        return {(r.group_name, r.area): (r.hosts, r.checked, r.compliant)
                for r in conn.execute(sa.select(rollup_compliance)
                                      .where(rollup_compliance.c.window == window))}


def test_slices_hold_every_host_once(engine) -> None:
    fleet = report_fleet.seed(engine, PERIOD, hosts=23)
    with engine.connect() as conn:
        every = set(conn.execute(sa.select(agents.c.id)).scalars())
        assert every == {h.agent_id for h in fleet.hosts.values()}
        for size in (1, 4, 22, 23, 24, 100):
            parts = list(observed.slices(conn, size))
            seen = [set(conn.execute(sa.select(agents.c.id).where(p.where(agents.c.id)))
                        .scalars()) for p in parts]
            assert set().union(*seen) == every, size
            assert sum(map(len, seen)) == len(every), size  # no host in two slices
            assert all(len(s) <= size for s in seen)
            assert len(parts) == len(every) // size + 1  # the last is open-ended
            assert parts[-1].upto is None


def test_sliced_figures_are_the_whole_fleets(engine) -> None:
    report_fleet.seed(engine, PERIOD, hosts=40)
    judges = {
        "live": lambda conn, part: windows.live(conn, PERIOD.end, part=part),
        "closed week": lambda conn, part: windows.for_period(
            conn, PERIOD.start, PERIOD.end, PERIOD.end, part=part),
        "running week": lambda conn, part: windows.running(
            conn, PERIOD.start, PERIOD.end, FRIDAY, part=part),
    }
    with engine.connect() as conn:
        for name, judge in judges.items():
            whole = judge(conn, observed.WHOLE).per_group()
            assert whole.keys() == {"branch-a", "branch-b"}
            assert any(c != k for areas in whole.values() for _, c, k in areas.values())
            for size in SIZES:
                assert rollup._per_group(conn, judge, size) == whole, (name, size)


def test_an_area_only_some_slices_saw_counts_every_host(engine) -> None:
    fleet = report_fleet.seed(engine, PERIOD, hosts=12)
    lone = next(h for n, h in fleet.hosts.items() if n not in fleet.silent)
    lone.send({"newcheck": {"value": 1}}, FRIDAY - timedelta(hours=1))
    judge = lambda conn, part: windows.running(conn, PERIOD.start, PERIOD.end,  # noqa: E731
                                               FRIDAY, part=part)
    with engine.connect() as conn:
        whole = judge(conn, observed.WHOLE).per_group()
        group = conn.execute(sa.select(agents.c.group_name)
                             .where(agents.c.id == lone.agent_id)).scalar()
        assert whole[group]["newcheck"][:2] == (whole[group][""][0], 1)
        assert rollup._per_group(conn, judge, 1) == whole


def test_the_running_week_is_the_reports_week_judged_now(engine) -> None:
    fleet = report_fleet.seed(engine, PERIOD, hosts=40)
    with engine.connect() as conn:
        for now in (PERIOD.start + timedelta(hours=1), FRIDAY, PERIOD.end - timedelta(
                minutes=10)):
            assert _figures(windows.running(conn, PERIOD.start, PERIOD.end, now)) == \
                _figures(windows.for_period(conn, PERIOD.start, PERIOD.end, now)), now
    # a host whose clock runs ahead: its newest result (the check failed to run) starts
    # after the week ends, which the week does not see (its earlier result is the week's)
    name, ahead = next((n, h) for n, h in fleet.hosts.items()
                       if n not in fleet.silent and n not in fleet.critical)
    now = PERIOD.end - timedelta(minutes=2)
    ahead.send({"disk": disk(99.0)}, PERIOD.end + timedelta(minutes=1), status="error",
               received=now)
    with engine.connect() as conn:
        run = windows.running(conn, PERIOD.start, PERIOD.end, now)
        week = windows.for_period(conn, PERIOD.start, PERIOD.end, now)
        newest = observed.newest_since(conn, PERIOD.start, end=PERIOD.end)
        assert newest == observed.newest_in_window(conn, PERIOD.start, PERIOD.end)
    assert newest[(ahead.agent_id, "disk")] == "ok"
    assert ahead.agent_id in run.areas["disk"].checked
    assert _figures(run) == _figures(week)


def test_the_background_stores_the_sliced_figures(engine, monkeypatch) -> None:
    report_fleet.seed(engine, PERIOD, hosts=30)
    monkeypatch.setattr(rollup, "SLICE", 4)
    window = rollup._week_window(PERIOD)
    with engine.connect() as conn:
        expected = {(g, a): v for g, areas in windows.running(
            conn, PERIOD.start, PERIOD.end, FRIDAY).per_group().items()
            for a, v in areas.items()}
    rollup.refresh(engine, FRIDAY, "Asia/Shanghai", weeks=1)
    assert _stored(engine, window) == expected
    assert _stored(engine, rollup.LIVE)  # and the live window beside it


@pytest.mark.parametrize("size", [0, -1])
def test_a_slice_holds_one_host_at_least(engine, size) -> None:
    with engine.connect() as conn, pytest.raises(ValueError, match="1 or more"):
        list(observed.slices(conn, size))


@pytest.mark.parametrize("groups", [None, frozenset({"branch-a"}), frozenset({"nobody"})])
def test_the_apis_period_figures_are_the_reports(engine, monkeypatch, groups) -> None:
    report_fleet.seed(engine, PERIOD, hosts=30)
    monkeypatch.setattr(rollup, "SLICE", 4)
    month = parse("2026-11", "Asia/Shanghai")
    with engine.connect() as conn:
        for p, now in ((PERIOD, PERIOD.end + timedelta(days=30)), (PERIOD, FRIDAY),
                       (month, FRIDAY)):
            whole = windows.for_period(conn, p.start, p.end, min(p.end, now), groups=groups)
            got = rollup.period_figures(conn, p, now, groups)
            assert got["hosts"] == len(whole.scope)
            assert got["reported"] == len(whole.reported)
            assert got["areas"] == whole.counts(), (p.key, now)
            assert got["overall"] == compliance.overall(whole.areas.values())
            assert (got["hosts"] == 0) == (groups == frozenset({"nobody"}))
