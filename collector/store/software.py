"""The fleet software view: which active hosts have a package (in which version), and which
still have updates pending, from the per-host facts kept at ingest (:mod:`hostfacts`)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from .hostfilter import scope_clause
from .schema import agents, host_packages, host_updates


@dataclass(frozen=True, slots=True)
class SoftwareFilter:
    """Packages whose name starts with ``q`` (PostgreSQL: in the case the package manager
    spells it; SQLite: ignoring ASCII case);
    ``scope`` limits a viewer to its groups (None: all)."""

    q: str | None = None
    version: str | None = None
    scope: frozenset[str] | None = None


def _seen(f: SoftwareFilter, table: sa.Table) -> list[sa.ColumnElement[bool]]:
    conds = [agents.c.status == "active", scope_clause(f.scope)]
    if f.q:
        conds.append(table.c.name.startswith(f.q, autoescape=True))
    return conds


def _packages(f: SoftwareFilter) -> sa.Select:
    hosts = sa.func.count(sa.distinct(host_packages.c.agent_id))
    q = (sa.select(host_packages.c.name, host_packages.c.version, hosts.label("hosts"))
         .join(agents, agents.c.id == host_packages.c.agent_id)
         .where(*_seen(f, host_packages))
         .group_by(host_packages.c.name, host_packages.c.version))
    if f.version:
        q = q.where(host_packages.c.version == f.version)
    return q


def packages(conn: sa.Connection, f: SoftwareFilter, *, limit: int | None,
             offset: int = 0) -> list[sa.Row]:
    """(name, version, hosts) by name then version: one page, or all when ``limit`` is None."""
    q = _packages(f).order_by(host_packages.c.name, host_packages.c.version)
    return list(conn.execute(q.limit(limit).offset(offset)).all())


def count_packages(conn: sa.Connection, f: SoftwareFilter) -> int:
    """How many (name, version) rows :func:`packages` has."""
    return conn.execute(sa.select(sa.func.count()).select_from(_packages(f).subquery())
                        ).scalar_one()


def pending(conn: sa.Connection, f: SoftwareFilter, *, security: bool,
            limit: int = 100) -> list[sa.Row]:
    """(name, hosts, security_hosts) of pending updates, most hosts first (security ones
    only when ``security``)."""
    sec = sa.func.count(sa.distinct(sa.case((host_updates.c.security.is_(True),
                                             host_updates.c.agent_id))))
    hosts = sa.func.count(sa.distinct(host_updates.c.agent_id))
    q = (sa.select(host_updates.c.name, hosts.label("hosts"), sec.label("security_hosts"))
         .join(agents, agents.c.id == host_updates.c.agent_id)
         .where(*_seen(f, host_updates)).group_by(host_updates.c.name))
    if security:
        q = q.where(host_updates.c.security.is_(True))
    return list(conn.execute(q.order_by(hosts.desc(), host_updates.c.name).limit(limit)).all())


def hosts_pending(conn: sa.Connection, scope: frozenset[str] | None, *, security: bool) -> int:
    """Active hosts with any pending update (a security one when ``security``)."""
    q = (sa.select(sa.func.count(sa.distinct(host_updates.c.agent_id)))
         .join(agents, agents.c.id == host_updates.c.agent_id)
         .where(agents.c.status == "active", scope_clause(scope)))
    if security:
        q = q.where(host_updates.c.security.is_(True))
    return conn.execute(q).scalar_one()
