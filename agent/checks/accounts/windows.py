"""Pure parsers for Windows account sources: local users, Administrators, ``net accounts``.

Also the pure step that turns the parsed local users into the check's user records
(admin by SID, password age, disabled, dormant); the dormant rule itself is passed in so
Linux and Windows share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from hostpatrol.shared.report import format_time

from ..antivirus.windows import parse_ps_time

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


def _sid(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("Value")
    return str(value) if value else None


def parse_local_users(text: str) -> list[dict[str, Any]]:
    """``Get-LocalUser | ConvertTo-Json`` → one dict per user; times as aware UTC or None."""
    text = text.lstrip("\ufeff").strip()
    if not text:
        return []
    out = []
    for u in _as_list(json.loads(text)):
        if not isinstance(u, dict) or not u.get("Name"):
            continue
        sid = _sid(u.get("SID"))
        rid = sid.rsplit("-", 1)[-1] if sid else ""
        source = u.get("PrincipalSource")
        out.append({
            "name": str(u["Name"]),
            "sid": sid,
            "rid": int(rid) if rid.isdigit() else None,
            "enabled": u.get("Enabled") is True,
            "password_required": u.get("PasswordRequired") is not False,
            "password_last_set": parse_ps_time(u.get("PasswordLastSet")),
            "password_expires": parse_ps_time(u.get("PasswordExpires")),
            "last_logon": parse_ps_time(u.get("LastLogon")),
            "account_expires": parse_ps_time(u.get("AccountExpires")),
            "source": PRINCIPAL_SOURCES.get(source, str(source)) if source is not None else None,
        })
    return out


Dormant = Callable[[str, datetime | None, date | None, date, datetime], dict[str, Any] | None]


def user_records(users: list[dict[str, Any]], members: list[dict[str, Any]], now: datetime,
                 admin_max_age_days: int, dormant: Dormant) -> dict[str, list[dict[str, Any]]]:
    """Local users as the check reports them, plus admin password ages, disabled, dormant."""
    admin_sids = {m["sid"] for m in members if m.get("sid")}
    today = now.date()
    records, ages, locked, idle, no_password = [], [], [], [], []
    for u in users:
        changed = u["password_last_set"].date() if u["password_last_set"] else None
        expired = u["account_expires"] is not None and u["account_expires"] <= now
        capable = u["enabled"] and not expired
        admin = u["sid"] in admin_sids
        records.append({
            "name": u["name"], "uid": u["rid"], "gid": None, "home": None, "shell": None,
            "login_shell": None, "login_capable": capable, "password_state": "unknown",
            "expired": expired, "admin": admin,
            "password_changed": changed.isoformat() if changed else None,
            "last_login": format_time(u["last_logon"]) if u["last_logon"] else None,
            "sid": u["sid"], "enabled": u["enabled"],
            "password_required": u["password_required"],
        })
        if not u["enabled"]:
            locked.append(u["name"])
        if capable and not u["password_required"]:
            no_password.append(u["name"])
        if admin:
            age = (today - changed).days if changed else None
            ages.append({"name": u["name"],
                         "password_changed": changed.isoformat() if changed else None,
                         "age_days": age,
                         "too_old": age is not None and age > admin_max_age_days})
        if capable:
            entry = dormant(u["name"], u["last_logon"], changed, today, now)
            if entry:
                idle.append(entry)
    return {"users": records, "privileged_password_age": ages, "locked": locked,
            "dormant": idle, "password_not_required": no_password}
