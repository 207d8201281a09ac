"""The rectification register as it stood at a moment: each finding's state, level and
deadline rebuilt from its timeline (``finding_events``), for a period's report.

A finding raised after the period shows, in that period's report, the level it had then;
one fixed after the period shows the state it had at the period's end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..policy.model import Policy, level_name
from ..store.schema import finding_events, findings
from .compliance import LOWEST_PROBLEM_LEVEL, UNRECTIFIED, area_of, is_problem
from .observed import WHOLE, Slice

ACTIVE = (*UNRECTIFIED, "waived")
WORK = ("open", "assigned", "in_progress")
LEVEL_EVENTS = ("opened", "reopened", "level_raised", "level_lowered")
CHUNK = 500


def iso(value: datetime | None) -> str | None:
    """UTC ISO text of an aware datetime (None stays None)."""
    return value.astimezone(UTC).isoformat() if value else None


def state_at(events: list[tuple[datetime, str]], when: datetime) -> str | None:
    """The state the timeline gives just before ``when`` (None: not seen yet)."""
    state = None
    for at, to in events:
        if at >= when:
            break
        state = to
    return state


def level_at(changes: list[tuple[datetime, int, str | None]], when: datetime, level: int,
             due: datetime | None) -> tuple[int, datetime | None]:
    """A finding's level and deadline at ``when``: the current ones unless the timeline
    shows a change after ``when``; then those the last change before it recorded."""
    if not any(at >= when for at, _, _ in changes):
        return level, due
    before = [c for c in changes if c[0] < when]
    if not before:
        return level, due  # opened before levels were kept in the timeline
    _, past_level, past_due = before[-1]
    return past_level, datetime.fromisoformat(past_due) if past_due else None


def _timelines(conn: sa.Connection, ids: list[int], start: datetime, end: datetime
               ) -> tuple[dict[int, list[tuple[datetime, str]]],
                          dict[int, list[tuple[datetime, int, str | None]]], set[int]]:
    states: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    levels: dict[int, list[tuple[datetime, int, str | None]]] = defaultdict(list)
    opened_in: set[int] = set()
    for i in range(0, len(ids), CHUNK):
        for fid, at, action, to, details in conn.execute(
                sa.select(finding_events.c.finding_id, finding_events.c.at,
                          finding_events.c.action, finding_events.c.to_state,
                          finding_events.c.details)
                .where(finding_events.c.finding_id.in_(ids[i:i + CHUNK]),
                       finding_events.c.action.in_(LEVEL_EVENTS) | (
                           (finding_events.c.at < end)
                           & finding_events.c.to_state.is_not(None)))
                .order_by(finding_events.c.id)):
            if isinstance(details, dict) and isinstance(details.get("level"), int):
                levels[fid].append((at, details["level"], details.get("deadline")))
            if to is None or at >= end:
                continue
            states[fid].append((at, to))
            if action in ("opened", "reopened") and at >= start:
                opened_in.add(fid)
    return states, levels, opened_in


# what a problem's line needs: not the evidence, factors or keys (a fleet's whole register
# is read for each report week; those made up most of its bytes)
COLUMNS = (findings.c.id, findings.c.agent_id, findings.c.group_name, findings.c.check_name,
           findings.c.rule_id, findings.c.title, findings.c.subject, findings.c.state,
           findings.c.level, findings.c.owner, findings.c.deadline, findings.c.first_seen)


def problems(conn: sa.Connection, policy: Policy, start: datetime, end: datetime,
             as_of: datetime, scope: dict[str, Any], part: Slice = WHOLE
             ) -> list[dict[str, Any]]:
    """Findings of hosts in ``scope`` (and ``part``) that were problems (level I–IV) at
    some time in [start, end), with state, level and deadline at ``as_of``; most severe
    first, numbered."""
    rows = conn.execute(sa.select(*COLUMNS).where(
        findings.c.first_seen < end,
        sa.or_(findings.c.state.in_(ACTIVE), findings.c.state_changed_at >= start),
        part.where(findings.c.agent_id),
    ).order_by(findings.c.id)).all()
    rows = [r for r in rows if r.agent_id in scope]
    states, levels, opened_in = _timelines(conn, [r.id for r in rows], start, end)
    out = []
    for r in rows:
        events = states.get(r.id) or [(r.first_seen, r.state)]
        at_start = state_at(events, start)
        touched = any(start <= at < end for at, _ in events)
        if not (at_start is None or at_start in ACTIVE or touched):
            continue
        state = state_at(events, as_of) or r.state
        level, due = level_at(levels.get(r.id, []), as_of, r.level, r.deadline)
        if level > LOWEST_PROBLEM_LEVEL:
            continue  # informational at the time: not a problem
        rule = policy.rule(r.rule_id)
        out.append({
            "id": r.id, "agent_id": r.agent_id, "hostname": scope[r.agent_id].hostname,
            "group": r.group_name, "area": area_of(r.check_name, rule.kind if rule else None),
            "rule": r.rule_id, "title": r.title, "subject": r.subject,
            "level": level_name(level), "level_num": level, "owner": r.owner,
            "deadline": iso(due), "state": state,
            "overdue": bool(due and due < as_of and state in WORK),
            "unrectified": is_problem(level, state),
            "first_seen": iso(r.first_seen), "new": r.first_seen >= start,
            "opened_in_period": r.id in opened_in,
        })
    out.sort(key=lambda p: (p["level_num"], not p["overdue"], p["hostname"], p["id"]))
    for n, p in enumerate(out, 1):
        p["no"] = n
    return out
