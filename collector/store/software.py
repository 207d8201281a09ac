"""The fleet software view: which active hosts have a package (in which version), and which
still have updates pending, from the per-host facts kept at ingest (:mod:`hostfacts`).

Pages read the facts' index in order and stop after a page (no total is counted: that
would read every host's every package); the export reads them all."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from .hostfilter import scope_clause
from .schema import agents, host_packages, host_updates


@dataclass(frozen=True, slots=True)
class SoftwareFilter:
    """Packages whose name starts with ``q`` (in the case the package manager spells it);
    ``scope`` limits a viewer to its groups (None: all)."""

    q: str | None = None
    version: str | None = None
    scope: frozenset[str] | None = None


def _prefix(column: sa.ColumnElement[str], q: str, dialect: str) -> sa.ColumnElement[bool]:
    if dialect == "sqlite" and q:  # a range the (BINARY) index answers; LIKE would scan
        return sa.and_(column >= q, column < q[:-1] + chr(ord(q[-1]) + 1))
    return column.startswith(q, autoescape=True)


def _scoped(q: sa.Select, table: sa.Table, f: SoftwareFilter, dialect: str) -> sa.Select:
    """Facts exist for active hosts only (revoking drops them): a viewer's groups need the
    agents table, everyone else's count reads the facts' index alone."""
    if f.scope is not None:
        q = q.join(agents, agents.c.id == table.c.agent_id).where(scope_clause(f.scope))
    return q.where(_prefix(table.c.name, f.q, dialect)) if f.q else q


def _packages(f: SoftwareFilter, dialect: str) -> sa.Select:
    hosts = sa.func.count(sa.distinct(host_packages.c.agent_id))  # a host may list 2 arches
    q = _scoped(sa.select(host_packages.c.name, host_packages.c.version, hosts.label("hosts"))
                .group_by(host_packages.c.name, host_packages.c.version),
                host_packages, f, dialect)
    if f.version:
        q = q.where(host_packages.c.version == f.version)
    return q


def packages(conn: sa.Connection, f: SoftwareFilter, *, limit: int | None,
             offset: int = 0) -> list[sa.Row]:
    """(name, version, hosts) by name then version: one page, or all when ``limit`` is None."""
    q = _packages(f, conn.dialect.name).order_by(host_packages.c.name, host_packages.c.version)
    return list(conn.execute(q.limit(limit).offset(offset)).all())


def pending(conn: sa.Connection, f: SoftwareFilter, *, security: bool,
            limit: int = 100) -> list[sa.Row]:
    """(name, hosts, security_hosts) of pending updates, most hosts first (security ones
    only when ``security``)."""
    sec = sa.func.count(sa.distinct(sa.case((host_updates.c.security.is_(True),
                                             host_updates.c.agent_id))))
    hosts = sa.func.count(sa.distinct(host_updates.c.agent_id))
    q = _scoped(sa.select(host_updates.c.name, hosts.label("hosts"),
                          sec.label("security_hosts")).group_by(host_updates.c.name),
                host_updates, f, conn.dialect.name)
    if security:
        q = q.where(host_updates.c.security.is_(True))
    return list(conn.execute(q.order_by(hosts.desc(), host_updates.c.name).limit(limit)).all())


def hosts_pending(conn: sa.Connection, scope: frozenset[str] | None, *, security: bool) -> int:
    """Active hosts with any pending update (a security one when ``security``)."""
    q = _scoped(sa.select(sa.func.count(sa.distinct(host_updates.c.agent_id))),
                host_updates, SoftwareFilter(scope=scope), conn.dialect.name)
    if security:
        q = q.where(host_updates.c.security.is_(True))
    return conn.execute(q).scalar_one()
