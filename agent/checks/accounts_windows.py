"""Pure parsers for Windows account sources: Administrators members and ``net accounts``."""

from __future__ import annotations

import json
import re
from typing import Any

ADMINISTRATORS_SID = "S-1-5-32-544"
PRINCIPAL_SOURCES = {0: "Unknown", 1: "Local", 2: "ActiveDirectory", 3: "AzureAD",
                     4: "MicrosoftAccount"}

_NET_ACCOUNTS_KEYS = {
    "Minimum password age (days)": "min_age_days",
    "Maximum password age (days)": "max_age_days",
    "Minimum password length": "min_length",
    "Length of password history maintained": "history_length",
    "Lockout threshold": "lockout_threshold",
    "Lockout duration (minutes)": "lockout_duration_minutes",
    "Lockout observation window (minutes)": "lockout_window_minutes",
    "Force user logoff how long after time expires?": "force_logoff",
    "Computer role": "computer_role",
}


def _as_list(doc: Any) -> list[Any]:
    if doc is None:
        return []
    return doc if isinstance(doc, list) else [doc]


def parse_local_group_members(text: str) -> list[dict[str, Any]]:
    """``Get-LocalGroupMember … | ConvertTo-Json`` → [{name, sid, object_class, source}]."""
    text = text.lstrip("\ufeff").strip()
    if not text:
        return []
    out = []
    for m in _as_list(json.loads(text)):
        if not isinstance(m, dict):
            continue
        sid = m.get("SID")
        if isinstance(sid, dict):
            sid = sid.get("Value")
        source = m.get("PrincipalSource")
        out.append({
            "name": str(m.get("Name", "")),
            "sid": str(sid) if sid is not None else None,
            "object_class": str(m.get("ObjectClass", "")),
            "source": PRINCIPAL_SOURCES.get(source, str(source)) if source is not None else None,
        })
    return out


def parse_net_accounts(text: str) -> dict[str, int | str | None]:
    """``net accounts`` (English) → policy numbers; 'Never'/'None'/'Unlimited' become None."""
    out: dict[str, int | str | None] = {}
    for line in text.splitlines():
        label, sep, value = line.rpartition(":")
        label, value = label.strip(), value.strip()
        key = _NET_ACCOUNTS_KEYS.get(label)
        if not sep or key is None:
            continue
        if key in ("computer_role", "force_logoff"):
            out[key] = value
        elif re.fullmatch(r"\d+", value):
            out[key] = int(value)
        else:
            out[key] = None
    return out
