"""Hosts by OS family and the 信创 (domestic OS) count, for the overview and the report.

A host's family and distribution come from its newest inventory result: ingest stores
them on ``agents`` (``os_family``, ``os_distro``, ``os_desktop``) by :func:`from_inventory`,
so counting never reads inventory documents (they carry the package list). A host that never sent an
inventory is classed from the one-line OS its reports state ("Windows 10"), else unknown.
The rules themselves are ``hostpatrol.shared.osfamily``, the table the agent uses too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.osfamily import FAMILIES, family_from_os_name, identify

from .schema import agents

DOMESTIC = "xinchuang"


def from_inventory(data: Any) -> dict[str, Any] | None:
    """``os_family``, ``os_distro`` and ``os_desktop`` (a terminal OS; None when the fields do
    not say) from an inventory result's data; None without ``os``."""
    os_facts = data.get("os") if isinstance(data, Mapping) else None
    if not isinstance(os_facts, Mapping):
        return None
    fields = {str(k): v for k, v in os_facts.items() if isinstance(v, str)}
    ident = identify(fields, fields.get("system") or "Linux")
    return {"os_family": ident.family, "os_distro": ident.distro[:64],
            "os_desktop": ident.desktop}


def family_of(os_family: str | None, os_name: str | None) -> str:
    """The family of one host from its stored columns (pure)."""
    return os_family if os_family in FAMILIES else family_from_os_name(os_name)


def summarize(hosts: Iterable[tuple[str | None, str | None, str | None, int]]
              ) -> dict[str, Any]:
    """Counts from (os_family, os_distro, os_name, hosts) rows: per family (in display order,
    only those present), the domestic hosts and their distributions (pure)."""
    families: Counter[str] = Counter()
    distros: Counter[str] = Counter()
    for os_family, os_distro, os_name, n in hosts:
        family = family_of(os_family, os_name)
        families[family] += n
        if family == DOMESTIC:
            distros[os_distro or "unknown"] += n
    total = sum(families.values())
    return {
        "hosts": total,
        "families": {f: families[f] for f in FAMILIES if families[f]},
        "xinchuang": families[DOMESTIC],
        "xinchuang_percent": round(100.0 * families[DOMESTIC] / total, 1) if total else None,
        "xinchuang_distros": dict(sorted(distros.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def fleet(conn: sa.Connection, where: sa.ColumnElement[bool]) -> dict[str, Any]:
    """The summary over the active hosts matching ``where`` (e.g. a viewer's groups)."""
    rows = conn.execute(
        sa.select(agents.c.os_family, agents.c.os_distro, agents.c.os_name, sa.func.count())
        .where(agents.c.status == "active", where)
        .group_by(agents.c.os_family, agents.c.os_distro, agents.c.os_name)).all()
    return summarize((f, d, name, n) for f, d, name, n in rows)
