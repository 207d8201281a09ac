"""Per-host facts for search and the fleet software view, kept at ingest.

A host's newest ``inventory`` gives its packages and addresses, its newest ``patches`` its
pending updates, its newest ``accounts`` the users that can log in (or are admins). Each
kind is rebuilt whole when a newer result of its check is stored, and only when the facts
changed (``host_fact_digests``), so an unchanged inventory costs one small read. A revoked
host's facts are dropped (:func:`forget`), so the facts are those of the active hosts. The
extractors are pure and take the result's data as it came off the wire: whatever does not
have the expected shape is left out, never raised.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from .schema import host_addresses, host_fact_digests, host_packages, host_updates, host_users

Fact = dict[str, Any]
MAX_ROWS = 20_000  # per host and kind: more than any package manager lists here


def _text(value: Any, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and value else None


def _items(data: Any, *path: str) -> list[Any]:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, list) else []


def packages_of(data: Any) -> list[Fact]:
    """Installed packages (name, version, arch) of an inventory result."""
    out: dict[tuple[str, str, str], Fact] = {}
    for p in _items(data, "software", "packages"):
        name = _text(p.get("name") if isinstance(p, Mapping) else None, 512)
        version = _text(p.get("version"), 256) if name else None
        if name and version:
            arch = _text(p.get("arch"), 64) or ""
            out[(name, version, arch)] = {"name": name, "version": version, "arch": arch}
    return list(out.values())[:MAX_ROWS]


def _routable(address: str) -> bool:
    low = address.lower()
    return not (low.startswith(("127.", "fe80:", "169.254.")) or low in ("::1", "::"))


def addresses_of(data: Any) -> list[Fact]:
    """The host's addresses of an inventory result, without loopback and link-local ones."""
    out: dict[str, Fact] = {}
    for iface in _items(data, "interfaces"):
        for a in _items(iface, "addresses"):
            address = _text(a.get("address") if isinstance(a, Mapping) else None, 64)
            family = a.get("family") if address else None
            if address and family in ("ipv4", "ipv6") and _routable(address):
                out[address] = {"address": address, "family": family}
    return list(out.values())[:MAX_ROWS]


def updates_of(data: Any) -> list[Fact]:
    """Pending updates (name, arch, installed, candidate, security) of a patches result."""
    out: dict[tuple[str, str], Fact] = {}
    for u in _items(data, "updates"):
        name = _text(u.get("name") if isinstance(u, Mapping) else None, 256)
        if name:
            arch = _text(u.get("arch"), 32) or ""
            prior = out.get((name, arch))
            out[(name, arch)] = {"name": name, "arch": arch,
                                 "installed": _text(u.get("installed"), 256),
                                 "candidate": _text(u.get("candidate"), 256),
                                 "security": u.get("security") is True
                                 or bool(prior and prior["security"])}
    return list(out.values())[:MAX_ROWS]


def users_of(data: Any) -> list[Fact]:
    """Accounts that can log in, or are admins, of an accounts result."""
    out: dict[str, Fact] = {}
    for u in _items(data, "users"):
        name = _text(u.get("name") if isinstance(u, Mapping) else None, 256)
        admin = isinstance(u, Mapping) and u.get("admin") is True
        if name and (admin or u.get("login_capable") is True):
            out[name] = {"name": name, "admin": admin}
    return list(out.values())[:MAX_ROWS]


# kind -> (check it comes from, extractor, table)
KINDS: dict[str, tuple[str, Callable[[Any], list[Fact]], sa.Table]] = {
    "packages": ("inventory", packages_of, host_packages),
    "addresses": ("inventory", addresses_of, host_addresses),
    "updates": ("patches", updates_of, host_updates),
    "users": ("accounts", users_of, host_users),
}
CHECKS = frozenset(check for check, _, _ in KINDS.values())


def _digest(facts: list[Fact]) -> str:
    text = json.dumps(sorted(facts, key=lambda f: sorted(f.items())), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _rewrite(conn: sa.Connection, table: sa.Table, agent_id: str, facts: list[Fact]) -> None:
    """Make the host's rows equal ``facts``, touching only the rows that differ (a weekly
    inventory changes a few packages of hundreds)."""
    columns = [c.name for c in table.columns if c.name != "agent_id"]
    key = [c.name for c in table.primary_key.columns if c.name != "agent_id"]
    old = {tuple(r) for r in conn.execute(sa.select(*(table.c[c] for c in columns))
                                          .where(table.c.agent_id == agent_id))}
    new = {tuple(f[c] for c in columns) for f in facts}
    gone = [dict(zip(columns, row, strict=True)) for row in old - new]
    if gone:
        conn.execute(table.delete().where(
            table.c.agent_id == agent_id,
            *(table.c[c] == sa.bindparam(f"k_{c}") for c in key)),
            [{f"k_{c}": row[c] for c in key} for row in gone])
    added = new - old
    if added:
        conn.execute(table.insert(), [{"agent_id": agent_id,
                                       **dict(zip(columns, row, strict=True))}
                                      for row in sorted(added, key=str)])


def store(conn: sa.Connection, newest: Iterable[tuple[str, str, Any]]) -> int:
    """Rebuild the facts of each (agent id, check, data) of a newest readable result whose
    facts changed; return how many host-kinds were rewritten."""
    planned: dict[tuple[str, str], list[Fact]] = {}
    for agent_id, check, data in newest:
        for kind, (source, extract, _) in KINDS.items():
            if source == check:
                planned[(agent_id, kind)] = extract(data)
    if not planned:
        return 0
    ids = sorted({a for a, _ in planned})
    known = {(r.agent_id, r.kind): r.digest for r in conn.execute(
        sa.select(host_fact_digests).where(host_fact_digests.c.agent_id.in_(ids)))}
    written = 0
    for (agent_id, kind), facts in sorted(planned.items()):  # key order: no deadlock
        digest = _digest(facts)
        if known.get((agent_id, kind)) == digest:
            continue
        _rewrite(conn, KINDS[kind][2], agent_id, facts)
        where = sa.and_(host_fact_digests.c.agent_id == agent_id,
                        host_fact_digests.c.kind == kind)
        conn.execute(host_fact_digests.delete().where(where))
        conn.execute(host_fact_digests.insert().values(agent_id=agent_id, kind=kind,
                                                       digest=digest))
        written += 1
    return written


def forget(conn: sa.Connection, agent_id: str) -> None:
    """Drop a host's facts (it was revoked: what it last reported no longer counts)."""
    for _, _, table in KINDS.values():
        conn.execute(table.delete().where(table.c.agent_id == agent_id))
    conn.execute(host_fact_digests.delete().where(host_fact_digests.c.agent_id == agent_id))
