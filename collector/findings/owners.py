"""Who a finding may be given to: enabled users and the contacts the policy names."""

from __future__ import annotations

import sqlalchemy as sa

from ..errors import ApiError
from ..policy.model import Policy
from ..store.schema import users


def contacts(policy: Policy) -> set[str]:
    """The owners and backup owners the policy names (its default and its groups')."""
    names = {policy.default_owner, policy.default_backup_owner}
    for group in policy.groups.values():
        names |= {group.owner, group.backup_owner}
    return {n for n in names if n}


def known_owners(conn: sa.Connection, policy: Policy) -> list[str]:
    """Who a finding may be given to: every enabled user and every contact of the policy."""
    names = set(conn.execute(sa.select(users.c.name).where(users.c.disabled.is_(False)))
                .scalars())
    return sorted(names | contacts(policy))


def check_owner(conn: sa.Connection, policy: Policy, owner: str) -> None:
    """Refuse an owner who is neither a user nor a contact the policy names (a typo would
    send the finding's reminders nowhere)."""
    if owner in contacts(policy):
        return
    known = conn.execute(sa.select(users.c.id).where(
        users.c.name == owner, users.c.disabled.is_(False))).first()
    if known is None:
        msg = f"{owner!r} is neither a user nor an owner the policy names"
        raise ApiError(msg, status=400, reason="unknown_owner", params={"owner": owner})
