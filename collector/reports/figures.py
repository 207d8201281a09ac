"""The report's figures for a period, computed from stored results and the findings register.

Everything the report states is here, as plain JSON-safe data, so an approved report can
be frozen (canonical JSON + sha256) and rendered again byte for byte.

Definitions (the report states them too):
- scope: hosts approved before the period ended and not revoked before it began;
  terminals are hosts tagged ``terminal`` or running a desktop OS (by the newest inventory:
  Windows other than Server, macOS, Kylin/UOS desktop, Deepin, openKylin; without one, by
  the OS name); every other host is a server (tag ``server`` forces it). Xinchuang (信创):
  hosts whose newest inventory shows a domestic OS (``hostpatrol.shared.osfamily``).
- checked (per area): hosts in scope with at least one applicable result (not skipped,
  not an error) of the area's check in the period; coverage = checked / hosts in scope.
- passed: checked hosts without an unrectified finding of the area at the end of the
  period (``as_of`` = the period's end, or now while it runs).
- problems: findings (levels I–IV) active at some time in the period, with their state,
  level and deadline at ``as_of`` rebuilt from each finding's timeline (a finding raised
  after the period shows, in that period's report, the level it had then).
- incidents: findings of level I or II opened or reopened in the period.
- verdict: pass when no level I–II finding is unrectified at ``as_of`` and none is overdue.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..policy import loader
from ..policy.model import level_name
from ..store import osfamilies
from ..store.schema import agents, check_results, finding_events, findings, host_profiles
from .period import Period

AREAS = ("disk", "patches", "antivirus", "logs", "accounts", "ports", "backups", "isolation",
         "software_policy", "time", "firewall", "inventory", "hardware", "reporting")
ACTIVE = ("open", "assigned", "in_progress", "fixed", "waived")
WORK = ("open", "assigned", "in_progress")
UNRECTIFIED = (*WORK, "fixed")
RESOLVED = ("verified", "closed")
MAJOR = 2
DESKTOP_MARKERS = ("macos", "mac os", "darwin")


LEVEL_EVENTS = ("opened", "reopened", "level_raised", "level_lowered")


def host_class(os_name: str | None, tags: list[str] | None,
               desktop: bool | None = None) -> str:
    """``server`` or ``terminal`` (tags win; then the inventory's desktop flag, so a Kylin or
    UOS desktop is a terminal; else the OS name decides)."""
    tags = tags or []
    if "terminal" in tags:
        return "terminal"
    if "server" in tags:
        return "server"
    if desktop is not None:
        return "terminal" if desktop else "server"
    name = (os_name or "").lower()
    if name.startswith("windows") and "server" not in name:
        return "terminal"
    return "terminal" if any(m in name for m in DESKTOP_MARKERS) else "server"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _scope(conn: sa.Connection, period: Period) -> dict[str, sa.Row]:
    rows = conn.execute(
        sa.select(agents.c.id, agents.c.hostname, agents.c.os_name, agents.c.group_name,
                  host_profiles.c.tags, agents.c.os_family, agents.c.os_distro,
                  agents.c.os_desktop)
        .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
        .where(agents.c.status != "pending", agents.c.enrolled_at < period.end,
               sa.or_(agents.c.revoked_at.is_(None), agents.c.revoked_at >= period.start))
    ).all()
    return {r.id: r for r in rows}


def _checked(conn: sa.Connection, period: Period, scope: dict[str, sa.Row]
             ) -> dict[str, set[str]]:
    rows = conn.execute(
        sa.select(check_results.c.check_name, check_results.c.agent_id).distinct()
        .where(check_results.c.started_at >= period.start,
               check_results.c.started_at < period.end,
               check_results.c.status.not_in(("skipped", "error")))).all()
    out: dict[str, set[str]] = defaultdict(set)
    for check, agent_id in rows:
        if agent_id in scope:
            out[check].add(agent_id)
    return out


def _state_at(events: list[tuple[datetime, str]], when: datetime) -> str | None:
    state = None
    for at, to in events:
        if at >= when:
            break
        state = to
    return state


def _level_at(changes: list[tuple[datetime, int, str | None]], when: datetime, level: int,
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


def _findings(conn: sa.Connection, period: Period, as_of: datetime,
              scope: dict[str, sa.Row]) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(findings).where(
        findings.c.first_seen < period.end, findings.c.level <= 4,
        sa.or_(findings.c.state.in_(ACTIVE), findings.c.state_changed_at >= period.start),
    ).order_by(findings.c.id)).all()
    rows = [r for r in rows if r.agent_id in scope]
    timeline: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    opened_in: set[int] = set()
    ids = [r.id for r in rows]
    levels: dict[int, list[tuple[datetime, int, str | None]]] = defaultdict(list)
    for i in range(0, len(ids), 500):
        for fid, at, action, to, details in conn.execute(
                sa.select(finding_events.c.finding_id, finding_events.c.at,
                          finding_events.c.action, finding_events.c.to_state,
                          finding_events.c.details)
                .where(finding_events.c.finding_id.in_(ids[i:i + 500]),
                       finding_events.c.action.in_(LEVEL_EVENTS) | (
                           (finding_events.c.at < period.end)
                           & finding_events.c.to_state.is_not(None)))
                .order_by(finding_events.c.id)):
            if isinstance(details, dict) and isinstance(details.get("level"), int):
                levels[fid].append((at, details["level"], details.get("deadline")))
            if to is None or at >= period.end:
                continue
            timeline[fid].append((at, to))
            if action in ("opened", "reopened") and at >= period.start:
                opened_in.add(fid)
    policy = loader.current(conn)
    out = []
    for r in rows:
        events = timeline.get(r.id) or [(r.first_seen, r.state)]
        at_start = _state_at(events, period.start)
        touched = any(period.start <= at < period.end for at, _ in events)
        if not (at_start is None or at_start in ACTIVE or touched):
            continue
        state = _state_at(events, as_of) or r.state
        level, due = _level_at(levels.get(r.id, []), as_of, r.level, r.deadline)
        rule = policy.rule(r.rule_id)
        checkin = r.check_name == "*" or (rule is not None and rule.kind == "checkin")
        out.append({
            "id": r.id, "agent_id": r.agent_id, "hostname": scope[r.agent_id].hostname,
            "group": r.group_name, "area": "reporting" if checkin else r.check_name,
            "rule": r.rule_id, "title": r.title, "subject": r.subject,
            "level": level_name(level), "level_num": level, "owner": r.owner,
            "backup_owner": r.backup_owner, "deadline": _iso(due), "state": state,
            "overdue": bool(due and due < as_of and state in WORK),
            "first_seen": _iso(r.first_seen), "new": r.first_seen >= period.start,
            "incident": level <= MAJOR and r.id in opened_in,
        })
    out.sort(key=lambda p: (p["level_num"], not p["overdue"], p["hostname"], p["id"]))
    for n, p in enumerate(out, 1):
        p["no"] = n
    return out


def _areas(scope: dict[str, sa.Row], checked: dict[str, set[str]],
           problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failing: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in problems:
        if p["state"] in UNRECTIFIED:
            failing[p["area"]][p["title"]].add(p["agent_id"])
    out = []
    total = len(scope)
    for area in AREAS:
        hosts = set(scope) if area == "reporting" else checked.get(area, set())
        bad = set().union(*failing[area].values()) if failing[area] else set()
        passed = len(hosts - bad)
        out.append({
            "area": area, "checked": len(hosts), "passed": passed,
            "coverage": round(100.0 * len(hosts) / total, 1) if total else None,
            "pass_rate": round(100.0 * passed / len(hosts), 1) if hosts else None,
            "issues": [{"title": t, "hosts": len(h)} for t, h in
                       sorted(failing[area].items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        })
    return out


def compute(conn: sa.Connection, period: Period, now: datetime) -> dict[str, Any]:
    """Every figure of the report for ``period`` as of ``now`` (JSON-safe)."""
    as_of = min(period.end, now)
    scope = _scope(conn, period)
    classes = [host_class(r.os_name, r.tags, r.os_desktop) for r in scope.values()]
    families = osfamilies.summarize((r.os_family, r.os_distro, r.os_name, 1)
                                    for r in scope.values())
    problems = _findings(conn, period, as_of, scope)
    states = [p["state"] for p in problems]
    found = len(problems)
    rectified = sum(s in RESOLVED for s in states)
    overdue = sum(p["overdue"] for p in problems)
    open_major = sum(p["level_num"] <= MAJOR and p["state"] in UNRECTIFIED for p in problems)
    return {
        "period": {"key": period.key, "kind": period.kind, "start": _iso(period.start),
                   "end": _iso(period.end), "as_of": _iso(as_of),
                   "complete": now >= period.end},
        "generated_at": _iso(now),
        "scope": {"hosts": len(scope), "servers": classes.count("server"),
                  "terminals": classes.count("terminal"), "xinchuang": families["xinchuang"],
                  "families": families["families"],
                  "xinchuang_distros": families["xinchuang_distros"]},
        "verdict": {"pass": open_major == 0 and overdue == 0, "open_major": open_major,
                    "overdue": overdue},
        "incidents": sum(p["incident"] for p in problems),
        "areas": _areas(scope, _checked(conn, period, scope), problems),
        "problems": problems,
        "rectification": {
            "found": found, "new": sum(p["new"] for p in problems), "rectified": rectified,
            "fixed": states.count("fixed"), "open": sum(s in WORK for s in states),
            "waived": states.count("waived"), "overdue": overdue,
            "closure_rate": round(100.0 * rectified / found, 1) if found else None,
        },
    }
