"""What a report says, as one JSON-safe value: the period's figures, the preparer's texts,
the sign-off with real names, and the verdict. Every format and language renders it.

The verdict (自查结论) — stated on the report with its figures:

- **fail** (不合格): no host reported any result in the period, or a level I–II problem is
  unrectified at the end of the period;
- else **basic** (基本合格): a problem is overdue, or a manual checklist item does not meet
  its requirement;
- else **pass** (合格).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from ..store import users
from .figures import compute
from .period import Period

FORMAT = 2
NARRATIVE = ("organisation", "results", "problems", "measures")
CHECK_RESULTS = ("pass", "fail", "n/a", "")
SIGNERS = ("prepared_by", "reviewed_by", "approved_by")


def empty_narrative() -> dict[str, Any]:
    """The preparer's texts of sections 一–四 and per-type measures, all blank."""
    return {**dict.fromkeys(NARRATIVE, ""), "measures_by_type": {}}


def narrative_of(value: Any) -> dict[str, Any]:
    """A stored narrative with every key present (older rows have none)."""
    out = empty_narrative()
    if isinstance(value, dict):
        out.update({k: str(value.get(k) or "") for k in NARRATIVE})
        by_type = value.get("measures_by_type")
        if isinstance(by_type, dict):
            out["measures_by_type"] = {str(k): str(v) for k, v in by_type.items() if v}
    return out


def checklist_item(c: Any) -> dict[str, str]:
    """A manual checklist item with every field (older rows lack measure, deadline, owner)."""
    c = c if isinstance(c, dict) else {}
    result = c.get("result", "")
    return {"item": str(c.get("item", "")), "result": result if result in CHECK_RESULTS else "",
            "note": str(c.get("note") or ""), "measure": str(c.get("measure") or ""),
            "deadline": str(c.get("deadline") or ""), "owner": str(c.get("owner") or "")}


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def meta_of(row: Any) -> dict[str, Any]:
    """The texts and sign-off of a stored report row."""
    return {"period": row.period, "state": row.state, "unit": row.unit,
            "addressee": getattr(row, "addressee", "") or "", "basis": row.basis,
            "narrative": narrative_of(getattr(row, "narrative", None)),
            "next_steps": row.next_steps,
            "checklist": [checklist_item(c) for c in row.checklist or []],
            "prepared_by": row.prepared_by, "prepared_at": _iso(row.prepared_at),
            "reviewed_by": row.reviewed_by, "reviewed_at": _iso(row.reviewed_at),
            "approved_by": row.approved_by, "approved_at": _iso(row.approved_at)}


def new_meta(period: Period, defaults: dict[str, Any], checklist: list[str]) -> dict[str, Any]:
    """Texts of a report nobody has started yet (previews): the configured defaults."""
    return {"period": period.key, "state": "preview", "unit": defaults["unit"],
            "addressee": defaults["addressee"], "basis": defaults["basis"],
            "narrative": {**empty_narrative(), "organisation": defaults["organisation"]},
            "next_steps": "", "checklist": [checklist_item({"item": i}) for i in checklist],
            **dict.fromkeys((*SIGNERS, "prepared_at", "reviewed_at", "approved_at"))}


def signers(conn: sa.Connection, meta: dict[str, Any]) -> dict[str, Any]:
    """Who signed, as reports print them: display name (else login name) and role."""
    logins = {meta[k] for k in SIGNERS if meta.get(k)}
    names = users.display_names(conn, logins)
    out: dict[str, Any] = {}
    for key in SIGNERS:
        login = meta.get(key)
        if login:
            name, role = names.get(login, (login, None))
            out[key] = {"login": login, "name": name, "role": role}
    return out


def manual(checklist: list[dict[str, str]]) -> dict[str, Any]:
    """The manual checklist's tally and the items that do not meet their requirement."""
    results = [c["result"] for c in checklist]
    return {"items": len(checklist), "pass": results.count("pass"),
            "fail": results.count("fail"), "n/a": results.count("n/a"),
            "unchecked": results.count(""),
            "failed": [{"no": n, **c} for n, c in enumerate(checklist, 1)
                       if c["result"] == "fail"]}


def verdict(figures: dict[str, Any], tally: dict[str, Any]) -> dict[str, Any]:
    """The self-inspection verdict and the figures its rule looks at (see the module)."""
    reported = figures["scope"]["reported"]
    open_major = figures["open_major"]
    overdue = figures["rectification"]["overdue"]
    failed = tally["fail"]
    if reported == 0 or open_major:
        result = "fail"
    elif overdue or failed:
        result = "basic"
    else:
        result = "pass"
    return {"result": result, "reported": reported, "open_major": open_major,
            "overdue": overdue, "manual_failed": failed}


def assemble(figures: dict[str, Any], meta: dict[str, Any],
             people: dict[str, Any]) -> dict[str, Any]:
    """Figures, texts and sign-off as one report (adds the manual tally and the verdict)."""
    tally = manual(meta["checklist"])
    return {"format": FORMAT, "figures": figures, "meta": {**meta, "people": people},
            "manual": tally, "verdict": verdict(figures, tally)}


def build(conn: sa.Connection, period: Period, meta: dict[str, Any],
          now: datetime) -> dict[str, Any]:
    """The report of ``period`` as of ``now`` with ``meta``'s texts (live, not frozen)."""
    return assemble(compute(conn, period, now), meta, signers(conn, meta))


def parse_day(text: str) -> str:
    """``YYYY-MM-DD`` or blank; anything else is refused (ValueError)."""
    text = (text or "").strip()
    return date.fromisoformat(text).isoformat() if text else ""
