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


def _counts(counts: Mapping[str, int], names: Mapping[str, str] | None = None) -> str:
    return ", ".join(f"{(names or {}).get(k, k)} {n}" for k, n in counts.items())


def subject(payload: Mapping[str, Any]) -> str:
    """One line naming what happened."""
    if payload["event"] == "digest":
        n = payload.get("count", len(payload["items"]))
        return f"hostpatrol daily digest {payload['date']}: {n} item(s)"
    if payload["event"] == "bundle":
        top = next(iter(payload["levels"]), "-")
        return (f"[hostpatrol {top}] {payload['count']} notifications in one message "
                f"({_counts(payload['levels'])})")
    f = payload["finding"]
    return f"[hostpatrol {f['level']}] {EVENTS.get(payload['event'], payload['event'])}: " \
           f"{f['title']} ({f['subject']})"


def _fits(parts: list[str], budget: int | None) -> bool:
    return budget is None or len("\n".join(parts).encode()) <= budget


def _many(payload: Mapping[str, Any], head: list[str], budget: int | None) -> str:
    """``head``, then the listed items while the text fits ``budget`` bytes, then how many
    more there are."""
    items = payload["items"]
    n = payload.get("count", len(items))
    lines = [f"- {EVENTS.get(i['event'], i['event'])}: {_line(i['finding'])}" for i in items]
    shown = len(lines)
    while True:
        tail = ([f"… and {n - shown} more (the {shown} most severe are listed; by level: "
                 f"{_counts(payload['levels'])})"] if n > shown else [])
        if shown == 0 or _fits([*head, *lines[:shown], *tail], budget):
            return "\n".join([*head, *lines[:shown], *tail])
        shown -= 1


def body(payload: Mapping[str, Any], budget: int | None = None) -> str:
    """Plain text for people; a digest or a bundle lists as many items as fit ``budget``
    bytes (a chat robot's largest message) and counts the rest."""
    if payload["event"] == "digest":
        return _many(payload, [], budget)
    if payload["event"] == "bundle":
        return _many(payload, [
            f"{payload['count']} messages were due from {payload['since']} to "
            f"{payload['until']}, more than this channel takes in a minute "
            f"({payload['per_minute']}); they come as one.",
            f"By event: {_counts(payload['events'], EVENTS)}"], budget)
    text = _line(payload["finding"])
    if payload.get("note"):
        text += f"\nnote: {payload['note']}"
    if budget is not None and len(text.encode()) > budget:
        text = text.encode()[:max(budget - 3, 0)].decode(errors="ignore") + "…"
    return text
