"""Dashboard sessions, per-address login throttling, viewer groups and user administration."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from .schema import login_attempts, user_groups, users, web_sessions


def _sid(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(conn: sa.Connection, user_id: int, *, now: datetime, lifetime: timedelta,
                 ip: str | None) -> str:
    """Create a server-side session; return the random token for the cookie."""
    token = secrets.token_urlsafe(32)
    conn.execute(web_sessions.insert().values(id=_sid(token), user_id=user_id, created_at=now,
                                              expires_at=now + lifetime, ip=(ip or "")[:64]))
    conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
    return token


def session_user(conn: sa.Connection, token: str, now: datetime) -> sa.Row | None:
    """The enabled user of a live session, or None."""
    return conn.execute(
        sa.select(users).join(web_sessions, web_sessions.c.user_id == users.c.id)
        .where(web_sessions.c.id == _sid(token), web_sessions.c.expires_at > now,
               users.c.disabled.is_(False))
    ).first()


def close_session(conn: sa.Connection, token: str) -> None:
    """End one session (logout)."""
    conn.execute(web_sessions.delete().where(web_sessions.c.id == _sid(token)))


def close_user_sessions(conn: sa.Connection, user_id: int, keep: str | None = None) -> None:
    """End every session of a user (disabled, role or password changed) but ``keep`` (the
    cookie token of the session that changed its own password)."""
    q = web_sessions.delete().where(web_sessions.c.user_id == user_id)
    if keep is not None:
        q = q.where(web_sessions.c.id != _sid(keep))
    conn.execute(q)


def recent_failures(conn: sa.Connection, ip: str, now: datetime, window: timedelta) -> int:
    """Failed logins from ``ip`` within ``window``."""
    return conn.execute(sa.select(sa.func.count()).select_from(login_attempts).where(
        login_attempts.c.ip == ip[:64], login_attempts.c.at > now - window)).scalar_one()


def record_failure(conn: sa.Connection, ip: str, now: datetime, window: timedelta) -> None:
    """Count a failed login from ``ip``; forget that address's attempts past the window."""
    conn.execute(login_attempts.delete().where(login_attempts.c.ip == ip[:64],
                                               login_attempts.c.at <= now - window))
    conn.execute(login_attempts.insert().values(ip=ip[:64], at=now))


def groups_of(conn: sa.Connection, user_id: int) -> frozenset[str]:
    """The groups a user is scoped to."""
    return frozenset(conn.execute(sa.select(user_groups.c.group_name)
                                  .where(user_groups.c.user_id == user_id)).scalars())


def set_groups(conn: sa.Connection, user_id: int, groups: set[str]) -> None:
    """Replace a user's groups."""
    conn.execute(user_groups.delete().where(user_groups.c.user_id == user_id))
    if groups:
        conn.execute(user_groups.insert(),
                     [{"user_id": user_id, "group_name": g[:128]} for g in sorted(groups)])


def list_users(conn: sa.Connection) -> list[tuple[sa.Row, frozenset[str]]]:
    """Every user with its groups, by name."""
    rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
    groups: dict[int, set[str]] = {}
    for uid, name in conn.execute(sa.select(user_groups.c.user_id, user_groups.c.group_name)):
        groups.setdefault(uid, set()).add(name)
    return [(r, frozenset(groups.get(r.id, ()))) for r in rows]


def update_user(conn: sa.Connection, user_id: int, *, role: str, disabled: bool) -> None:
    """Change role and enabled state; a reset lockout comes with re-enabling."""
    values: dict[str, object] = {"role": role, "disabled": disabled}
    if not disabled:
        values.update(failed_logins=0, locked_until=None)
    conn.execute(users.update().where(users.c.id == user_id).values(**values))


def count_admins(conn: sa.Connection) -> int:
    """Enabled admins (the last one may not be removed)."""
    return conn.execute(sa.select(sa.func.count()).select_from(users).where(
        users.c.role == "admin", users.c.disabled.is_(False))).scalar_one()
