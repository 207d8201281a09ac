"""Deadlines by level, owners from host and group, and what counts as overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ..policy.model import Policy
from ..rules.model import HostFacts
from ..store.schema import findings

OPEN_WORK = ("open", "assigned", "in_progress")  # states a deadline applies to


def deadline(policy: Policy, level: int, start: datetime) -> datetime | None:
    """When a finding of ``level`` opened at ``start`` must be rectified."""
    hours = policy.deadlines_hours.get(level)
    return None if hours is None else start + timedelta(hours=hours)


def owners(policy: Policy, host: HostFacts) -> tuple[str | None, str | None]:
    """(owner, backup owner): the host's, else the nearest group's, else the policy's."""
    owner, backup = host.owner, host.backup_owner
    for group in policy.group_chain(host.group):
        owner = owner or group.owner
        backup = backup or group.backup_owner
    return owner or policy.default_owner, backup or policy.default_backup_owner


def is_overdue(state: str, due: datetime | None, now: datetime) -> bool:
    """Past its deadline and not yet fixed."""
    return due is not None and state in OPEN_WORK and due < now


def overdue_clause(now: datetime) -> sa.ColumnElement[bool]:
    """SQL for :func:`is_overdue`."""
    return sa.and_(findings.c.state.in_(OPEN_WORK), findings.c.deadline.is_not(None),
                   findings.c.deadline < now)
