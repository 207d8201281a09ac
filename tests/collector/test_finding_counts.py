"""Counts the triggers keep (migration 0018, store.findingcounts) and the register's and
host list's shortcuts at 100,000 hosts: every figure and page the same as counting and
sorting every row, for generated findings, hosts and edits, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from hostpatrol.collector.findings import queries
from hostpatrol.collector.findings.queries import FindingFilter
from hostpatrol.collector.store import findingcounts, fleet, sql
from hostpatrol.collector.store.db import current_revision, downgrade, head_revision, upgrade
from hostpatrol.collector.store.hostfilter import HostFilter
from hostpatrol.collector.store.schema import agents, finding_counts, findings, host_tags
from hostpatrol.shared.clock import utcnow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

STATES = ("open", "assigned", "in_progress", "fixed", "waived", "verified", "closed")
GROUPS = (None, "", "branch-a", "branch-b", "分行", "x" * 128)
LEVELS = (1, 2, 3, 4, 5)
EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _agent(conn: sa.Connection, group: str | None = "branch-a", hostname: str = "h") -> str:
    aid = str(uuid.uuid4())
    conn.execute(agents.insert().values(id=aid, kid=aid, public_key="k", status="active",
                                        hostname=hostname, group_name=group,
                                        enrolled_at=utcnow(), last_seen_at=utcnow()))
    return aid


def _finding(conn: sa.Connection, aid: str, group: str | None, state: str, level: int,
             deadline_days: int = 3, rule: str = "disk-used") -> int:
    now = utcnow()
    return conn.execute(findings.insert().values(
        dedup_key=uuid.uuid4().hex, agent_id=aid, rule_id=rule, subject="/", check_name="disk",
        title="Disk used", group_name=group, state=state, level=level, base_level=level,
        factors=[], deadline=now + timedelta(days=deadline_days), first_seen=now,
        opened_at=now, last_seen=now, state_changed_at=now, evidence={}, policy_version=1,
    ).returning(findings.c.id)).scalar_one()


def _truth(conn: sa.Connection) -> Counter:
    rows = conn.execute(sa.select(findings.c.group_name, findings.c.state, findings.c.level,
                                  sa.func.count()).group_by(findings.c.group_name,
                                                            findings.c.state, findings.c.level))
    return Counter({(g, s, lv): n for g, s, lv, n in rows})


def _kept(conn: sa.Connection) -> Counter:
    sums: Counter = Counter()
    for g, s, lv, n in conn.execute(sa.select(finding_counts.c.group_name,
                                              finding_counts.c.state, finding_counts.c.level,
                                              finding_counts.c.n)):
        sums[(g, s, lv)] += n
    return +sums  # keys that sum to zero left out, as in _truth


edit = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(GROUPS), st.sampled_from(STATES),
              st.sampled_from(LEVELS)),
    st.tuples(st.just("state"), st.integers(0, 50), st.sampled_from(STATES)),
    st.tuples(st.just("level"), st.integers(0, 50), st.sampled_from(LEVELS)),
    st.tuples(st.just("group"), st.integers(0, 50), st.sampled_from(GROUPS)),
    st.tuples(st.just("seen"), st.integers(0, 50)),  # a column the counts do not hold
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("compact")),
)


@EXAMPLES
@given(edits=st.lists(edit, max_size=30))
def test_the_kept_counts_equal_a_count_of_every_finding(engine, edits) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(finding_counts.delete())  # what other examples left is rolled back
        aid = _agent(conn)
        ids: list[int] = []
        for e in edits:
            op, *args = e
            target = ids[args[0] % len(ids)] if ids and op not in ("add", "compact") else None
            if op == "add":
                ids.append(_finding(conn, aid, *args))
            elif op == "compact":
                findingcounts.compact(conn)
            elif target is None:
                continue
            elif op == "delete":
                conn.execute(findings.delete().where(findings.c.id == target))
                ids.remove(target)
            else:
                column = {"state": "state", "level": "level", "group": "group_name",
                          "seen": "last_seen"}[op]
                value = utcnow() if op == "seen" else args[1]
                conn.execute(findings.update().where(findings.c.id == target)
                             .values({column: value}))
            assert _kept(conn) == _truth(conn)
        findingcounts.compact(conn)
        assert _kept(conn) == _truth(conn)
        keys = conn.execute(sa.select(finding_counts.c.group_name, finding_counts.c.state,
                                      finding_counts.c.level)).all()
        assert len(keys) == len(set(keys)), "a fold leaves one row per key"
        assert findingcounts.compact(conn) == 0, "nothing appended since: nothing to fold"
        tx.rollback()


@EXAMPLES
@given(found=st.lists(st.tuples(st.sampled_from(GROUPS), st.sampled_from(STATES),
                                st.sampled_from(LEVELS)), max_size=25),
       scope=st.none() | st.frozensets(st.sampled_from(GROUPS[1:]), max_size=3),
       state=st.none() | st.sampled_from((*STATES, "active", queries.WORK, "nosuch")),
       level=st.none() | st.sampled_from(("I", "II", "III", "IV", "info", "V")),
       group=st.none() | st.sampled_from(GROUPS[1:]))
def test_the_register_total_is_the_count_of_its_rows(engine, found, scope, state, level,
                                                     group) -> None:
    now = utcnow()
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(finding_counts.delete())
        aid = _agent(conn)
        for g, s, lv in found:
            _finding(conn, aid, g, s, lv)
        f = FindingFilter(scope=scope, state=state, level=level, group=group)
        counted = conn.execute(queries._where(  # noqa: SLF001 (the filter, counted by rows)
            sa.select(sa.func.count()).select_from(findings), f, now)).scalar_one()
        assert queries.count(conn, f, now) == counted
        rows = queries.page(conn, f, now, limit=None)
        assert len(rows) == counted
        by_level = queries.open_by_level(conn, scope, now)
        assert by_level["total"] == queries.count(conn, FindingFilter(
            scope=scope, state=queries.WORK), now)
        tx.rollback()


@EXAMPLES
@given(found=st.lists(st.tuples(st.sampled_from(STATES[:3]), st.sampled_from(LEVELS),
                                st.integers(-40, 40)), min_size=1, max_size=40),
       sort=st.sampled_from(queries.SORTS), desc=st.booleans(), size=st.integers(1, 7),
       state=st.sampled_from(("active", queries.WORK, "open")))
def test_a_page_found_by_walking_its_order_is_the_sorted_page(engine, found, sort, desc,
                                                              size, state) -> None:
    """The register's pages, walked in order (a common state) or not, are every matching
    row sorted: same rows, same order, page after page."""
    now = utcnow()
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(finding_counts.delete())
        aid = _agent(conn)
        for s, lv, days in found:
            _finding(conn, aid, "branch-a", s, lv, deadline_days=days)
        f = FindingFilter(state=state, sort=sort, desc=desc)
        every = [r.id for r in queries.page(conn, f, now, limit=None)]
        common = queries.common
        for walk in (True, False):  # walked whatever the counts say; never walked
            queries.common = lambda *_args, walk=walk: walk
            try:
                paged = []
                for offset in range(0, len(every) + size, size):
                    paged += [r.id for r in queries.page(conn, f, now, limit=size,
                                                         offset=offset)]
            finally:
                queries.common = common
            assert paged == every, walk
        tx.rollback()


def test_a_rare_state_is_not_walked(engine) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(finding_counts.delete())
        aid = _agent(conn)
        for _ in range(20):
            _finding(conn, aid, "branch-a", "closed", 4)
        _finding(conn, aid, "branch-a", "waived", 4)
        assert not queries.common(conn, None, ("waived",))
        assert queries.common(conn, None, ("closed",))
        assert not queries.common(conn, frozenset(), ("closed",)), "an empty scope sees none"
        tx.rollback()


def _name_order_index(conn: sa.Connection) -> str:
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = "
                                    "'ix_agents_hostname_lower'").scalar_one()
    return conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                "'ix_agents_hostname_lower'").scalar_one()


def test_the_migration_counts_the_findings_stored_before_it_and_goes_back(engine) -> None:
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:  # PostgreSQL: a deep page of the host list reads the
        assert ("INCLUDE (hostname)" in _name_order_index(conn)) is pg  # index alone
    downgrade(engine, "0017")
    with engine.begin() as conn:
        assert "finding_counts" not in sa.inspect(conn).get_table_names()
        assert "INCLUDE" not in _name_order_index(conn)
        aid = _agent(conn)
        for state, level in (("open", 4), ("open", 4), ("closed", 3), ("fixed", 1)):
            _finding(conn, aid, "branch-a", state, level)
        _finding(conn, aid, None, "open", 2)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.begin() as conn:
        assert _kept(conn) == _truth(conn)
        assert findingcounts.count(conn, states=["open"]) == 3
        assert findingcounts.count(conn, scope=frozenset({"branch-a"}), states=["open"]) == 2
        assert findingcounts.by_level(conn, states=["open"]) == {4: 2, 2: 1}
        conn.execute(findings.delete())
        assert findingcounts.count(conn) == 0
    downgrade(engine, "0017")  # and back: triggers and table gone, findings writable
    with engine.begin() as conn:
        assert "finding_counts" not in sa.inspect(conn).get_table_names()
        _finding(conn, _agent(conn), "branch-a", "open", 4)
    upgrade(engine)


def test_a_fold_keeps_what_a_writer_has_not_committed(pg_engine) -> None:
    """PostgreSQL: a delta appended by a transaction still open while the job folds is
    neither lost nor counted twice."""
    with pg_engine.begin() as conn:
        aid = _agent(conn)
        _finding(conn, aid, "branch-a", "open", 4)
    writer = pg_engine.connect()
    tx = writer.begin()
    _finding(writer, aid, "branch-a", "open", 4)  # uncommitted: its delta is not visible
    with pg_engine.begin() as conn:
        findingcounts.compact(conn)
    tx.commit()
    writer.close()
    with pg_engine.begin() as conn:
        assert findingcounts.count(conn, states=["open"]) == 2
        findingcounts.compact(conn)
        assert findingcounts.count(conn, states=["open"]) == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(finding_counts)
                            ).scalar_one() == 1


def test_writers_at_once_do_not_wait_on_one_counter(pg_engine) -> None:
    """PostgreSQL: two transactions that open findings of one key at once both go on
    (deltas are appended, no shared row is updated), and the count has both."""
    with pg_engine.begin() as conn:
        aid = _agent(conn)
    a, b = pg_engine.connect(), pg_engine.connect()
    ta, tb = a.begin(), b.begin()
    _finding(a, aid, "branch-a", "open", 4)
    done = threading.Event()

    def second() -> None:
        b.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        _finding(b, aid, "branch-a", "open", 4)
        done.set()

    t = threading.Thread(target=second)
    t.start()
    t.join(10)
    assert done.is_set(), "the second writer waited for the first's counter"
    ta.commit()
    tb.commit()
    a.close()
    b.close()
    with pg_engine.begin() as conn:
        assert findingcounts.count(conn, states=["open"]) == 2


values = st.none() | st.text("aAbB09-_ 主机%'\"\\", max_size=6)


@EXAMPLES
@given(names=st.lists(st.tuples(values, st.sampled_from(GROUPS)), max_size=20),
       scope=st.none() | st.frozensets(st.sampled_from(GROUPS[1:]), max_size=3))
def test_distinct_by_index_probes_lists_what_select_distinct_lists(engine, names,
                                                                   scope) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        for os_name, group in names:
            conn.execute(agents.insert().values(
                id=str(uuid.uuid4()), kid=uuid.uuid4().hex, public_key="k", status="active",
                hostname="h", os_name=os_name, group_name=group, enrolled_at=utcnow()))
        where = [fleet.scope_clause(scope)]
        expected = list(conn.execute(sa.select(agents.c.os_name).distinct().where(
            agents.c.os_name.is_not(None), *where).order_by(agents.c.os_name)).scalars())
        assert sql.distinct(conn, agents.c.os_name, *where) == expected
        assert sql.distinct_scan(conn, agents.c.os_name, *where) == expected
        assert sql.distinct(conn, agents.c.os_name, *where, limit=2) == expected[:2]
        tx.rollback()


@EXAMPLES
@given(tagged=st.lists(st.sets(st.sampled_from(("internet", "db", "isolated")), max_size=2),
                       min_size=1, max_size=30),
       tag=st.sampled_from(("internet", "db", "isolated", "nosuch")),
       sort=st.sampled_from(("hostname", "last_seen")), desc=st.booleans(),
       group=st.none() | st.just("branch-b"))
def test_a_tag_filter_pages_the_same_hosts_walked_or_listed(engine, tagged, tag, sort, desc,
                                                            group) -> None:
    """The host list filtered by a tag: the same hosts in the same order and the same
    total whether the tag is common (walked in the list's order) or not (an IN-list)."""
    now = utcnow()
    with engine.connect() as conn, conn.begin() as tx:
        for i, tags in enumerate(tagged):
            aid = _agent(conn, group=("branch-a", "branch-b")[i % 2],
                         hostname=f"Host-{(i * 7) % 11:02d}")
            for t in tags:
                conn.execute(host_tags.insert().values(agent_id=aid, tag=t))
        f = HostFilter(tag=tag, sort=sort, desc=desc, group=group)
        window = {"now": now, "silent_after": timedelta(hours=2)}
        listed = [r.id for r in fleet.hosts(conn, f, limit=None, **window)]
        total = conn.execute(sa.select(sa.func.count()).select_from(agents).where(
            agents.c.id.in_(sa.select(host_tags.c.agent_id).where(host_tags.c.tag == tag)),
            *([agents.c.group_name == group] if group else []))).scalar_one()
        assert fleet.count_hosts(conn, f, **window) == total == len(listed)
        for share in (0.0, 2.0):  # every tag walked; none walked
            saved, fleet.COMMON_TAG_SHARE = fleet.COMMON_TAG_SHARE, share
            try:
                paged = []
                for offset in range(0, len(listed) + 4, 4):
                    paged += [r.id for r in fleet.hosts(conn, f, limit=4, offset=offset,
                                                        **window)]
            finally:
                fleet.COMMON_TAG_SHARE = saved
            assert paged == listed, share
        tx.rollback()


def test_the_background_round_folds_the_counts(engine) -> None:
    from hostpatrol.collector.background import run_once

    with engine.begin() as conn:
        aid = _agent(conn)
        for _ in range(3):
            _finding(conn, aid, "branch-a", "open", 4)
    done = run_once(engine, "test-holder", utcnow())
    assert done.get("finding_counts_folded", 0) >= 3
    with engine.connect() as conn:
        assert _kept(conn) == _truth(conn)
        assert conn.execute(sa.select(sa.func.count()).select_from(finding_counts)
                            ).scalar_one() == len(_truth(conn))


def test_the_api_total_and_rows_are_those_of_the_rows(tmp_path) -> None:
    """GET /api/v1/findings: its total is the number of rows a full listing returns, newest
    first, for a common state (walked), a rare one, a level, and a viewer's scope."""
    from webapp import BASE, make_webapp

    w = make_webapp(tmp_path)
    try:
        with w.engine.begin() as conn:
            for i in range(60):
                _finding(conn, w.hosts["g1" if i % 3 else "g2"], "g1" if i % 3 else "g2",
                         "open" if i % 20 else "waived", 4 if i % 2 else 2)
        for role, query in (("admin", "state=open"), ("admin", "state=waived"),
                            ("admin", "state=open,waived&level=IV"), ("admin", ""),
                            ("viewer", "state=open"), ("admin", "state=nosuch")):
            got = w.client(role).get(f"/api/v1/findings?{query}&limit=500", base_url=BASE)
            assert got.status_code == 200, got.json
            ids = [x["id"] for x in got.json["findings"]]
            assert got.json["total"] == len(ids), (role, query)
            assert ids == sorted(ids, reverse=True)
            with w.engine.connect() as conn:
                if role == "admin" and query.startswith("state=open"):
                    assert queries.common(conn, None, ["open"]), "walked"
                if query == "state=waived":
                    assert not queries.common(conn, None, ["waived"]), "listed"
    finally:
        w.engine.dispose()


@EXAMPLES
@given(seen=st.lists(st.tuples(st.sampled_from(("active", "pending", "revoked")),
                               st.none() | st.integers(-5, 5), st.sampled_from(GROUPS[1:])),
                     max_size=25),
       scope=st.none() | st.frozensets(st.sampled_from(GROUPS[1:]), max_size=2))
def test_silent_hosts_counted_by_two_ranges_are_those_the_filter_lists(engine, seen,
                                                                       scope) -> None:
    """The overview's silent count and the silent filter's total: the hosts the filter
    lists, with hosts never seen, seen exactly at the cutoff, a second either side."""
    now = utcnow()
    silent_after = timedelta(hours=48)
    cutoff = now - silent_after
    with engine.connect() as conn, conn.begin() as tx:
        for status, offset, group in seen:
            conn.execute(agents.insert().values(
                id=str(uuid.uuid4()), kid=uuid.uuid4().hex, public_key="k", status=status,
                hostname="h", group_name=group, enrolled_at=now,
                last_seen_at=None if offset is None else cutoff + timedelta(seconds=offset)))
        window = {"now": now, "silent_after": silent_after}
        listed = fleet.hosts(conn, HostFilter(state="silent", scope=scope), limit=None,
                             **window)
        expected = sum(1 for s, o, g in seen if s == "active" and (o is None or o < 0)
                       and (scope is None or g in scope))
        assert len(listed) == expected
        assert fleet.count_silent(conn, scope, **window) == expected
        assert fleet.count_hosts(conn, HostFilter(state="silent", scope=scope),
                                 **window) == expected
        assert fleet.state_counts(conn, scope, **window)["silent"] == expected
        tx.rollback()
