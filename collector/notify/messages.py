"""Text of a notification (subject line and body) from an outbox payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EVENTS = {"opened": "New finding", "reopened": "Finding reopened (regression)",
          "level_raised": "Finding level raised", "reminder": "Deadline approaching",
          "overdue": "Finding overdue (escalated)", "waiver_expired": "Waiver expired"}


def _line(f: Mapping[str, Any]) -> str:
    return (f"#{f['id']} [{f['level']}] {f.get('message') or f['title']} — host {f['agent_id']}"
            f", owner {f.get('owner') or '-'}, deadline {f.get('deadline') or '-'}")


def subject(payload: Mapping[str, Any]) -> str:
    """One line naming what happened."""
    if payload["event"] == "digest":
        return f"hostpatrol daily digest {payload['date']}: {len(payload['items'])} item(s)"
    f = payload["finding"]
    return f"[hostpatrol {f['level']}] {EVENTS.get(payload['event'], payload['event'])}: " \
           f"{f['title']} ({f['subject']})"


def body(payload: Mapping[str, Any]) -> str:
    """Plain text for people."""
    if payload["event"] == "digest":
        return "\n".join(f"- {EVENTS.get(i['event'], i['event'])}: {_line(i['finding'])}"
                         for i in payload["items"])
    text = _line(payload["finding"])
    if payload.get("note"):
        text += f"\nnote: {payload['note']}"
    return text
