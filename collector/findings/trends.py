"""Findings over time: opened and rectified per week, time to fix per level.

"Opened" counts a finding's "opened" and "reopened" events; "rectified" the moves from an
unrectified state (open, assigned, in progress, fixed) to verified or closed — the report's
meaning of 整改 (a waiver is not a fix). Time to fix is from the opening (or reopening)
before the rectification to the rectification itself.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..store.schema import finding_events, findings

OPENING = ("opened", "reopened")
UNRECTIFIED = ("open", "assigned", "in_progress", "fixed")
RECTIFIED = ("verified", "closed")
MAX_FIXES = 50_000  # rectifications read for the time-to-fix table (a bound per view)


@dataclass(frozen=True, slots=True)
class WeekFlow:
    """One week's findings opened and rectified."""

    key: str
    start: datetime
    opened: int
    rectified: int


@dataclass(frozen=True, slots=True)
class FixTime:
    """Rectifications of one level in the window: how many, median and 90th percentile."""

    level: int
    fixed: int
    median: timedelta
    p90: timedelta


def _rectifying() -> sa.ColumnElement[bool]:
    return sa.and_(finding_events.c.to_state.in_(RECTIFIED),
                   finding_events.c.from_state.in_(UNRECTIFIED))


def weekly_flow(conn: sa.Connection, weeks: list[tuple[str, datetime, datetime]],
                scope: sa.ColumnElement[bool]) -> list[WeekFlow]:
    """Per (key, start, end) week: findings of ``scope`` opened and rectified, one query."""
    if not weeks:
        return []
    cols = []
    for i, (_key, start, end) in enumerate(weeks):
        inside = sa.and_(finding_events.c.at >= start, finding_events.c.at < end)
        cols.append(sa.func.sum(sa.case((sa.and_(inside, finding_events.c.action.in_(
            OPENING)), 1), else_=0)).label(f"o{i}"))
        cols.append(sa.func.sum(sa.case((sa.and_(inside, _rectifying()), 1), else_=0))
                    .label(f"r{i}"))
    row = conn.execute(sa.select(*cols).select_from(
        finding_events.join(findings, findings.c.id == finding_events.c.finding_id))
        .where(finding_events.c.at >= weeks[0][1], finding_events.c.at < weeks[-1][2],
               scope)).one()
    return [WeekFlow(key, start, int(row[2 * i] or 0), int(row[2 * i + 1] or 0))
            for i, (key, start, _end) in enumerate(weeks)]


def fix_durations(fixes: list[tuple[int, datetime]],
                  openings: dict[int, list[datetime]]) -> list[timedelta]:
    """For each (finding, rectified at): the time since that finding's latest opening
    before it (a rectification without one in ``openings`` is left out)."""
    out = []
    for fid, at in fixes:
        before = [t for t in openings.get(fid, ()) if t <= at]
        if before:
            out.append(at - max(before))
    return out


def summarize(level: int, durations: list[timedelta]) -> FixTime:
    """Count, median and 90th percentile of some durations (none: zeros)."""
    if not durations:
        return FixTime(level, 0, timedelta(0), timedelta(0))
    seconds = sorted(d.total_seconds() for d in durations)
    p90 = seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))]
    return FixTime(level, len(seconds), timedelta(seconds=statistics.median(seconds)),
                   timedelta(seconds=p90))


def time_to_fix(conn: sa.Connection, start: datetime, end: datetime,
                scope: sa.ColumnElement[bool]) -> list[FixTime]:
    """Per level (most severe first): findings of ``scope`` rectified in [start, end)."""
    fixes = conn.execute(
        sa.select(finding_events.c.finding_id, finding_events.c.at, findings.c.level)
        .join(findings, findings.c.id == finding_events.c.finding_id)
        .where(finding_events.c.at >= start, finding_events.c.at < end, _rectifying(), scope)
        .order_by(finding_events.c.at.desc()).limit(MAX_FIXES)).all()
    ids = sorted({f.finding_id for f in fixes})
    openings: dict[int, list[datetime]] = {}
    for chunk in (ids[i:i + 900] for i in range(0, len(ids), 900)):  # SQLite's bind limit
        for fid, at in conn.execute(sa.select(finding_events.c.finding_id, finding_events.c.at)
                                    .where(finding_events.c.finding_id.in_(chunk),
                                           finding_events.c.action.in_(OPENING))):
            openings.setdefault(fid, []).append(at)
    levels: dict[int, list[tuple[int, datetime]]] = {}
    for f in fixes:
        levels.setdefault(f.level, []).append((f.finding_id, f.at))
    return [summarize(level, fix_durations(levels[level], openings)) for level in sorted(levels)]
