"""accounts at the edges, for real on this machine: throwaway users, a second uid 0, an
empty passwd field, sudoers rules — each judged against the host's own tools (getent,
passwd -S, chage, su, sudo -l), never against a constant."""

from __future__ import annotations

import re
import subprocess
from datetime import date, datetime

import jsonschema
import pytest
from hostpatrol.agent.checks.accounts.check import AccountsCheck
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.schemas import load_schema
from machine import edited_account_files, sh, sudoers_dropin, throwaway_name, throwaway_user

VALIDATOR = jsonschema.Draft202012Validator(load_schema("accounts"))


def collect() -> dict:
    out = AccountsCheck().collect()
    VALIDATOR.validate(out.data)
    return {"status": out.status, **out.data}


def users(data: dict) -> dict[str, dict]:
    return {u["name"]: u for u in data["users"]}


def su_without_password(caller: str, target: str) -> bool:
    """Whether ``caller`` becomes ``target`` with su and no password typed (stdin closed)."""
    res = subprocess.run(["runuser", "-u", caller, "--", "su", "-s", "/bin/sh", "-c", "id -un",
                          target], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=30, check=False)
    return res.returncode == 0 and res.stdout.strip() == target


def test_second_uid0_account_is_an_admin_and_fails(tmp_path):
    name = throwaway_name()
    with throwaway_user(tmp_path, "--non-unique", "--uid", "0", "--gid", "0", name=name):
        data = collect()
        uid0 = [line.split(":")[0] for line in sh("getent", "passwd").stdout.splitlines()
                if line.split(":")[2] == "0"]
        assert name in uid0
        assert data["uid0_accounts"] == uid0
        assert data["extra_uid0_accounts"] == [n for n in uid0 if n != "root"]
        assert {"name": name, "via": ["uid0"]} in data["admins"]
        assert data["status"] == "fail"
    assert name not in collect()["uid0_accounts"]


def test_empty_passwd_field_without_shadow_line_lets_su_in(tmp_path):
    with throwaway_user(tmp_path) as target, throwaway_user(tmp_path) as caller:
        assert not su_without_password(caller, target)  # a fresh account has no password
        assert users(collect())[target]["password_state"] == "locked"
        with edited_account_files(target, passwd_field="", drop_shadow=True):
            assert sh("passwd", "-S", target).stdout.split()[1] == "NP"
            assert su_without_password(caller, target)
            data = collect()
            row = users(data)[target]
            assert (row["password_state"], row["password_source"]) == ("empty", "passwd")
            assert target in data["empty_password"]
            assert data["status"] == "fail"
        # "x" and no shadow line: passwd -S says "P", but PAM finds no password to match
        with edited_account_files(target, drop_shadow=True):
            assert not su_without_password(caller, target)
            row = users(collect())[target]
            assert (row["password_state"], row["password_source"]) == ("none", "none")
            assert row["login_capable"] is False


def test_every_password_state_agrees_with_passwd_s(tmp_path):
    with throwaway_user(tmp_path) as name:
        sh("chpasswd", input=f"{name}:a-throwaway-Passw0rd\n")
        data = collect()
    status = {}
    for line in sh("passwd", "-S", "-a").stdout.splitlines():
        user, state = line.split()[:2]
        status[user] = state
    expect = {"P": {"set"}, "NP": {"empty"}, "L": {"locked", "none"}}
    for user, row in users(data).items():
        if user in status and row["password_source"] != "none":
            assert row["password_state"] in expect[status[user]], (user, status[user])
    assert users(data)[name]["password_state"] == "set"


def test_locked_root_has_no_password_age_to_judge():
    data = collect()
    state = sh("passwd", "-S", "root").stdout.split()[1]
    root = next(a for a in data["privileged_password_age"] if a["name"] == "root")
    changed = sh("chage", "-l", "root").stdout.splitlines()[0].split(":", 1)[1].strip()
    expected = None if changed == "never" else datetime.strptime(changed, "%b %d, %Y").date()
    assert root["password_changed"] == (expected.isoformat() if expected else None)
    if state == "L":  # stock Debian: root has "*" (or "!"): no password, so no age
        assert root["password_state"] in ("locked", "none")
        assert (root["age_days"], root["too_old"]) == (None, False)
    else:
        assert root["password_state"] == "set"
        assert root["age_days"] == ((utcnow().date() - expected).days if expected else None)


def _sudo_l(user: str) -> str:
    return sh("sudo", "-n", "-l", "-U", user, check=False).stdout


@pytest.mark.parametrize(("rule", "kind"), [
    ("{u} ALL=(ALL:ALL) ALL", "full"),
    ("{u} {host}=(ALL) NOPASSWD: ALL", "full"),
    ("{u} db-elsewhere-01=(ALL:ALL) ALL", "none"),
    ("{u} ALL=(root) /usr/bin/apt-get", "limited"),
    ("{u} ALL=(nobody) ALL", "limited"),
    ("{u} ALL=(root) /bin/bash", "full"),
])
def test_sudo_scope_matches_sudo_l(tmp_path, rule, kind):
    host = sh("hostname").stdout.strip()
    with throwaway_user(tmp_path) as name, \
            sudoers_dropin(rule.format(u=name, host=host) + "\n"):
        listed = _sudo_l(name)
        allowed = re.findall(r"^\s+\((.*?)\)\s+(?:\w+:\s+)*(.+)$", listed, re.M)
        data = collect()
        admins = {a["name"]: a["via"] for a in data["admins"]}
        limited = {x["name"]: x["commands"] for x in data["limited_sudo"]}
        if kind == "none":
            assert f"User {name} is not allowed to run sudo" in listed
            assert name not in admins
            assert name not in limited
        elif kind == "full":
            assert any(cmd.strip() in ("ALL", "/bin/bash") and re.search(r"\b(ALL|root)\b", ra)
                       for ra, cmd in allowed), listed
            assert admins[name] == [f"sudoers:{name}"]
            assert name not in limited
        else:
            assert allowed, listed
            assert name not in admins
            assert [c["command"] for c in limited[name]] == [cmd.strip() for _, cmd in allowed]


def test_new_account_password_age_comes_from_chage(tmp_path):
    with throwaway_user(tmp_path, "--groups", "sudo") as name:
        sh("chpasswd", input=f"{name}:a-throwaway-Passw0rd\n")
        data = collect()
        row = next(a for a in data["privileged_password_age"] if a["name"] == name)
        changed = sh("chage", "-l", name).stdout.splitlines()[0].split(":", 1)[1].strip()
        assert row["password_changed"] == datetime.strptime(changed, "%b %d, %Y").date() \
            .isoformat()
        assert row["password_state"] == "set"
        assert row["age_days"] == (utcnow().date()
                                   - date.fromisoformat(row["password_changed"])).days
        assert row["too_old"] is False
