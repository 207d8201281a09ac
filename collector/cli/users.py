"""``hostpatrol-collector user``: add, set (display name, role), password, list, api-token."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path
from typing import Any

from hostpatrol.shared.clock import utcnow

from .context import CliError, cli_actor, engine_for

MIN_PASSWORD = 12  # people.PASSWORD_MIN (importing it here would load the collector)


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.password_file:
        text = Path(args.password_file).read_text(encoding="utf-8").strip()
        if len(text) < MIN_PASSWORD:
            msg = f"password must be at least {MIN_PASSWORD} characters"
            raise CliError(msg)
        return text, False
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            msg = "passwords differ"
            raise CliError(msg)
        if len(first) < MIN_PASSWORD:
            msg = f"password must be at least {MIN_PASSWORD} characters"
            raise CliError(msg)
        return first, False
    return secrets.token_urlsafe(15), True


def _role(role: str) -> str:
    from ..store import users

    if role not in users.ROLES:
        msg = f"unknown role {role!r}; one of: {', '.join(users.ROLES)}"
        raise CliError(msg)
    return role


def _user_name(text: str) -> str:
    from ..people import clean_user_name

    name = clean_user_name(text)
    if name is None:
        msg = (f"user name {text!r}: 1 to 64 letters (any script), digits or _.@-, "
               "without spaces")
        raise CliError(msg)
    return name


def cmd_user_password(args: argparse.Namespace) -> int:
    """Set a user's password (prompted, from --password-file, or generated and printed);
    the user's sessions end and the audit log records the reset."""
    from .. import audit
    from ..store import accounts, users

    engine = engine_for(args)
    with engine.connect() as conn:
        if users.by_name(conn, args.name) is None:
            msg = f"no user {args.name!r}"
            raise CliError(msg)
    password, generated = _read_password(args)
    with engine.begin() as conn:
        user = users.by_name(conn, args.name)
        if user is None:
            msg = f"no user {args.name!r}"
            raise CliError(msg)
        users.set_password(conn, user.id, password)
        accounts.close_user_sessions(conn, user.id)
        audit.record(conn, actor=cli_actor(), action="user.password_reset",
                     target=f"user:{user.name}", details={"generated": generated},
                     now=utcnow())
    print(f"user {user.name}: password changed; their sessions are signed out")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a dashboard user (with the real name reports print, if given)."""
    from .. import audit
    from ..people import clean_display_name
    from ..store import users

    role = _role(args.role)
    name = _user_name(args.name)
    display = clean_display_name(args.display_name)
    engine = engine_for(args)
    password, generated = _read_password(args)
    with engine.begin() as conn:
        if users.by_name(conn, name) is not None:
            msg = f"user {name!r} already exists"
            raise CliError(msg)
        uid = users.add_user(conn, name, role, password, utcnow(), display_name=display)
        audit.record(conn, actor=cli_actor(), action="user.create", target=f"user:{name}",
                     details={"role": role, "id": uid, "display_name": display}, now=utcnow())
    shown = f" ({display})" if display else ""
    print(f"user {name}{shown} created with role {role}")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_user_set(args: argparse.Namespace) -> int:
    """Change a user's display name (``--display-name ""`` removes it) or role."""
    from .. import audit
    from ..people import clean_display_name
    from ..store import accounts, users

    if args.display_name is None and args.role is None:
        msg = "nothing to change: give --display-name TEXT and/or --role ROLE"
        raise CliError(msg)
    display = clean_display_name(args.display_name)
    role = _role(args.role) if args.role is not None else None
    with engine_for(args).begin() as conn:
        user = users.by_name(conn, args.name)
        if user is None:
            msg = f"no user {args.name!r}"
            raise CliError(msg)
        changes: dict[str, Any] = {}
        if args.display_name is not None and display != user.display_name:
            users.set_display_name(conn, user.id, display)
            changes.update(display_name=display, previous_display_name=user.display_name)
        if role is not None and role != user.role:
            if user.role == "admin" and not user.disabled and accounts.count_admins(conn) <= 1:
                msg = f"{args.name} is the last admin; make another admin first"
                raise CliError(msg)
            accounts.update_user(conn, user.id, role=role, disabled=user.disabled)
            accounts.close_user_sessions(conn, user.id)
            changes.update(role=role, previous_role=user.role)
        if changes:
            audit.record(conn, actor=cli_actor(), action="user.update",
                         target=f"user:{args.name}", details=changes, now=utcnow())
    if not changes:
        print(f"user {args.name}: nothing changed")
        return 0
    name = display if args.display_name is not None else user.display_name
    print(f"user {args.name}: display name {name or '(none)'}, role {role or user.role}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """Print every user: login name, role, display name, disabled."""
    from ..store import accounts

    with engine_for(args).connect() as conn:
        rows = accounts.list_users(conn)
    print(f"{'NAME':24}  {'ROLE':9}  {'STATE':8}  DISPLAY NAME")
    for user, _groups in rows:
        state = "disabled" if user.disabled else "enabled"
        print(f"{user.name:24}  {user.role:9}  {state:8}  {user.display_name or '-'}")
    return 0


def cmd_user_token(args: argparse.Namespace) -> int:
    """Issue (replace) a user's API token and print it."""
    from .. import audit
    from ..store import users

    engine = engine_for(args)
    token = "hpt_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user = users.by_name(conn, args.name)
        if user is None:
            msg = f"no user {args.name!r}"
            raise CliError(msg)
        users.set_api_token(conn, user.id, token)
        audit.record(conn, actor=cli_actor(), action="user.api_token",
                     target=f"user:{args.name}", details={}, now=utcnow())
    print(token)
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``user add|set|password|list|api-token``."""
    u = sub.add_parser("user", help="dashboard users").add_subparsers(dest="user_cmd",
                                                                      required=True)
    roles = "admin | operator | approver | auditor | viewer"
    s = u.add_parser("add", parents=[common], help="create a user")
    s.add_argument("name")
    s.add_argument("--role", required=True, help=roles)
    s.add_argument("--display-name", help="the person's real name as reports print it "
                                          "(any script, at most 64 characters)")
    s.add_argument("--password-file", help="file holding the password (else prompt, or "
                                           "generate and print one when not on a terminal)")
    s.set_defaults(func=cmd_user_add)
    s = u.add_parser("set", parents=[common], help="change a user's display name or role")
    s.add_argument("name")
    s.add_argument("--display-name", help='the real name reports print ("" removes it)')
    s.add_argument("--role", help=roles)
    s.set_defaults(func=cmd_user_set)
    s = u.add_parser("password", parents=[common],
                     help="set (reset) a user's password; ends their sessions")
    s.add_argument("name")
    s.add_argument("--password-file", help="file holding the new password (else prompt, or "
                                           "generate and print one when not on a terminal)")
    s.set_defaults(func=cmd_user_password)
    s = u.add_parser("list", parents=[common], help="list users and their display names")
    s.set_defaults(func=cmd_user_list)
    s = u.add_parser("api-token", parents=[common], help="print a new API bearer token")
    s.add_argument("name")
    s.set_defaults(func=cmd_user_token)
