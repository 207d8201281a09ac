"""The report's figures for a period, from stored results, the register and the incidents.

Everything the report states is here or in :mod:`content`, as plain JSON-safe data, so an
approved report can be frozen (canonical JSON + sha256). Definitions:

- scope: hosts in scope (:mod:`compliance`); terminals are hosts tagged ``terminal`` or
  running a desktop OS (Windows other than Server, macOS); every other host is a server
  (tag ``server`` forces it). Reported: hosts with any result in the period.
- areas: :func:`compliance.judge` for the period, judged at ``as_of`` (the period's end,
  or now while it runs); the same figures the overview, the API and the CSV give.
- problems: findings that were level I–IV problems at some time in the period, with their
  state, level and deadline at ``as_of`` (:mod:`register_at`); grouped by type (rule) for
  section 三, listed per host in annex 1.
- incidents: what the incident register holds for the period, never findings.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..policy import loader
from ..policy.model import level_name
from ..store import osfamilies, users
from ..store.schema import reports
from . import compliance, incidents, observed, register_at, windows
from .period import Period
from .register_at import iso

FORMAT = 2
RESOLVED = ("verified", "closed")
DESKTOP_MARKERS = ("macos", "mac os", "darwin")
MAJOR = 2


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


def os_family_table(families: dict[str, Any]) -> dict[str, Any]:
    """Section 二's table of hosts per OS family, the domestic distributions under 信创.

    Titles, headers and family names are msgids: the renderer translates them."""
    rows: list[list[Any]] = []
    total = sum(families["families"].values())
    for family, n in families["families"].items():
        rows.append([f"family:{family}", n, round(100.0 * n / total, 1) if total else None])
        if family == osfamilies.DOMESTIC:
            rows += [[f"distro:{d}", m, round(100.0 * m / total, 1) if total else None]
                     for d, m in families["xinchuang_distros"].items()]
    return {"id": "os-families", "title": "Hosts by operating system",
            "columns": ["OS family", "Hosts", "Share"], "rows": rows}


def _areas(result: windows.Compliance, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failing: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in problems:
        if p["unrectified"]:
            failing[p["area"]][p["title"]].add(p["agent_id"])
    out = []
    for area, r in result.areas.items():
        out.append({**r.counts(), "issues": [
            {"title": t, "hosts": len(h)}
            for t, h in sorted(failing[area].items(), key=lambda kv: (-len(kv[1]), kv[0]))]})
    return out


def types(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problems grouped by type (the rule that found them), most severe and widest first."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in problems:
        groups[p["rule"]].append(p)
    out = []
    for rule, items in groups.items():
        open_ = [p for p in items if p["unrectified"]]
        deadlines = [p["deadline"] for p in open_ if p["deadline"]]
        owners = sorted({p["owner_name"] for p in items if p["owner_name"]})
        out.append({
            "key": rule, "title": min(items, key=lambda p: p["level_num"])["title"],
            "area": items[0]["area"], "problems": len(items),
            "hosts": len({p["agent_id"] for p in items}),
            "levels": [level_name(n) for n in sorted({p["level_num"] for p in items})],
            "level_num": min(p["level_num"] for p in items),
            "rectified": sum(p["state"] in RESOLVED for p in items),
            "unrectified": len(open_), "overdue": sum(p["overdue"] for p in items),
            "waived": sum(p["state"] == "waived" for p in items),
            "deadline": max(deadlines) if deadlines else None,
            "open_without_deadline": sum(not p["deadline"] for p in open_),
            "owners": owners, "without_owner": sum(not p["owner"] for p in items),
        })
    out.sort(key=lambda t: (t["level_num"], -t["hosts"], t["title"]))
    for n, t in enumerate(out, 1):
        t["no"] = n
    return out


def _rectification(problems: list[dict[str, Any]]) -> dict[str, Any]:
    states = [p["state"] for p in problems]
    found, rectified = len(problems), sum(s in RESOLVED for s in states)
    return {
        "found": found, "hosts": len({p["agent_id"] for p in problems}),
        "new": sum(p["new"] for p in problems), "rectified": rectified,
        "fixed": states.count("fixed"),
        "open": sum(s in ("open", "assigned", "in_progress") for s in states),
        "waived": states.count("waived"), "overdue": sum(p["overdue"] for p in problems),
        "closure_rate": compliance.percent(rectified, found),
        "without_owner": sum(not p["owner"] for p in problems),
        "without_deadline": sum(not p["deadline"] for p in problems),
    }


def _incidents(conn: sa.Connection, period: Period) -> dict[str, Any]:
    items = incidents.listing(conn, period.start, period.end)
    by_level = {name: sum(i["level"] == name for i in items) for name in ("I", "II", "III", "IV")}
    return {"count": len(items), "by_level": by_level, "items": items}


def _reports_received(conn: sa.Connection, period: Period, scope: set[str]) -> int:
    rows = conn.execute(sa.select(reports.c.agent_id, sa.func.count())
                        .where(reports.c.created_at >= period.start,
                               reports.c.created_at < period.end)
                        .group_by(reports.c.agent_id))
    return sum(n for agent_id, n in rows if agent_id in scope)


def compute(conn: sa.Connection, period: Period, now: datetime) -> dict[str, Any]:
    """Every figure of the report for ``period`` as of ``now`` (JSON-safe)."""
    as_of = min(period.end, now)
    scope = observed.in_scope(conn, period.start, period.end)
    problems = register_at.problems(conn, loader.current(conn), period.start, period.end,
                                    as_of, scope)
    names = users.display_names(conn, {p["owner"] for p in problems if p["owner"]})
    for p in problems:
        p["owner_name"] = names[p["owner"]][0] if p["owner"] in names else p["owner"]
    result = windows.for_period(conn, period.start, period.end, as_of, problems=problems,
                                scope=scope)
    classes = [host_class(r.os_name, r.tags, r.os_desktop) for r in scope.values()]
    families = osfamilies.summarize((r.os_family, r.os_distro, r.os_name, 1)
                                    for r in scope.values())
    return {
        "format": FORMAT,
        "period": {"key": period.key, "kind": period.kind, "start": iso(period.start),
                   "end": iso(period.end), "as_of": iso(as_of), "complete": now >= period.end,
                   "timezone": str(period.start.tzinfo)},
        "generated_at": iso(now),
        "scope": {"hosts": len(scope), "reported": len(result.reported),
                  "classes": {"server": classes.count("server"),
                              "terminal": classes.count("terminal")},
                  "reports": _reports_received(conn, period, set(scope)),
                  "xinchuang": families["xinchuang"], "families": families["families"],
                  "xinchuang_distros": families["xinchuang_distros"]},
        "areas": _areas(result, problems),
        "overall": compliance.overall(result.areas.values()),
        "breakdowns": [os_family_table(families)],  # further tables of section 二,
                                                    # each {"id", "title", "columns", "rows"}
        "problems": problems,
        "types": types(problems),
        "rectification": _rectification(problems),
        "open_major": sum(p["level_num"] <= MAJOR and p["unrectified"] for p in problems),
        "incidents": _incidents(conn, period),
    }
