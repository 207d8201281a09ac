"""Pure parsers for Linux account sources: passwd, group, shadow, sudoers, policy files, logins.

Nothing here touches the system; :mod:`.accounts` feeds these functions. Shadow is read
only to derive facts (empty / locked / last change / expiry): no function returns any
part of a password hash.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

NOLOGIN_SHELLS = frozenset({"nologin", "false", "true", "sync", "shutdown", "halt"})
EPOCH = date(1970, 1, 1)
SHADOWED = "shadow"  # the passwd field is "x": /etc/shadow holds the password state
PAM_FILES = ("/etc/pam.d/common-password", "/etc/pam.d/common-auth",
             "/etc/pam.d/system-auth", "/etc/pam.d/password-auth")


@dataclass(frozen=True, slots=True)
class PasswdEntry:
    """One line of /etc/passwd. ``field_state`` is the password field as classified by
    :func:`passwd_field_state` ("shadow" for the usual ``x``), never the field itself."""

    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str
    field_state: str = "shadow"


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
        field = "x" if parts[1] == f"##{parts[0]}" else parts[1]  # old SunOS-style shadow
        out.append(PasswdEntry(parts[0], uid, gid, parts[4], parts[5], parts[6],
                               passwd_field_state(field)))
    return out


def passwd_field_state(field: str) -> str:
    """The passwd(5) password field: "shadow" (``x``: shadow decides) or, when the field
    itself holds the password, its state as :func:`password_state` names it (an empty
    field means no password at all: ``su`` and ``login`` let anyone in)."""
    return SHADOWED if field == "x" else password_state(field)


def account_password(entry: PasswdEntry, shadow: dict[str, ShadowFacts] | None) -> str:
    """What logging in as this account takes, as PAM (pam_unix) sees it: the passwd field
    unless it is ``x``, then the shadow line; ``x`` with no shadow line is "none" (pam_unix
    refuses every password), "unknown" when shadow cannot be read."""
    if entry.field_state != SHADOWED:
        return entry.field_state
    if shadow is None:
        return "unknown"
    facts = shadow.get(entry.name)
    return facts.password if facts else "none"


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


def password_policy(optional: Callable[[str], str | None]) -> dict[str, Any]:
    """login.defs, pwquality and faillock settings, PAM arguments winning over the files
    (``optional`` reads a file, None when absent)."""
    defs = parse_login_defs(optional("/etc/login.defs") or "")
    pwq = parse_key_values(optional("/etc/security/pwquality.conf") or "")
    flk = parse_key_values(optional("/etc/security/faillock.conf") or "")
    pam_pwq: dict[str, str] | None = None
    pam_flk: dict[str, str] | None = None
    for path in PAM_FILES:
        text = optional(path)
        if text is None:
            continue
        for module in ("pam_pwquality.so", "pam_cracklib.so"):
            args = pam_module_args(text, module)
            if args is not None:
                pam_pwq = {**(pam_pwq or {}), **args}
        args = pam_module_args(text, "pam_faillock.so")
        if args is not None:
            pam_flk = {**(pam_flk or {}), **args}
    pwq.update(pam_pwq or {})
    flk.update(pam_flk or {})
    return {
        "login_defs": defs,
        "pwquality": {"enabled_in_pam": pam_pwq is not None,
                      "minlen": int_or_none(pwq.get("minlen")),
                      "minclass": int_or_none(pwq.get("minclass"))},
        "faillock": {"enabled_in_pam": pam_flk is not None,
                     "deny": int_or_none(flk.get("deny")),
                     "unlock_time": int_or_none(flk.get("unlock_time"))},
    }


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
