"""The incident register (安全事件登记): security incidents as a person recorded them.

An incident is not a finding. Findings (问题/隐患) come from checks; an incident is an
event the unit graded by its emergency plan (I 特别重大 … IV 一般) and must report
within hours. Only what is recorded here is counted as an incident; the report never
derives incidents from findings. Records are append-only and audit-logged.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import audit
from ..errors import CollectorError
from ..policy.model import LEVELS, level_name
from ..store.schema import findings, incidents
from .register_at import iso

MAX_TITLE = 255
MAX_DESCRIPTION = 20000
MAX_FINDINGS = 100
FUTURE_SLACK = timedelta(minutes=5)


class IncidentError(CollectorError):
    """An incident record that cannot be stored as given."""


def _text(value: Any, what: str, limit: int, *, required: bool) -> str:
    text = unicodedata.normalize("NFC", str(value or "")).strip()
    if required and not text:
        msg = f"an incident needs a {what}"
        raise IncidentError(msg)
    if len(text) > limit:
        msg = f"the {what} is at most {limit} characters ({len(text)} given)"
        raise IncidentError(msg)
    allowed = "\n\t" if what == "description" else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        msg = f"the {what} holds control characters"
        raise IncidentError(msg)
    return text


def parse_level(text: Any) -> int:
    """``I``…``IV`` (or 1–4) → 1–4."""
    value = str(text).strip()
    level = LEVELS.get(value.upper()) if not value.isdigit() else int(value)
    if level is None or not 1 <= level <= 4:
        msg = f"incident level {text!r}: one of I, II, III, IV (the emergency plan's levels)"
        raise IncidentError(msg)
    return level


def record(conn: sa.Connection, *, level: Any, occurred_at: datetime, title: Any,
           description: Any = "", finding_ids: list[int] | None = None, by: str,
           now: datetime) -> int:
    """Store one incident and audit it; return its id."""
    lvl = parse_level(level)
    if occurred_at.tzinfo is None:
        msg = "the incident's time needs a time zone (e.g. 2026-11-25T10:00+08:00)"
        raise IncidentError(msg)
    if occurred_at > now + FUTURE_SLACK:
        msg = "an incident cannot have occurred in the future"
        raise IncidentError(msg)
    ids = sorted(set(finding_ids or []))
    if len(ids) > MAX_FINDINGS:
        msg = f"at most {MAX_FINDINGS} linked findings"
        raise IncidentError(msg)
    if ids:
        known = set(conn.execute(sa.select(findings.c.id).where(findings.c.id.in_(ids)))
                    .scalars())
        missing = [i for i in ids if i not in known]
        if missing:
            msg = f"no finding {', '.join(map(str, missing[:5]))}"
            raise IncidentError(msg)
    values = {"level": lvl, "occurred_at": occurred_at,
              "title": _text(title, "title", MAX_TITLE, required=True),
              "description": _text(description, "description", MAX_DESCRIPTION,
                                   required=False),
              "findings": ids, "recorded_by": by[:64], "recorded_at": now}
    iid = conn.execute(incidents.insert().values(**values).returning(incidents.c.id)
                       ).scalar_one()
    audit.record(conn, actor=by, action="incident.record", target=f"incident:{iid}",
                 details={"level": level_name(lvl), "occurred_at": iso(occurred_at),
                          "title": values["title"], "findings": ids}, now=now)
    return iid


def listing(conn: sa.Connection, start: datetime | None = None, end: datetime | None = None,
            limit: int = 500) -> list[dict[str, Any]]:
    """Incidents that occurred in [start, end) (any time when open), newest first."""
    q = sa.select(incidents).order_by(incidents.c.occurred_at.desc(), incidents.c.id.desc())
    if start is not None:
        q = q.where(incidents.c.occurred_at >= start)
    if end is not None:
        q = q.where(incidents.c.occurred_at < end)
    return [{"id": r.id, "level": level_name(r.level), "level_num": r.level,
             "occurred_at": iso(r.occurred_at), "title": r.title,
             "description": r.description, "findings": list(r.findings or []),
             "recorded_by": r.recorded_by, "recorded_at": iso(r.recorded_at)}
            for r in conn.execute(q.limit(limit))]
