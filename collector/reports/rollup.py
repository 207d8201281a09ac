"""The overview's compliance figures, kept in ``rollup_compliance`` so pages only read them.

Two kinds of window, per group (viewers see the sum over their groups):

- ``live``: the last seven days up to the time it was computed (:func:`windows.live`),
  recomputed when older than :data:`LIVE_TTL`;
- ``week:<ISO week>@<zone>``: one report week in the report's time zone
  (:func:`windows.for_period`), the overview's weekly trend. The running week is computed
  again when older than :data:`CURRENT_WEEK_TTL`; a week that had ended when it was
  computed is computed again only when reports for it arrived after that (late data: an
  air-gapped import, a backlog after an outage), found by :func:`late_weeks` among the
  reports received since the last scan (an index on ``received_at``), so a closed week is
  counted once per arrival of its data, not on every refresh.

The background worker refreshes both (:func:`refresh`); a page that finds one missing or
stale computes it itself. Either judges :data:`SLICE` hosts at a time and adds up the
groups' figures (:func:`_per_group`), so its memory is a slice's, not the fleet's; the
running week is read as the live window is (:func:`windows.running`: each host's newest
results, not a scan of the week's). Same definition as the report (:mod:`compliance`):
the live window ending at a week's end gives that week's report figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..store.schema import reports, rollup_compliance, rollups
from ..store.sql import in_scope
from . import compliance, observed, windows
from .period import Period, current_week, parse

LIVE = "live"
LIVE_TTL = timedelta(seconds=60)
CURRENT_WEEK_TTL = timedelta(minutes=10)
ANY = ""  # the rollup's area for "reported anything in the window"
LATE_SCAN = "compliance:late-scan"  # rollups row: when late reports were last looked for
COMMIT_LAG = timedelta(minutes=5)  # a report's received_at precedes its commit by this at most
RUN_SLACK = timedelta(hours=1)  # a result started in a week may come in a report made after it
SLICE = 2_000  # hosts judged at once: ~15 MB of Python objects at the peak

Counts = dict[str, dict[str, tuple[int, int, int]]]  # group → area → (hosts, checked, compliant)


def week_keys(now: datetime, timezone: str, weeks: int) -> list[Period]:
    """The last ``weeks`` report weeks up to ``now``'s, oldest first."""
    current = parse(current_week(now, timezone), timezone)
    out = [current]
    while len(out) < weeks:  # three days before a Monday: the week before
        out.append(parse(current_week(out[-1].start - timedelta(days=3), timezone), timezone))
    return out[::-1]


def _name(window: str) -> str:
    return f"compliance:{window}"[:64]


def _add(sums: dict[str, tuple[int, int, int]], more: dict[str, tuple[int, int, int]]) -> None:
    for area, (h, c, k) in more.items():
        h0, c0, k0 = sums.get(area, (0, 0, 0))
        sums[area] = (h0 + h, c0 + c, k0 + k)


def _per_group(conn: sa.Connection,
               judge: Callable[[sa.Connection, observed.Slice], windows.Compliance],
               size: int = SLICE) -> Counts:
    """:meth:`windows.Compliance.per_group` of the whole fleet, judged a slice of ``size``
    hosts at a time (a host's figures depend on its own results and findings alone)."""
    out: Counts = {}
    for part in observed.slices(conn, size):
        for group, areas in judge(conn, part).per_group().items():
            _add(out.setdefault(group, {}), areas)
    # an area (a newer agent's check) seen in some slices only: every group has it, over
    # all of the group's hosts, as when the fleet is judged at once
    seen = {area for sums in out.values() for area in sums}
    for sums in out.values():
        hosts = sums[ANY][0]
        for area in seen:
            _, c, k = sums.get(area, (0, 0, 0))
            sums[area] = (hosts, c, k)
    return out


def _store(conn: sa.Connection, window: str, counts: Counts, now: datetime) -> None:
    conn.execute(rollup_compliance.delete().where(rollup_compliance.c.window == window))
    rows = [{"window": window, "group_name": group[:128], "area": area, "hosts": h,
             "checked": c, "compliant": k}
            for group, areas in counts.items()
            for area, (h, c, k) in areas.items()]
    if rows:
        conn.execute(rollup_compliance.insert(), rows)
    name = _name(window)
    conn.execute(rollups.delete().where(rollups.c.name == name))
    conn.execute(rollups.insert().values(name=name, computed_at=now))


def _computed(conn: sa.Connection, windows_: list[str]) -> dict[str, datetime]:
    names = {_name(w): w for w in windows_}
    return {names[n]: at for n, at in conn.execute(
        sa.select(rollups.c.name, rollups.c.computed_at).where(rollups.c.name.in_(names)))}


def _week_window(p: Period) -> str:
    return f"week:{p.key}@{p.start.tzinfo}"


def late_weeks(conn: sa.Connection, periods: dict[str, Period], done: dict[str, datetime],
               since: datetime | None) -> set[str]:
    """The closed weeks (computed after they ended) that reports created in them reached
    after they were computed; only reports received after ``since`` are looked at."""
    out = set()
    for window, p in periods.items():
        at = done.get(window)
        if at is None or at < p.end:
            continue  # not computed yet, or computed while running: the TTL rule applies
        after = at if since is None else max(at, since)
        if conn.execute(sa.select(reports.c.id).where(
                reports.c.received_at > after, reports.c.created_at >= p.start,
                reports.c.created_at < p.end + RUN_SLACK).limit(1)).first() is not None:
            out.add(window)
    return out


def _ensure(engine: sa.Engine, now: datetime, timezone: str, weeks: int,
            live_ttl: timedelta, *, scan: bool = False) -> set[str]:
    periods = {_week_window(p): p for p in week_keys(now, timezone, weeks)} if weeks else {}
    with engine.connect() as conn:
        done = _computed(conn, [LIVE, *periods])
        last_scan = conn.execute(sa.select(rollups.c.computed_at).where(
            rollups.c.name == LATE_SCAN)).scalar()
        late = late_weeks(conn, periods, done,
                          None if last_scan is None else last_scan - COMMIT_LAG)
    at = done.get(LIVE)
    if at is None or now - at > live_ttl:
        _refresh(engine, LIVE, lambda conn, part: windows.live(conn, now, part=part), now)
    for window, p in periods.items():
        at = done.get(window)
        if at is None or (at < p.end and now - at > CURRENT_WEEK_TTL) or window in late:
            _refresh(engine, window, _judge(p, now), now)
    if scan and periods:  # the background moves the scan on; pages only read
        with engine.begin() as conn:
            conn.execute(rollups.delete().where(rollups.c.name == LATE_SCAN))
            conn.execute(rollups.insert().values(name=LATE_SCAN, computed_at=now))
    return late


def _judge(p: Period, now: datetime, groups: frozenset[str] | None = None
           ) -> Callable[[sa.Connection, observed.Slice], windows.Compliance]:
    if p.start <= now < p.end:  # the running week: its hosts' newest results
        return lambda conn, part: windows.running(conn, p.start, p.end, now, groups, part)
    return lambda conn, part: windows.for_period(conn, p.start, p.end, min(p.end, now),
                                                 groups=groups, part=part)


def period_figures(conn: sa.Connection, p: Period, now: datetime,
                   groups: frozenset[str] | None) -> dict[str, Any]:
    """A report period's figures (hosts in scope, reported, every area, overall) for
    ``groups`` (None: all), judged at ``min(p.end, now)`` a slice of hosts at a time: what
    the API answers without holding a large fleet's results at once."""
    sums: dict[str, tuple[int, int, int]] = dict.fromkeys((ANY, *compliance.AREAS), (0, 0, 0))
    for areas in _per_group(conn, _judge(p, now, groups)).values():
        _add(sums, areas)
    return _figures(sums)


def _refresh(engine: sa.Engine, window: str,
             judge: Callable[[sa.Connection, observed.Slice], windows.Compliance],
             now: datetime) -> None:
    with engine.connect() as conn:  # read apart: the write below is a moment
        counts = _per_group(conn, judge)
    with engine.begin() as conn:  # its own transaction: the page's only reads
        _store(conn, window, counts, now)


def refresh(engine: sa.Engine, now: datetime, timezone: str, weeks: int = 12) -> set[str]:
    """Background job: bring the live window and the last ``weeks`` report weeks up to date
    (closed weeks that late reports reached included); return those recomputed for that."""
    return _ensure(engine, now, timezone, weeks, LIVE_TTL / 2, scan=True)


def _sums(conn: sa.Connection, window: str, groups: frozenset[str] | None
          ) -> dict[str, tuple[int, int, int]]:
    q = (sa.select(rollup_compliance.c.area, sa.func.sum(rollup_compliance.c.hosts),
                   sa.func.sum(rollup_compliance.c.checked),
                   sa.func.sum(rollup_compliance.c.compliant))
         .where(rollup_compliance.c.window == window,
                in_scope(rollup_compliance.c.group_name, groups))
         .group_by(rollup_compliance.c.area))
    return {a: (int(h), int(c), int(k)) for a, h, c, k in conn.execute(q)}


def _figures(sums: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    hosts, reported, _ = sums.get(ANY, (0, 0, 0))
    order = [a for a in compliance.AREAS if a in sums]
    order += sorted(a for a in sums if a not in compliance.AREAS and a != ANY)
    areas = [{"area": a, "hosts": sums[a][0], "checked": sums[a][1],
              "compliant": sums[a][2], "coverage": compliance.percent(sums[a][1], sums[a][0]),
              "rate": compliance.percent(sums[a][2], sums[a][1])} for a in order]
    checked = sum(a["checked"] for a in areas)
    compliant = sum(a["compliant"] for a in areas)
    return {"hosts": hosts, "reported": reported, "areas": areas,
            "overall": {"checked": checked, "compliant": compliant,
                        "rate": compliance.percent(compliant, checked)}}


def live_figures(conn: sa.Connection, groups: frozenset[str] | None, now: datetime
                 ) -> dict[str, Any]:
    """The live window's figures for ``groups`` (None: all), at most :data:`LIVE_TTL` old."""
    _ensure(conn.engine, now, "UTC", 0, LIVE_TTL)
    at = _computed(conn, [LIVE]).get(LIVE, now)
    return {**_figures(_sums(conn, LIVE, groups)), "as_of": at,
            "start": at - timedelta(days=windows.LIVE_DAYS)}


def weekly(conn: sa.Connection, groups: frozenset[str] | None, now: datetime,
           timezone: str, weeks: int) -> list[dict[str, Any]]:
    """Per report week (oldest first): hosts that reported and the overall compliance rate
    (None for a week nobody reported in: there is nothing to rate)."""
    _ensure(conn.engine, now, timezone, weeks, LIVE_TTL)
    out = []
    for p in week_keys(now, timezone, weeks):
        f = _figures(_sums(conn, _week_window(p), groups))
        out.append({"period": p.key, "week_start": p.start, "hosts": f["reported"],
                    "compliance": f["overall"]["rate"] if f["reported"] else None})
    return out
