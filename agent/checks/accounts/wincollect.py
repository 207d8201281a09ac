"""accounts on Windows: run the three PowerShell/net sources and assemble the check data.

Local users come from ``Get-LocalUser`` (enabled, password last set, last logon, SID),
admins from the members of the Administrators group (by its well-known SID, so a
translated group name does not matter) and the policy from ``net accounts``. A source
that fails or answers unreadable JSON is reported in ``sources``; the rest still counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...commands import CommandError, Runner
from ..base import Outcome
from . import windows as win

MAX_USERS = 5000
_PS = ("powershell", "-NoProfile", "-NonInteractive", "-Command")
PLAN = (
    ("local_users", (*_PS, "Get-LocalUser | ConvertTo-Json -Compress"), win.parse_local_users),
    ("administrators", (*_PS, f"Get-LocalGroupMember -SID {win.ADMINISTRATORS_SID}"
                              " | ConvertTo-Json -Compress"), win.parse_local_group_members),
    ("net_accounts", ("net", "accounts"), win.parse_net_accounts),
)


def _gather(run: Runner, sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, argv, parse in PLAN:
        try:
            res = run(list(argv), 30.0)
        except CommandError as e:
            sources[key] = {"available": False, "detail": str(e)[:1000]}
            continue
        if res.returncode != 0:
            sources[key] = {"available": False,
                            "detail": f"exit {res.returncode}: {res.stderr.strip()[:500]}"}
            continue
        try:
            parsed[key] = parse(res.stdout)
        except ValueError as e:  # json.JSONDecodeError
            sources[key] = {"available": False, "detail": f"unreadable output ({e})"[:1000]}
            continue
        sources[key] = {"available": True, "detail": argv[-1][:1000]}
    return parsed


def collect_windows(run: Runner, now: datetime, config: Mapping[str, Any],
                    dormant: win.Dormant) -> Outcome:
    """The accounts data on Windows; ``dormant`` is the check's shared dormant rule."""
    sources: dict[str, dict[str, Any]] = {}
    parsed = _gather(run, sources)
    users = parsed.get("local_users", [])
    members = parsed.get("administrators", [])
    rec = win.user_records(users[:MAX_USERS], members, now,
                           config["admin_password_max_age_days"], dormant)
    warn = (rec["dormant"] or rec["password_not_required"]
            or any(a["too_old"] for a in rec["privileged_password_age"]))
    data = {
        "platform": "windows",
        "users": rec["users"],
        "users_truncated": len(users) > MAX_USERS,
        "admins": [{"name": m["name"],
                    "via": [f"Administrators ({m['object_class']}, {m['source']})"]}
                   for m in members],
        "empty_password": [],  # Windows does not reveal it; see users[].password_required
        "locked": rec["locked"],
        "password_policy": ({"windows": parsed["net_accounts"]}
                            if "net_accounts" in parsed else {}),
        "privileged_password_age": rec["privileged_password_age"],
        "dormant_days": config["dormant_days"],
        "dormant": rec["dormant"],
        "sources": sources,
    }
    return Outcome("warn" if warn else "ok", data)
