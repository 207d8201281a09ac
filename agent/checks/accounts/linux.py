"""Pure parsers for Linux account sources: passwd, group, shadow, sudoers, policy files, logins.

Nothing here touches the system; :mod:`.accounts` feeds these functions. Shadow is read
only to derive facts (empty / locked / last change / expiry): no function returns any
part of a password hash.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

NOLOGIN_SHELLS = frozenset({"nologin", "false", "true", "sync", "shutdown", "halt"})
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class PasswdEntry:
    """One line of /etc/passwd (no password field: it is always 'x' or '*' nowadays)."""

    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """One line of /etc/group."""

    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShadowFacts:
    """What we keep from one shadow line: derived facts, never the hash."""

    name: str
    password: str  # "set" | "empty" | "locked" | "none"
    last_change: date | None
    expired: bool


def parse_passwd(text: str) -> list[PasswdEntry]:
    """Parse passwd(5) lines; malformed lines and NIS '+' entries are skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) != 7 or not parts[0] or parts[0][0] in "+-#":
            continue
        try:
            uid, gid = int(parts[2]), int(parts[3])
        except ValueError:
            continue
        out.append(PasswdEntry(parts[0], uid, gid, parts[4], parts[5], parts[6]))
    return out


def parse_group(text: str) -> list[GroupEntry]:
    """Parse group(5) lines into name, gid and explicit members."""
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) != 4 or not parts[0] or parts[0][0] in "+-#":
            continue
        try:
            gid = int(parts[2])
        except ValueError:
            continue
        members = tuple(m.strip() for m in parts[3].split(",") if m.strip())
        out.append(GroupEntry(parts[0], gid, members))
    return out


def password_state(field: str) -> str:
    """Classify a shadow password field without keeping it: set, empty, locked or none."""
    if field == "":
        return "empty"
    if field.startswith("!"):
        return "locked"
    if field.startswith("*") or len(field) < 3:
        return "none"
    return "set"


def parse_shadow(text: str, today: date) -> dict[str, ShadowFacts]:
    """Derive per-user facts from shadow(5); the hash itself is dropped immediately."""
    out: dict[str, ShadowFacts] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 8 or not parts[0]:
            continue
        state = password_state(parts[1])
        last_change = None
        if parts[2].strip().isdigit() and int(parts[2]) > 0:
            last_change = EPOCH + timedelta(days=int(parts[2]))
        expired = parts[7].strip().isdigit() and EPOCH + timedelta(days=int(parts[7])) <= today
        out[parts[0]] = ShadowFacts(parts[0], state, last_change, bool(expired))
    return out


def is_login_shell(shell: str) -> bool:
    """True when the shell lets someone in interactively (not nologin/false/sync…)."""
    base = shell.rstrip("/").rsplit("/", 1)[-1]
    return bool(base) and base not in NOLOGIN_SHELLS


# --- sudoers -------------------------------------------------------------------------

_ALIAS_KINDS = ("User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")
_INCLUDE = re.compile(r"^[@#](include|includedir)\s+(\S.*)$")


def sudoers_logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments removed (includes kept)."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        line = (buf + line).strip()
        buf = ""
        if not line:
            continue
        if _INCLUDE.match(line):
            out.append(line)
            continue
        if line.startswith("#") and not re.match(r"^#-?\d", line):
            continue
        out.append(line)
    return out


def sudoers_includes(text: str) -> list[tuple[str, str]]:
    """The include directives of a sudoers file as (kind, path) pairs."""
    out = []
    for line in sudoers_logical_lines(text):
        m = _INCLUDE.match(line)
        if m:
            out.append((m.group(1), m.group(2).strip().strip('"')))
    return out


def parse_sudoers(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """User principals granted rules (``alice``, ``%wheel``, ``#0``, ``ALL``) and User_Aliases."""
    principals: list[str] = []
    aliases: dict[str, list[str]] = {}
    for line in sudoers_logical_lines(text):
        if _INCLUDE.match(line) or line.startswith("Defaults"):
            continue
        kind = line.split(None, 1)[0]
        if kind in _ALIAS_KINDS:
            if kind == "User_Alias":
                for spec in line.split(None, 1)[1].split(":"):
                    name, _, members = spec.partition("=")
                    aliases[name.strip()] = [m.strip() for m in members.split(",") if m.strip()]
            continue
        if "=" not in line:
            continue
        before = re.sub(r"\s*,\s*", ",", line.split("=", 1)[0]).split()
        for user in before[0].split(",") if len(before) >= 2 else []:
            user = user.strip()
            if user and not user.startswith("!"):
                principals.append(user)
    return principals, aliases


def resolve_sudo_principals(
    principals: list[str], aliases: dict[str, list[str]], passwd: list[PasswdEntry],
    groups: list[GroupEntry],
) -> dict[str, str]:
    """Map each local user a sudoers principal names to the principal that grants it."""
    by_uid = {p.uid: p.name for p in passwd}
    out: dict[str, str] = {}
    seen: set[str] = set()
    todo = [(pr, pr) for pr in principals]
    while todo:
        pr, origin = todo.pop(0)
        if pr in seen:
            continue
        seen.add(pr)
        if pr in aliases:
            todo.extend((member, origin) for member in aliases[pr])
        elif pr.startswith("%"):
            for user in group_members(pr[1:], passwd, groups):
                out.setdefault(user, origin)
        elif pr.startswith("#") and pr[1:].isdigit():
            if int(pr[1:]) in by_uid:
                out.setdefault(by_uid[int(pr[1:])], origin)
        elif pr != "ALL" and any(p.name == pr for p in passwd):
            out.setdefault(pr, origin)
    return out


def group_members(spec: str, passwd: list[PasswdEntry], groups: list[GroupEntry]) -> list[str]:
    """Users in a group (explicit members plus primary-group users); spec is a name or #gid."""
    match = [g for g in groups
             if (spec.startswith("#") and spec[1:].isdigit() and g.gid == int(spec[1:]))
             or g.name == spec]
    users: list[str] = []
    for g in match:
        users.extend(g.members)
        users.extend(p.name for p in passwd if p.gid == g.gid)
    return sorted(set(users))


# --- password policy files -----------------------------------------------------------

def parse_login_defs(text: str) -> dict[str, int | None]:
    """PASS_MAX_DAYS, PASS_MIN_DAYS, PASS_WARN_AGE and PASS_MIN_LEN from login.defs(5)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            values[parts[0]] = parts[1]
    keys = {"pass_max_days": "PASS_MAX_DAYS", "pass_min_days": "PASS_MIN_DAYS",
            "pass_warn_age": "PASS_WARN_AGE", "pass_min_len": "PASS_MIN_LEN"}
    return {k: int_or_none(values.get(v)) for k, v in keys.items()}


def parse_key_values(text: str) -> dict[str, str]:
    """``key = value`` files (pwquality.conf, faillock.conf); a bare key means true."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        out[key.strip()] = value.strip() if sep else "1"
    return out


def pam_module_args(text: str, module: str) -> dict[str, str] | None:
    """Arguments of ``module`` (e.g. pam_pwquality.so) in a PAM file, or None when absent."""
    found: dict[str, str] | None = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if module not in line:
            continue
        try:
            tokens = shlex.split(line.replace("[", " [ ").replace("]", " ] "))
        except ValueError:
            tokens = line.split()
        if not any(t.endswith(module) for t in tokens):
            continue
        found = found if found is not None else {}
        after = tokens[[i for i, t in enumerate(tokens) if t.endswith(module)][0] + 1:]
        for tok in after:
            key, sep, value = tok.partition("=")
            found[key] = value if sep else "1"
    return found


def int_or_none(value: str | None) -> int | None:
    """A config value as an integer; None when absent or not a number."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- last logins ---------------------------------------------------------------------

_LASTLOG_TIME = re.compile(
    r"(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d [+-]\d{4} \d{4})\s*$")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
_LAST_PSEUDO = frozenset({"reboot", "shutdown", "runlevel", "wtmp", "btmp"})


def parse_lastlog(text: str) -> dict[str, datetime | None]:
    """``lastlog`` output → user → last login (aware UTC) or None when never logged in."""
    out: dict[str, datetime | None] = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        user = line.split()[0]
        m = _LASTLOG_TIME.search(line)
        if m:
            out[user] = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
        elif "**Never logged in**" in line:
            out[user] = None
    return out


def parse_last(text: str) -> dict[str, datetime]:
    """``last -w --time-format iso`` output → user → newest login time (aware UTC)."""
    out: dict[str, datetime] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] in _LAST_PSEUDO:
            continue
        m = _ISO_TIME.search(line)
        if not m:
            continue
        ts = datetime.fromisoformat(m.group(0)).astimezone(UTC)
        if parts[0] not in out or ts > out[parts[0]]:
            out[parts[0]] = ts
    return out
