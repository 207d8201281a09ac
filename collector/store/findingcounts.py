"""How many findings each group has in each state and level, without counting them.

Triggers on ``findings`` (migration 0018) append a signed delta to ``finding_counts`` for
every insert, delete and change of group, state or level, so the sums are exact inside any
transaction, whichever code wrote the findings. The background job folds the deltas into
one row per key (:func:`compact`); between folds a sum reads the folded rows plus the
deltas since. Counting 400,000 findings for the register's total took 13 ms on SQLite at
100,000 hosts; the sum reads a few hundred rows (bench/RESULTS.md, growth).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from .schema import finding_counts
from .sql import in_scope

KEY = (finding_counts.c.group_name, finding_counts.c.state, finding_counts.c.level)


def _where(scope: frozenset[str] | None, states: Iterable[str] | None,
           levels: Iterable[int] | None, group: str | None) -> list[sa.ColumnElement[bool]]:
    where = [in_scope(finding_counts.c.group_name, scope)]
    if states is not None:
        where.append(finding_counts.c.state.in_(sorted(states)))
    if levels is not None:
        where.append(finding_counts.c.level.in_(sorted(levels)))
    if group is not None:
        where.append(finding_counts.c.group_name == group)
    return where


def count(conn: sa.Connection, *, scope: frozenset[str] | None = None,
          states: Iterable[str] | None = None, levels: Iterable[int] | None = None,
          group: str | None = None) -> int:
    """How many findings are in ``states`` (any when None), at ``levels``, of ``group``, in
    the viewer's ``scope`` (None: every group; empty: none)."""
    q = sa.select(sa.func.coalesce(sa.func.sum(finding_counts.c.n), 0)).where(
        *_where(scope, states, levels, group))
    return int(conn.execute(q).scalar_one())


def by_level(conn: sa.Connection, *, scope: frozenset[str] | None = None,
             states: Iterable[str] | None = None) -> dict[int, int]:
    """How many findings in ``states`` each level has (levels without any left out)."""
    q = (sa.select(finding_counts.c.level, sa.func.sum(finding_counts.c.n))
         .where(*_where(scope, states, None, None)).group_by(finding_counts.c.level))
    return {level: int(n) for level, n in conn.execute(q) if n}


def compact(conn: sa.Connection) -> int:
    """Fold every delta into one row per (group, state, level), dropping keys that sum to
    zero; return how many rows were folded. Deltas that writers append meanwhile (ids
    above the ones read, or not yet committed when the DELETE began) are left for the
    next fold: each delta is either deleted and summed here, or kept."""
    seen = conn.execute(sa.select(finding_counts.c.id, *KEY, finding_counts.c.n)).all()
    keys = [tuple(r[1:4]) for r in seen]
    if len(set(keys)) == len(keys) and all(r.n for r in seen):
        return 0  # folded already: nothing appended since
    top = max(r.id for r in seen)
    rows = conn.execute(finding_counts.delete().where(finding_counts.c.id <= top)
                        .returning(*KEY, finding_counts.c.n)).all()
    sums: Counter[tuple[str | None, str, int]] = Counter()
    for group, state, level, n in rows:
        sums[(group, state, level)] += n
    folded = [{"group_name": g, "state": s, "level": lv, "n": n}
              for (g, s, lv), n in sums.items() if n]
    if folded:
        conn.execute(finding_counts.insert(), folded)
    return len(rows)
