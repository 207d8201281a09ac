"""accounts: parsers on recorded files, the check on injected sources, and for real here."""

from __future__ import annotations

import calendar
import json
import re
import struct
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.accounts import linux as lx
from hostpatrol.agent.checks.accounts import sudoers as sudo
from hostpatrol.agent.checks.accounts import windows as win
from hostpatrol.agent.checks.accounts.check import AccountsCheck
from hostpatrol.agent.commands import CommandNotFound, CommandResult, run_command
from hostpatrol.shared.schemas import load_schema
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).parent.parent / "fixtures" / "accounts"
HASH_LIKE = re.compile(r"\$[0-9a-z]{1,3}\$")
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/bin/bash
carol:x:1002:1002::/home/carol:/bin/zsh
dave:x:1003:27::/home/dave:/bin/bash
svc:x:998:998::/srv:/usr/sbin/nologin
"""
GROUP = "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\nbob:x:1001:\nwheel:x:10:\n"
# Shadow lines with real-looking crypt strings: the check must never echo any of them.
SHADOW = """root:$y$j9T$abcdefgh$ijklmnopqrstuvwxyz0123456789ABCDEFGHIJK:19700:0:99999:7:::
daemon:*:19000:0:99999:7:::
alice:$6$saltsalt$Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1Zx1:19800:0:99999:7:::
bob:::0:99999:7:::
carol:!$6$salt2$lockedlockedlockedlockedlocked:19500:0:99999:7:::
dave:$6$s3$davedavedavedavedavedavedavedave:19870:0:99999:7:::
svc:!:19000::::::
"""


def fake_files(files: dict[str, str | Exception]):
    def read(path: str) -> str:
        v = files.get(path, FileNotFoundError(2, "No such file or directory"))
        if isinstance(v, Exception):
            raise v
        return v
    return read


def fake_run(outputs: dict[str, str | Exception]):
    def run(argv, timeout):
        v = outputs.get(argv[0], CommandNotFound(f"{argv[0]}: command not found"))
        if isinstance(v, Exception):
            raise v
        return CommandResult(tuple(argv), 0, v, "")
    return run


def base_files(**extra: str | Exception) -> dict[str, str | Exception]:
    files: dict[str, str | Exception] = {
        "/etc/passwd": PASSWD, "/etc/group": GROUP, "/etc/shadow": SHADOW,
        "/etc/sudoers": (FIX / "debian12_sudoers").read_text(),
        "/etc/login.defs": (FIX / "debian12_login.defs").read_text(),
        "/etc/security/faillock.conf": (FIX / "debian12_faillock.conf").read_text(),
    }
    files.update(extra)
    return files


def make(files, run=None, **config) -> AccountsCheck:
    return AccountsCheck(config, read=fake_files(files), listdir=lambda p: [],
                         run=run or fake_run({"lastlog": LASTLOG, "last": ""}),
                         now=lambda: NOW, platform="linux",
                         host_names=lambda: ({"web1"}, {"192.0.2.10"}))


LASTLOG = (FIX / "lastlog_debian12.txt").read_text()


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("accounts")).validate(data)


# --- pure parsers on recorded files ----------------------------------------------------

def _access(text: str, names=frozenset({"web1", "web1.example.org"}),
            addresses=frozenset({"192.0.2.10"})):
    return sudo.access_by_user(sudo.parse(text), lx.parse_passwd(PASSWD), lx.parse_group(GROUP),
                               set(names), set(addresses))


def test_debian_sudoers_grants_root_and_group_sudo():
    text = (FIX / "debian12_sudoers").read_text()
    assert sudo.includes(text) == [("includedir", "/etc/sudoers.d")]
    access = _access(text)
    # alice is an explicit member, dave has sudo (gid 27) as primary group
    assert {u: a.full for u, a in access.items()} == {
        "root": ("root",), "alice": ("%sudo",), "dave": ("%sudo",)}
    assert all(a.limited == () for a in access.values())


def test_sudoers_aliases_lists_uids_and_negation():
    text = ("User_Alias OPS = carol, #1001\nDefaults:OPS !lecture\n"
            "OPS ALL=(ALL) NOPASSWD: ALL\nalice , dave\tALL = (root) /usr/bin/apt\n"
            "!bob ALL=ALL\n# root ALL=(ALL) ALL\nmallory ALL=(ALL) \\\n  ALL\n")
    access = _access(text)
    # mallory is not a local user; bob arrives through the alias by uid; "!bob" names no one
    assert {u: a.full for u, a in access.items() if a.full} == {"carol": ("OPS",),
                                                                "bob": ("OPS",)}
    assert access["alice"].limited == (("root", "/usr/bin/apt"),)
    assert access["dave"].full == ()


@pytest.mark.parametrize(("rule", "full", "limited"), [
    ("alice ALL=(ALL:ALL) ALL", True, False),
    ("alice web1=(ALL) ALL", True, False),
    ("alice web1.example.org=(ALL) ALL", True, False),
    ("alice web*=(ALL) ALL", True, False),
    ("alice 192.0.2.0/24=(ALL) ALL", True, False),
    ("alice db1=(ALL) ALL", False, False),  # another host: nothing here
    ("alice ALL,!web1=(ALL) ALL", False, False),
    ("Host_Alias DB = db1, db2\nalice DB=(ALL) ALL", False, False),
    ("Host_Alias WEB = web1\nalice WEB=(ALL) ALL", True, False),
    ("alice ALL=(root) /usr/bin/apt", False, True),  # one command is not full sudo
    ("alice ALL=/usr/bin/systemctl restart nginx, /usr/bin/journalctl", False, True),
    ("alice ALL=(bob) ALL", False, True),  # everything, but as bob
    ("alice ALL=(:adm) ALL", False, True),  # as herself with another group
    ("alice ALL=(ALL,!root) ALL", False, True),
    ("alice ALL=(root) NOPASSWD: /bin/bash", True, False),  # a root shell is everything
    ("alice ALL=(root) /usr/bin/su", True, False),
    ("alice ALL=(root) sudoedit /etc/sudoers", True, False),
    ("alice ALL=(root) sudoedit /etc/motd", False, True),
    ("Cmnd_Alias EVERY = ALL\nalice ALL=(ALL) EVERY", True, False),
    ("Cmnd_Alias PKG = /usr/bin/apt, /usr/bin/dpkg\nalice ALL=(ALL) PKG", False, True),
    ("alice ALL=(ALL) CWD=* TIMEOUT=1h NOPASSWD:SETENV: ALL", True, False),
    ("alice db1=(ALL) ALL : web1=(root) /usr/bin/apt", False, True),
])
def test_sudoers_rule_scope(rule, full, limited):
    access = _access(rule).get("alice")
    assert bool(access and access.full) is full
    assert bool(access and access.limited and not access.full) is limited


def test_sudoers_all_users_is_everyone():
    access = _access("ALL ALL=(ALL) ALL\n")
    assert set(access) == {p.name for p in lx.parse_passwd(PASSWD)}
    access = _access("ALL, !carol ALL=(ALL) ALL\n")
    assert "carol" not in access
    assert "alice" in access


def test_shadow_facts_never_keep_the_hash():
    facts = lx.parse_shadow(SHADOW, date(2024, 6, 1))
    assert {n: f.password for n, f in facts.items()} == {
        "root": "set", "daemon": "none", "alice": "set", "bob": "empty", "carol": "locked",
        "dave": "set", "svc": "locked"}
    assert facts["alice"].last_change == date(2024, 3, 18)
    assert facts["bob"].last_change is None  # 0 means "must change at next login"
    assert "$" not in repr(facts)


def test_login_defs_pwquality_faillock_and_pam():
    defs = lx.parse_login_defs((FIX / "debian12_login.defs").read_text())
    assert defs == {"pass_max_days": 99999, "pass_min_days": 0, "pass_warn_age": 7,
                    "pass_min_len": None}
    # Debian ships pwquality.conf and faillock.conf with every setting commented out
    assert lx.parse_key_values((FIX / "debian12_pwquality.conf").read_text()) == {}
    assert lx.parse_key_values((FIX / "debian12_faillock.conf").read_text()) == {}
    assert lx.parse_key_values("deny = 3\nunlock_time=600\neven_deny_root\n") == {
        "deny": "3", "unlock_time": "600", "even_deny_root": "1"}
    assert lx.pam_module_args((FIX / "debian12_common-password").read_text(),
                              "pam_pwquality.so") is None
    args = lx.pam_module_args((FIX / "rhel_system-auth_pwquality_line.txt").read_text(),
                              "pam_pwquality.so")
    assert args is not None
    assert args["minlen"] == "10"
    assert args["retry"] == "3"


def test_lastlog_and_last_recorded_outputs():
    ll = lx.parse_lastlog(LASTLOG)
    assert ll == {"root": None, "daemon": None,
                  "alice": datetime(2024, 3, 5, 9, 14, tzinfo=UTC),
                  "bob": datetime(2023, 11, 20, 17, 2, 33, tzinfo=UTC)}
    last = lx.parse_last((FIX / "last_iso_debian12.txt").read_text())
    assert last == {"alice": datetime(2024, 3, 5, 9, 14, tzinfo=UTC),
                    "bob": datetime(2023, 11, 20, 17, 2, 33, tzinfo=UTC)}


def test_windows_parsers_on_recorded_outputs():
    members = win.parse_local_group_members((FIX / "win_administrators.json").read_text())
    assert [m["name"] for m in members] == ["WIN2022SC\\Administrator", "WIN2022SC\\vagrant"]
    assert members[0]["sid"].endswith("-500")
    assert members[0]["source"] == "Local"
    assert members[1]["object_class"] == "User"
    pol = win.parse_net_accounts((FIX / "win_net_accounts.txt").read_text())
    assert pol == {"force_logoff": "Never", "min_age_days": 0, "max_age_days": 42,
                   "min_length": 0, "history_length": None, "lockout_threshold": None,
                   "lockout_duration_minutes": 30, "lockout_window_minutes": 30,
                   "computer_role": "WORKSTATION"}


# --- the check on injected sources -----------------------------------------------------

def test_check_derives_states_admins_and_never_leaks_hashes():
    out = make(base_files()).collect()
    validate(out.data)
    text = json.dumps(out.data)
    assert not HASH_LIKE.search(text), "a crypt hash prefix leaked into data"
    for line in SHADOW.splitlines():
        field = line.split(":")[1]
        if len(field) > 2:
            assert field not in text
            assert field.lstrip("!") not in text
    users = {u["name"]: u for u in out.data["users"]}
    assert users["bob"]["password_state"] == "empty"
    assert users["carol"]["password_state"] == "locked"
    assert users["carol"]["login_capable"] is False
    assert users["svc"]["login_shell"] is False
    assert out.data["empty_password"] == ["bob"]
    assert out.status == "fail"  # bob: empty password and a login shell
    admins = {a["name"]: a["via"] for a in out.data["admins"]}
    assert admins == {"root": ["sudoers:root", "uid0"], "alice": ["group:sudo", "sudoers:%sudo"],
                      "dave": ["group:sudo", "sudoers:%sudo"]}
    ages = {a["name"]: a for a in out.data["privileged_password_age"]}
    assert ages["root"]["password_changed"] == "2023-12-09"
    assert ages["root"]["too_old"] is True
    assert ages["dave"]["too_old"] is False  # changed 2024-05-27
    pol = out.data["password_policy"]
    assert pol["login_defs"]["pass_max_days"] == 99999
    assert pol["pwquality"] == {"enabled_in_pam": False, "minlen": None, "minclass": None}


def test_dormant_accounts_and_last_login():
    out = make(base_files(), dormant_days=90).collect()
    users = {u["name"]: u for u in out.data["users"]}
    assert users["alice"]["last_login"] == "2024-03-05T09:14:00.000Z"
    dormant = {d["name"]: d for d in out.data["dormant"]}
    # alice: 88 days ago -> not dormant; root logs in never and changed its password long ago
    assert "alice" not in dormant
    assert dormant["root"]["reason"] == "never logged in"
    # dave never logged in but his password is 4 days old: a new account, not dormant
    assert "dave" not in dormant
    out = make(base_files(), dormant_days=30).collect()
    assert {d["name"]: d["days"] for d in out.data["dormant"]}["alice"] == 88


def test_without_root_shadow_and_sudoers_are_reported_unreadable():
    denied = PermissionError(13, "Permission denied")
    out = make(base_files(**{"/etc/shadow": denied, "/etc/sudoers": denied})).collect()
    validate(out.data)
    src = out.data["sources"]
    assert src["shadow"] == {"available": False, "detail": "/etc/shadow: permission denied "
                                                           "(needs root)"}
    assert src["sudoers"]["available"] is False
    assert {u["password_state"] for u in out.data["users"]} == {"unknown"}
    assert out.data["privileged_password_age"][0]["age_days"] is None


def test_sudoers_includedir_is_followed():
    files = base_files(**{"/etc/sudoers.d/90-ops": "bob ALL=(ALL) ALL\n",
                          "/etc/sudoers.d/README": "# nothing\n"})
    chk = AccountsCheck({}, read=fake_files(files), now=lambda: NOW, platform="linux",
                        listdir=lambda p: ["90-ops", "README", "old.bak", "x~"],
                        run=fake_run({}), host_names=lambda: ({"web1"}, set()))
    out = chk.collect()
    assert {a["name"] for a in out.data["admins"]} == {"root", "alice", "dave", "bob"}
    assert "/etc/sudoers.d/90-ops" in out.data["sources"]["sudoers"]["detail"]
    assert out.data["sources"]["last_login"]["available"] is False
    assert out.data["dormant"] == []  # nothing is dormant when logins are unknowable


def test_windows_collect_on_recorded_outputs():
    admins = (FIX / "win_administrators.json").read_text()
    users = (FIX / "win_localusers.json").read_text()

    def run(argv, timeout):
        if argv[0] == "net":
            return CommandResult(tuple(argv), 0, (FIX / "win_net_accounts.txt").read_text(), "")
        return CommandResult(tuple(argv), 0, users if "Get-LocalUser" in argv[-1] else admins,
                             "")

    out = AccountsCheck({}, run=run, now=lambda: NOW, platform="win32").collect()
    validate(out.data)
    assert [a["name"] for a in out.data["admins"]] == ["WIN2022SC\\Administrator",
                                                       "WIN2022SC\\vagrant"]
    assert [u["name"] for u in out.data["users"]] == ["Administrator", "Guest"]
    assert out.data["password_policy"]["windows"]["max_age_days"] == 42


# --- for real on this host -------------------------------------------------------------

def test_real_host_users_match_getent():
    out = AccountsCheck().collect()
    validate(out.data)
    assert not HASH_LIKE.search(json.dumps(out.data))
    getent = subprocess.run(["getent", "passwd"], capture_output=True, text=True, check=True)
    expected = {}
    for line in getent.stdout.splitlines():
        name, _, uid, gid, _, home, shell = line.split(":")
        expected[name] = (int(uid), int(gid), home, shell)
    got = {u["name"]: (u["uid"], u["gid"], u["home"], u["shell"]) for u in out.data["users"]}
    assert got == expected
    assert out.data["sources"]["shadow"]["available"] is True  # tests run as root here
    assert {"name": "root", "via": ["uid0"]} in [
        {"name": a["name"], "via": [v for v in a["via"] if v == "uid0"]}
        for a in out.data["admins"]]
    assert "lastlog: ok" in out.data["sources"]["last_login"]["detail"]


def test_lastlog_and_last_real_tools(tmp_path):
    """The real lastlog/last binaries, pointed at a database written here, feed the check."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var" / "log").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    t_ll = calendar.timegm((2024, 5, 30, 8, 0, 0))
    t_w = calendar.timegm((2024, 5, 31, 7, 30, 0))
    db = bytearray(292 * 1004)
    db[292 * 1000:292 * 1001] = struct.pack("<i32s256s", t_ll, b"pts/3", b"198.51.100.7")
    (root / "var" / "log" / "lastlog").write_bytes(bytes(db))
    wtmp = tmp_path / "wtmp"
    wtmp.write_bytes(struct.pack("<hxxi32s4s32s256shhiii4i20x", 7, 777, b"pts/4", b"ts/4",
                                 b"alice", b"203.0.113.9", 0, 0, 0, t_w, 0, 0, 0, 0, 0))

    def run(argv, timeout):
        if argv[0] == "lastlog":
            argv = ["lastlog", "-R", str(root)]
        elif argv[0] == "last":
            argv = [*argv, "-f", str(wtmp)]
        return run_command(argv, timeout)

    files = base_files()
    out = AccountsCheck({}, read=fake_files(files), listdir=lambda p: [], run=run,
                        now=lambda: NOW, platform="linux").collect()
    users = {u["name"]: u for u in out.data["users"]}
    # wtmp (2024-05-31) is newer than lastlog (2024-05-30): the newest wins
    assert users["alice"]["last_login"] == "2024-05-31T07:30:00.000Z"
    assert users["bob"]["last_login"] is None
    assert out.data["sources"]["last_login"]["detail"] == "lastlog: ok; last: ok"


@pytest.mark.parametrize("field", ["", "!", "!!", "*", "!*", "$6$x$y", "!$6$x$y"])
def test_password_state_classifies_every_shadow_form(field):
    expected = {"": "empty", "!": "locked", "!!": "locked", "*": "none", "!*": "locked",
                "$6$x$y": "set", "!$6$x$y": "locked"}[field]
    assert lx.password_state(field) == expected


def test_second_uid0_empty_passwd_field_and_locked_root_age():
    passwd = PASSWD.replace("root:x:0:0", "root:*:0:0") + (
        "toor:x:0:0::/root:/bin/sh\nguest::1100:1100::/home/guest:/bin/bash\n"
        "ghost:x:1101:1101::/home/ghost:/bin/bash\n")
    shadow = SHADOW.replace("root:$y$j9T$abcdefgh$ijklmnopqrstuvwxyz0123456789ABCDEFGHIJK:",
                            "root:*:") + "toor:!:19000:0:99999:7:::\n"
    out = make(base_files(**{"/etc/passwd": passwd, "/etc/shadow": shadow})).collect()
    validate(out.data)
    assert out.data["uid0_accounts"] == ["root", "toor"]
    assert out.data["extra_uid0_accounts"] == ["toor"]
    assert out.status == "fail"
    users = {u["name"]: u for u in out.data["users"]}
    # guest: empty passwd field, no shadow line -> su lets anyone in
    assert (users["guest"]["password_state"], users["guest"]["password_source"]) == (
        "empty", "passwd")
    assert "guest" in out.data["empty_password"]
    # ghost: "x" but no shadow line -> PAM finds no password at all
    assert (users["ghost"]["password_state"], users["ghost"]["password_source"]) == (
        "none", "none")
    # root's passwd field "*" wins over shadow: no password, so no age to judge
    ages = {a["name"]: a for a in out.data["privileged_password_age"]}
    assert ages["root"]["password_state"] == "none"
    assert (ages["root"]["age_days"], ages["root"]["too_old"]) == (None, False)


def test_limited_sudo_is_listed_apart_from_admins():
    files = base_files(**{"/etc/sudoers.d/50-ops": "bob ALL=(root) /usr/bin/apt\n"
                                                    "carol db9=(ALL) ALL\n"})
    chk = AccountsCheck({}, read=fake_files(files), now=lambda: NOW, platform="linux",
                        listdir=lambda p: ["50-ops"], run=fake_run({}),
                        host_names=lambda: ({"web1"}, set()))
    out = chk.collect()
    validate(out.data)
    assert {a["name"] for a in out.data["admins"]} == {"root", "alice", "dave"}
    assert out.data["limited_sudo"] == [
        {"name": "bob", "commands": [{"runas": "root", "command": "/usr/bin/apt"}]}]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abAL =(),:!%#@+\\/\n\t*NOPASSWD")), max_size=200))
def test_sudoers_parser_never_raises(text):
    rules = sudo.parse(text)
    sudo.access_by_user(rules, lx.parse_passwd(PASSWD), lx.parse_group(GROUP), {"web1"},
                        {"192.0.2.10"})
