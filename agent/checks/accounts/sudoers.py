"""Pure sudoers(5) parsing: who may run what as whom on which host.

A rule counts for this host only when its host list matches one of the host's names or
addresses (``ALL``, a name, a wildcard, an address or network, a Host_Alias; a netgroup
cannot be resolved here and is taken as matching). A rule makes its users **admins**
when it lets them run every command (``ALL``) — or a shell, ``su`` or ``sudo``, which is
the same — as root; any other grant (one command, or commands as another user) is
**limited** and is reported apart, with its commands.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field

from .linux import GroupEntry, PasswdEntry, group_members

ALIAS_KINDS = ("User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")
# Commands that give a root shell as surely as ALL does (sudoedit only on sudoers itself).
FULL_COMMANDS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish",
                           "su", "sudo", "visudo", "env"})
_INCLUDE = re.compile(r"^[@#](include|includedir)\s+(\S.*)$")
_TAGS = r"(?:NO)?(?:EXEC|FOLLOW|LOG_INPUT|LOG_OUTPUT|MAIL|INTERCEPT|PASSWD|SETENV)"
_TAG = re.compile(rf"^{_TAGS}:\s*")
_TAG_END = re.compile(rf"\b{_TAGS}$")
_OPTION = re.compile(r"^(?:CWD|CHROOT|ROLE|TYPE|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE|"
                     r"PRIVS|LIMITPRIVS)=\S+\s*")


@dataclass(frozen=True, slots=True)
class Grant:
    """One Cmnd_Spec of a user specification: users, hosts, run-as users, one command."""

    users: tuple[str, ...]
    hosts: tuple[str, ...]
    runas: tuple[str, ...] | None  # None: no run-as list, so root (runas_default)
    command: str


@dataclass
class Sudoers:
    """The grants and aliases of a sudoers file (and, merged, its includes)."""

    grants: list[Grant] = field(default_factory=list)
    aliases: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def merge(self, other: Sudoers) -> None:
        """Add another file's grants and aliases (an include)."""
        self.grants += other.grants
        for kind, names in other.aliases.items():
            self.aliases.setdefault(kind, {}).update(names)


def logical_lines(text: str) -> list[str]:
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


def includes(text: str) -> list[tuple[str, str]]:
    """The include directives of a sudoers file as (kind, path) pairs."""
    out = []
    for line in logical_lines(text):
        m = _INCLUDE.match(line)
        if m:
            out.append((m.group(1), m.group(2).strip().strip('"')))
    return out


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and not escaped with a backslash."""
    parts, depth, cur, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += text[i:i + 2]
            i += 2
            continue
        depth += (ch == "(") - (ch == ")")
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    parts.append(cur.strip())
    return [p for p in parts if p]


def _items(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"\s+", "", p) for p in _split(text, ","))


def parse(text: str) -> Sudoers:
    """Grants and aliases of one sudoers file (no includes followed)."""
    out = Sudoers()
    for line in logical_lines(text):
        if _INCLUDE.match(line) or line.startswith("Defaults"):
            continue
        kind = line.split(None, 1)[0]
        if kind in ALIAS_KINDS:
            kind = "Cmnd_Alias" if kind == "Cmd_Alias" else kind
            for spec in _split(line.split(None, 1)[1] if " " in line else "", ":"):
                name, _, members = spec.partition("=")
                out.aliases.setdefault(kind, {})[name.strip()] = list(
                    _items(members) if kind != "Cmnd_Alias" else _split(members, ","))
            continue
        if "=" in line:
            out.grants += _user_spec(line)
    return out


def _user_spec(line: str) -> list[Grant]:
    m = re.match(r"^(?P<users>(?:[^\s,]+\s*,\s*)*[^\s,=]+)\s+(?P<rest>.*)$", line)
    if not m:
        return []
    users = _items(m["users"])
    grants: list[Grant] = []
    parts: list[str] = []
    for piece in _split(m["rest"], ":"):
        if parts and _TAG_END.search(parts[-1]):  # "NOPASSWD: ALL": a tag, not a new spec
            parts[-1] += ": " + piece
        else:
            parts.append(piece)
    for part in parts:
        hosts_text, eq, cmnds = part.partition("=")
        if not eq:
            continue
        hosts = _items(hosts_text)
        runas: tuple[str, ...] | None = None
        for spec in _split(cmnds, ","):
            spec = spec.strip()
            r = re.match(r"^\((?P<users>[^:)]*)(?::(?P<groups>[^)]*))?\)\s*", spec)
            if r:
                # "(:grp)" runs as the invoking user with another group: not as root
                runas = _items(r["users"]) if r["users"].strip() else ("(invoking user)",)
                spec = spec[r.end():]
            while True:
                cut = _OPTION.match(spec) or _TAG.match(spec)
                if not cut:
                    break
                spec = spec[cut.end():]
            if spec:
                grants.append(Grant(users, hosts, runas, re.sub(r"\s+", " ", spec)))
    return grants


def _expand(items: tuple[str, ...] | list[str], aliases: dict[str, list[str]],
            depth: int = 0) -> list[tuple[bool, str]]:
    """(negated, item) pairs with aliases replaced by their members (nested, bounded)."""
    out: list[tuple[bool, str]] = []
    for raw in items:
        neg = raw.startswith("!")
        item = raw.lstrip("!").strip()
        if item in aliases and depth < 8:
            out += [(neg != n, x) for n, x in _expand(aliases[item], aliases, depth + 1)]
        else:
            out.append((neg, item))
    return out


def host_matches(hosts: tuple[str, ...], aliases: dict[str, list[str]],
                 names: set[str], addresses: set[str]) -> bool:
    """Whether a host list names this host (the last matching item decides, as in sudo)."""
    result = False
    for neg, item in _expand(hosts, aliases):
        if _one_host(item, names, addresses):
            result = not neg
    return result


def _one_host(item: str, names: set[str], addresses: set[str]) -> bool:
    if item == "ALL" or item.startswith("+"):  # a netgroup: unknowable here, assume yes
        return True
    try:
        net = ipaddress.ip_network(item, strict=False)
    except ValueError:
        low = item.lower()
        return any(fnmatch.fnmatchcase(n.lower(), low) for n in names)
    return any(_in(a, net) for a in addresses)


def _in(address: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]) in net
    except ValueError:
        return False


def runs_as_root(runas: tuple[str, ...] | None, aliases: dict[str, list[str]]) -> bool:
    """Whether the run-as list includes root (no list: root, sudo's runas_default)."""
    if runas is None:
        return True
    result = False
    for neg, item in _expand(runas, aliases):
        if item in ("ALL", "root", "#0"):
            result = not neg
    return result


def full_command(command: str, aliases: dict[str, list[str]]) -> bool:
    """Whether a command (or Cmnd_Alias) is ALL, a shell, su or sudo: root for anything."""
    for neg, item in _expand([command], aliases):
        if neg:
            continue
        if item == "ALL":
            return True
        words = item.split()
        base = words[0].rsplit("/", 1)[-1] if words else ""
        if base in FULL_COMMANDS or base == "sudoedit" and any(
                w.startswith("/etc/sudoers") for w in words[1:]):
            return True
    return False


def users_of(users: tuple[str, ...], aliases: dict[str, list[str]],
             passwd: list[PasswdEntry], groups: list[GroupEntry]) -> list[str]:
    """Local users a User_List names (``ALL``: every account; ``!x`` takes x out)."""
    by_uid = {p.uid: p.name for p in passwd}
    names = {p.name for p in passwd}
    chosen: set[str] = set()
    removed: set[str] = set()
    for neg, item in _expand(users, aliases):
        if item == "ALL":
            found = set(names)
        elif item.startswith("%"):
            found = set(group_members(item[1:].lstrip(":"), passwd, groups))
        elif item.startswith("#") and item[1:].isdigit():
            found = {by_uid[int(item[1:])]} if int(item[1:]) in by_uid else set()
        else:
            found = {item} & names
        (removed if neg else chosen).update(found)
    return sorted(chosen - removed)


@dataclass(frozen=True, slots=True)
class Access:
    """What sudoers gives one user on this host."""

    full: tuple[str, ...]  # the user principals (as written) of rules giving full root
    limited: tuple[tuple[str, str], ...]  # (run-as, command) of every other grant here


def access_by_user(rules: Sudoers, passwd: list[PasswdEntry], groups: list[GroupEntry],
                   names: set[str], addresses: set[str]) -> dict[str, Access]:
    """Every local user with a sudo grant that applies to this host, full or limited."""
    user_alias = rules.aliases.get("User_Alias", {})
    host_alias = rules.aliases.get("Host_Alias", {})
    runas_alias = rules.aliases.get("Runas_Alias", {})
    cmnd_alias = rules.aliases.get("Cmnd_Alias", {})
    full: dict[str, list[str]] = {}
    limited: dict[str, list[tuple[str, str]]] = {}
    for g in rules.grants:
        if not host_matches(g.hosts, host_alias, names, addresses):
            continue
        root = runs_as_root(g.runas, runas_alias)
        is_full = root and full_command(g.command, cmnd_alias)
        principal = ",".join(g.users)
        for user in users_of(g.users, user_alias, passwd, groups):
            if is_full:
                full.setdefault(user, []).append(principal)
            else:
                runas = "root" if g.runas is None else ",".join(g.runas)
                limited.setdefault(user, []).append((runas, g.command))
    return {u: Access(tuple(dict.fromkeys(full.get(u, []))),
                      tuple(dict.fromkeys(limited.get(u, []))))
            for u in sorted(set(full) | set(limited))}
