"""Dashboard users, their roles, password hashes (argon2id) and API token hashes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .schema import users

ROLES = ("admin", "operator", "approver", "auditor", "viewer")
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (memory-hard) of ``password``."""
    return _hasher.hash(password)


def api_token_hash(token: str) -> str:
    """SHA-256 hex of an API token; tokens are random, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(conn: sa.Connection, name: str, role: str, password: str | None,
             now: datetime, display_name: str | None = None) -> int:
    """Create a user; return its id (``display_name`` as ``people.clean_display_name``
    gives it)."""
    return conn.execute(users.insert().values(
        name=name, role=role, password_hash=hash_password(password) if password else None,
        created_at=now, display_name=display_name,
    ).returning(users.c.id)).scalar_one()


def set_display_name(conn: sa.Connection, user_id: int, display_name: str | None) -> None:
    """Replace a user's display name (None removes it)."""
    conn.execute(users.update().where(users.c.id == user_id).values(display_name=display_name))


def display_names(conn: sa.Connection, names: set[str]) -> dict[str, tuple[str, str]]:
    """Login name → (display name or the login name, role) for the users among ``names``."""
    if not names:
        return {}
    rows = conn.execute(sa.select(users.c.name, users.c.display_name, users.c.role)
                        .where(users.c.name.in_(sorted(names)))).all()
    return {r.name: (r.display_name or r.name, r.role) for r in rows}


def by_name(conn: sa.Connection, name: str) -> sa.Row | None:
    """A user by login name."""
    return conn.execute(sa.select(users).where(users.c.name == name)).first()


def by_id(conn: sa.Connection, user_id: int) -> sa.Row | None:
    """A user by id."""
    return conn.execute(sa.select(users).where(users.c.id == user_id)).first()


def by_api_token(conn: sa.Connection, token: str) -> sa.Row | None:
    """The enabled user owning an API token."""
    return conn.execute(sa.select(users).where(
        users.c.api_token_hash == api_token_hash(token), users.c.disabled.is_(False))).first()


def set_api_token(conn: sa.Connection, user_id: int, token: str) -> None:
    """Replace the user's API token (only its hash is kept)."""
    conn.execute(users.update().where(users.c.id == user_id)
                 .values(api_token_hash=api_token_hash(token)))


def check_login(conn: sa.Connection, name: str, password: str, now: datetime) -> sa.Row | None:
    """The user when name and password match and the account is not locked; counts failures."""
    user = by_name(conn, name)
    if user is None or user.disabled or not user.password_hash:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    if not verify_password(conn, user, password, now):
        return None
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(user.password_hash):
        values["password_hash"] = hash_password(password)
    conn.execute(users.update().where(users.c.id == user.id).values(**values))
    return user


def verify_password(conn: sa.Connection, user: sa.Row, password: str, now: datetime) -> bool:
    """Whether ``password`` is the user's; a wrong one counts towards the lockout, and a
    locked account matches nothing (sign-in and the account page's "current password")."""
    if not user.password_hash or (user.locked_until is not None and user.locked_until > now):
        _hasher.hash(password)
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        failed = user.failed_logins + 1
        locked = now + LOCKOUT_FOR if failed >= LOCKOUT_AFTER else None
        conn.execute(users.update().where(users.c.id == user.id).values(
            failed_logins=0 if locked else failed, locked_until=locked))
        return False
    return True


def set_password(conn: sa.Connection, user_id: int, password: str) -> None:
    """Replace a user's password (argon2id); a lockout ends with it."""
    conn.execute(users.update().where(users.c.id == user_id).values(
        password_hash=hash_password(password), failed_logins=0, locked_until=None))
