"""accounts: local users, who is admin, empty/locked passwords, password policy, last logins.

Linux: reads /etc/passwd, /etc/group, /etc/shadow (root only; only derived facts are
kept, never a hash), /etc/sudoers and /etc/sudoers.d, login.defs, pwquality, faillock
and PAM config, and runs ``lastlog`` and ``last``. A password state is what PAM sees:
the passwd field unless it is ``x``, then shadow (an empty passwd field lets anyone in).
Admins are uid-0 accounts (any one but root fails the check), members of the admin
groups and users whom sudoers lets run everything as root on this host; narrower sudo
grants are listed apart (``limited_sudo``). Windows (``wincollect``): local
users, Administrators members (PowerShell) and ``net accounts``. Without root, shadow and
sudoers are reported as unreadable and password states are "unknown".
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

import psutil
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

from ... import ostext
from ...commands import CommandError
from ..base import Check, CheckSkipped, Option, Outcome, worst
from . import linux as lx
from . import sudoers as sudo
from .wincollect import collect_windows

MAX_USERS = 5000


def read_file(path: str) -> str:
    """A config file's text; raises OSError (FileNotFoundError, PermissionError…)."""
    return ostext.read_text(path)


def list_dir(path: str) -> list[str]:
    """Names in a directory; raises OSError."""
    return sorted(os.listdir(path))


def this_host() -> tuple[set[str], set[str]]:
    """This host's names (as sudo matches them: the hostname, short and as set) and its
    addresses, for sudoers host lists."""
    name = socket.gethostname()
    addresses = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                 if a.family in (socket.AF_INET, socket.AF_INET6)}
    return {name, name.split(".", 1)[0]}, addresses


def _password_source(p: lx.PasswdEntry, sf: lx.ShadowFacts | None) -> str:
    if p.field_state != lx.SHADOWED:
        return "passwd"
    return "shadow" if sf is not None else "none"


def _why(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied (needs root)"
    if isinstance(e, FileNotFoundError):
        return "not present"
    return e.strerror or str(e)


class AccountsCheck(Check):
    """Accounts and admin rights; root gives shadow and sudoers facts."""

    name: ClassVar[str] = "accounts"
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 60.0
    options: ClassVar = {
        "dormant_days": Option(int, 90, "days without a login after which an account is dormant"),
        "admin_groups": Option(list, ["sudo", "wheel", "admin"],
                               "groups whose members have admin rights"),
        "admin_password_max_age_days": Option(int, 90,
                                              "age at which an admin's password warns"),
    }

    def __init__(self, *args: Any, read: Callable[[str], str] = read_file,
                 listdir: Callable[[str], list[str]] = list_dir,
                 now: Callable[[], datetime] = utcnow,
                 host_names: Callable[[], tuple[set[str], set[str]]] = this_host,
                 platform: str = sys.platform, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read = read
        self.listdir = listdir
        self.now = now
        self.host_names = host_names
        self.platform = platform

    def collect(self) -> Outcome:
        """Gather account facts for this platform."""
        if self.platform.startswith("linux"):
            return self._linux()
        if self.platform == "win32":
            return self._windows()
        msg = f"accounts: no collector for platform {self.platform}"
        raise CheckSkipped(msg)

    # --- Linux -------------------------------------------------------------------------

    def _linux(self) -> Outcome:
        c = self.config
        now = self.now()
        today = now.date()
        sources: dict[str, dict[str, Any]] = {}
        passwd = lx.parse_passwd(self._source("/etc/passwd", "passwd", sources) or "")
        groups = lx.parse_group(self._source("/etc/group", "group", sources) or "")
        shadow_text = self._source("/etc/shadow", "shadow", sources)
        shadow = lx.parse_shadow(shadow_text, today) if shadow_text is not None else None
        del shadow_text  # hashes never leave this line
        via, limited = self._admins(passwd, groups, sources)
        logins = self._last_logins(sources)
        users, admins, dormant, priv_age = [], [], [], []
        empty, locked, empty_login = [], [], False
        for p in passwd[:MAX_USERS]:
            sf = shadow.get(p.name) if shadow is not None else None
            state = lx.account_password(p, shadow)
            capable = (lx.is_login_shell(p.shell) and state not in ("locked", "none")
                       and not (sf and sf.expired))
            last = logins.get(p.name)
            changed = sf.last_change if sf and p.field_state == lx.SHADOWED else None
            users.append({
                "name": p.name, "uid": p.uid, "gid": p.gid, "home": p.home, "shell": p.shell,
                "login_shell": lx.is_login_shell(p.shell), "login_capable": capable,
                "password_state": state, "password_source": _password_source(p, sf),
                "expired": bool(sf and sf.expired), "admin": p.name in via,
                "password_changed": changed.isoformat() if changed else None,
                "last_login": format_time(last) if last else None,
            })
            if state == "empty":
                empty.append(p.name)
                empty_login = empty_login or lx.is_login_shell(p.shell)
            elif state == "locked":
                locked.append(p.name)
            if p.name in via:
                admins.append({"name": p.name, "via": sorted(via[p.name])})
                priv_age.append(self._password_age(p.name, state, changed, today))
            if capable and sources["last_login"]["available"]:
                entry = self._dormant(p.name, last, changed, today, now)
                if entry:
                    dormant.append(entry)
        uid0 = [p.name for p in passwd if p.uid == 0]
        # root is the one uid-0 account a system needs; every other one is a second root
        extra_uid0 = [n for n in uid0 if n != "root"] if "root" in uid0 else uid0[1:]
        status = worst(
            "fail" if empty_login or extra_uid0 else "ok",
            "warn" if dormant or any(a["too_old"] for a in priv_age) else "ok",
        )
        data = {
            "platform": "linux",
            "users": users,
            "users_truncated": len(passwd) > MAX_USERS,
            "admins": admins,
            "uid0_accounts": uid0[:100],
            "extra_uid0_accounts": extra_uid0[:100],
            "limited_sudo": limited[:MAX_USERS],
            "empty_password": empty,
            "locked": locked,
            "password_policy": lx.password_policy(self._optional),
            "privileged_password_age": priv_age,
            "dormant_days": c["dormant_days"],
            "dormant": dormant,
            "sources": sources,
        }
        return Outcome(status, data)

    def _password_age(self, name: str, state: str, changed: date | None,
                      today: date) -> dict[str, Any]:
        """An admin's password age; an account without a usable password has no age to
        judge (a locked root on stock Debian is not "too old")."""
        age = (today - changed).days if changed and state == "set" else None
        return {"name": name, "password_state": state,
                "password_changed": changed.isoformat() if changed else None,
                "age_days": age,
                "too_old": age is not None and age > self.config["admin_password_max_age_days"]}

    def _source(self, path: str, key: str, sources: dict[str, dict[str, Any]]) -> str | None:
        try:
            text = self.read(path)
        except OSError as e:
            sources[key] = {"available": False, "detail": f"{path}: {_why(e)}"}
            return None
        sources[key] = {"available": True, "detail": path}
        return text

    def _admins(self, passwd: list[lx.PasswdEntry], groups: list[lx.GroupEntry],
                sources: dict[str, dict[str, Any]]
                ) -> tuple[dict[str, set[str]], list[dict[str, Any]]]:
        via: dict[str, set[str]] = {}
        for p in passwd:
            if p.uid == 0:
                via.setdefault(p.name, set()).add("uid0")
        for gname in self.config["admin_groups"]:
            for user in lx.group_members(gname, passwd, groups):
                via.setdefault(user, set()).add(f"group:{gname}")
        rules, read_files = self._sudoers("/etc/sudoers", sources, depth=0)
        names, addresses = self.host_names()
        access = sudo.access_by_user(rules, passwd, groups, names, addresses)
        limited = []
        for user, acc in access.items():
            for principal in acc.full:
                via.setdefault(user, set()).add(f"sudoers:{principal}"[:256])
            if acc.limited and not acc.full:
                limited.append({"name": user, "commands": [
                    {"runas": r[:256], "command": cmd[:512]} for r, cmd in acc.limited[:50]]})
        if "sudoers" in sources and sources["sudoers"]["available"]:
            sources["sudoers"]["detail"] = ", ".join(read_files)[:1000]
        return via, limited

    def _sudoers(self, path: str, sources: dict[str, dict[str, Any]],
                 depth: int) -> tuple[sudo.Sudoers, list[str]]:
        try:
            text = self.read(path)
        except OSError as e:
            if depth == 0:
                sources["sudoers"] = {"available": False, "detail": f"{path}: {_why(e)}"}
            return sudo.Sudoers(), []
        if depth == 0:
            sources["sudoers"] = {"available": True, "detail": path}
        rules = sudo.parse(text)
        files = [path]
        if depth >= 3:
            return rules, files
        for kind, target in sudo.includes(text):
            targets = [target]
            if kind == "includedir":
                try:
                    targets = [f"{target}/{n}" for n in self.listdir(target)
                               if not n.endswith("~") and "." not in n]
                except OSError:
                    continue
            for t in targets:
                more, more_files = self._sudoers(t, sources, depth + 1)
                rules.merge(more)
                files += more_files
        return rules, files

    def _last_logins(self, sources: dict[str, dict[str, Any]]) -> dict[str, datetime]:
        logins: dict[str, datetime] = {}
        details = []
        for argv, parse in ((["lastlog"], lx.parse_lastlog),
                            (["last", "-w", "--time-format", "iso"], lx.parse_last)):
            try:
                res = self.run(argv, 30.0)
            except CommandError as e:
                details.append(f"{argv[0]}: {e}")
                continue
            if res.returncode != 0:
                details.append(f"{argv[0]}: exit {res.returncode}: {res.stderr.strip()[:200]}")
                continue
            details.append(f"{argv[0]}: ok")
            for user, ts in parse(res.stdout).items():
                if ts is not None and (user not in logins or ts > logins[user]):
                    logins[user] = ts
        available = any(d.endswith(": ok") for d in details)
        sources["last_login"] = {"available": available, "detail": "; ".join(details)[:1000]}
        return logins

    def _dormant(self, name: str, last: datetime | None, changed: date | None, today: date,
                 now: datetime) -> dict[str, Any] | None:
        limit = self.config["dormant_days"]
        if last is not None:
            days = (now - last).days
            if days < limit:
                return None
            return {"name": name, "last_login": format_time(last), "days": days,
                    "reason": f"no login for {days} days"}
        if changed is not None and (today - changed).days < limit:
            return None  # a new account that has not logged in yet
        return {"name": name, "last_login": None, "days": None, "reason": "never logged in"}

    def _optional(self, path: str) -> str | None:
        try:
            return self.read(path)
        except OSError:
            return None

    # --- Windows -----------------------------------------------------------------------

    def _windows(self) -> Outcome:
        return collect_windows(self.run, self.now(), self.config, self._dormant)
