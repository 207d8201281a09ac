"""Compliance of a window of time: a report period (any moment, rebuilt from the register's
timeline) or the live window the overview shows (the last seven days up to now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..policy import loader
from . import compliance, observed, register_at

LIVE_DAYS = 7


@dataclass(frozen=True, slots=True)
class Compliance:
    """A window's hosts in scope, the hosts that reported anything, and each area's result."""

    start: datetime
    end: datetime | None  # None: up to now (the live window)
    as_of: datetime
    scope: dict[str, Any]  # agent id → host row (hostname, os_name, group_name, tags)
    reported: frozenset[str]
    areas: dict[str, compliance.AreaResult]

    def counts(self) -> list[dict[str, object]]:
        """Every area's figures, JSON-safe, in report order."""
        return [r.counts() for r in self.areas.values()]

    def per_group(self) -> dict[str, dict[str, tuple[int, int, int]]]:
        """group ("" for none) → area ("" for "reported anything") → (hosts, checked,
        compliant): the rollup's rows; the groups partition the hosts, so sums are exact."""
        members: dict[str, set[str]] = {}
        for agent_id, row in self.scope.items():
            members.setdefault(row.group_name or "", set()).add(agent_id)
        out: dict[str, dict[str, tuple[int, int, int]]] = {}
        for group, ids in members.items():
            rows = {"": (len(ids), len(ids & self.reported), 0)}
            for area, r in self.areas.items():
                rows[area] = (len(ids), len(ids & r.checked), len(ids & r.compliant))
            out[group] = rows
        return out


def for_period(conn: sa.Connection, start: datetime, end: datetime, as_of: datetime,
               groups: frozenset[str] | None = None,
               problems: list[dict[str, Any]] | None = None,
               scope: dict[str, Any] | None = None,
               part: observed.Slice = observed.WHOLE) -> Compliance:
    """Compliance of [start, end) judged at ``as_of`` (``scope`` and ``problems``: the
    hosts in scope and the register at ``as_of`` when the caller has read them already;
    ``part``: only the hosts of that slice)."""
    if scope is None:
        scope = observed.in_scope(conn, start, end, groups, part)
    newest = observed.newest_in_window(conn, start, end, part)
    if problems is None:
        problems = register_at.problems(conn, loader.current(conn), start, end, as_of, scope,
                                        part)
    failing = [(p["agent_id"], p["area"]) for p in problems if p["unrectified"]]
    return Compliance(start, end, as_of, scope, _reported(newest, scope),
                      compliance.judge(scope, newest, failing))


def running(conn: sa.Connection, start: datetime, end: datetime | None, now: datetime,
            groups: frozenset[str] | None = None, part: observed.Slice = observed.WHOLE
            ) -> Compliance:
    """:func:`for_period` of a window that has not ended (``start`` <= ``now`` < ``end``;
    ``end`` None: up to now, the live window), judged now, from each host's newest
    results in ``host_latest`` and the register as it stands. Judged at ``now``, a
    finding's state and level in the register's timeline are its current ones, and a
    finding that is a problem now was one in the window; so the figures are the
    period's (a test holds them to it)."""
    scope = observed.in_scope(conn, start, end, groups, part)
    newest = observed.newest_since(conn, start, part, end)
    failing = observed.current_problems(conn, loader.current(conn), set(scope), part)
    return Compliance(start, end, now, scope, _reported(newest, scope),
                      compliance.judge(scope, newest, failing))


def live(conn: sa.Connection, now: datetime, groups: frozenset[str] | None = None,
         part: observed.Slice = observed.WHOLE) -> Compliance:
    """Compliance of the last :data:`LIVE_DAYS` days up to ``now``, judged now."""
    return running(conn, now - timedelta(days=LIVE_DAYS), None, now, groups, part)


def _reported(newest: observed.Newest, scope: dict[str, Any]) -> frozenset[str]:
    return frozenset(a for a, _ in newest if a in scope)
