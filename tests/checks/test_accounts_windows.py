"""accounts on Windows: Get-LocalUser parser on a recorded output, and the wired check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
from hostpatrol.agent.checks.accounts import windows as win
from hostpatrol.agent.checks.accounts.check import AccountsCheck
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "accounts"
USERS = (FIX / "win_localusers.json").read_text()
ADMINS = (FIX / "win_administrators.json").read_text()
NET = (FIX / "win_net_accounts.txt").read_text()
SET_AT = datetime(2023, 11, 30, 21, 25, 5, 92000, tzinfo=UTC)  # /Date(1701379505092)/


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("accounts")).validate(data)


def fake_run(by_word: dict[str, str | Exception], seen: list[list[str]]):
    """Answer each command by the first word of the table found in its argv."""
    def run(argv, timeout):
        seen.append(list(argv))
        line = " ".join(argv)
        for word, value in by_word.items():
            if word in line:
                if isinstance(value, Exception):
                    raise value
                return CommandResult(tuple(argv), 0, value, "")
        raise CommandNotFound(f"{argv[0]}: command not found")
    return run


def check(now: datetime, outputs: dict[str, str | Exception], seen=None, **config):
    return AccountsCheck(config, run=fake_run(outputs, [] if seen is None else seen),
                         now=lambda: now, platform="win32")


def test_get_local_user_parser_on_recorded_output():
    users = win.parse_local_users(USERS)
    assert [u["name"] for u in users] == ["Administrator", "Guest"]
    admin, guest = users
    assert admin["sid"] == "S-1-5-21-153895498-367353507-3704405138-500"
    assert admin["rid"] == 500
    assert admin["enabled"] is True
    assert guest["enabled"] is False
    assert admin["password_required"] is True
    assert guest["password_required"] is False
    assert admin["password_last_set"] == SET_AT
    assert guest["password_last_set"] is None
    assert admin["last_logon"] is None
    assert admin["account_expires"] is None
    assert admin["source"] == "Local"
    assert win.parse_local_users("") == []
    assert win.parse_local_users("\ufeff" + USERS)[1]["rid"] == 501


def test_windows_check_lists_users_admins_disabled_and_password_age():
    seen: list[list[str]] = []
    now = datetime(2024, 1, 15, tzinfo=UTC)
    out = check(now, {"Get-LocalUser": USERS, "Get-LocalGroupMember": ADMINS, "net": NET},
                seen, dormant_days=90, admin_password_max_age_days=30).collect()
    validate(out.data)
    assert any("Get-LocalUser" in a[-1] for a in seen)
    assert any("Get-LocalGroupMember -SID S-1-5-32-544" in a[-1] for a in seen)
    users = {u["name"]: u for u in out.data["users"]}
    assert users["Administrator"] == {
        "name": "Administrator", "uid": 500, "gid": None, "home": None, "shell": None,
        "login_shell": None, "login_capable": True, "password_state": "unknown",
        "expired": False, "admin": True, "password_changed": "2023-11-30",
        "last_login": None, "sid": "S-1-5-21-153895498-367353507-3704405138-500",
        "enabled": True, "password_required": True}
    assert users["Guest"]["admin"] is False
    assert users["Guest"]["login_capable"] is False
    assert out.data["locked"] == ["Guest"]  # disabled
    assert [a["name"] for a in out.data["admins"]] == ["WIN2022SC\\Administrator",
                                                       "WIN2022SC\\vagrant"]
    assert out.data["privileged_password_age"] == [
        {"name": "Administrator", "password_changed": "2023-11-30", "age_days": 46,
         "too_old": True}]
    # never logged on, password set 46 days ago (< 90): a new account, not dormant
    assert out.data["dormant"] == []
    assert out.data["password_policy"]["windows"]["max_age_days"] == 42
    assert {k: v["available"] for k, v in out.data["sources"].items()} == {
        "local_users": True, "administrators": True, "net_accounts": True}
    assert out.status == "warn"  # the admin password is older than 30 days


def test_windows_dormant_uses_the_shared_rule():
    now = datetime(2024, 6, 1, tzinfo=UTC)
    out = check(now, {"Get-LocalUser": USERS, "Get-LocalGroupMember": ADMINS, "net": NET},
                dormant_days=90).collect()
    # the enabled Administrator never logged on and its password is 184 days old
    assert out.data["dormant"] == [{"name": "Administrator", "last_login": None,
                                    "days": None, "reason": "never logged in"}]
    assert out.status == "warn"


def test_windows_sources_that_fail_are_reported_and_the_rest_still_counts():
    now = datetime(2024, 1, 15, tzinfo=UTC)
    out = check(now, {"Get-LocalUser": "{not json", "Get-LocalGroupMember": ADMINS,
                      "net": CommandNotFound("net: command not found")}).collect()
    validate(out.data)
    src = out.data["sources"]
    assert src["local_users"]["available"] is False
    assert src["local_users"]["detail"].startswith("unreadable output")
    assert src["net_accounts"] == {"available": False, "detail": "net: command not found"}
    assert out.data["users"] == []
    assert out.data["password_policy"] == {}
    assert len(out.data["admins"]) == 2
    assert out.status == "ok"
