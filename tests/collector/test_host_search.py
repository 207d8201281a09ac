"""Host search through indexes (migration 0016: FTS5 trigram tables on SQLite, an address
prefix index on both): the same hosts as the LIKE/ILIKE over every row, for generated
names, addresses and texts, on SQLite and PostgreSQL; the plans read the indexes;
migration 0016 fills them for rows stored before and goes back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from hostpatrol.collector.store import fleet, hostsearch
from hostpatrol.collector.store.db import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from hostpatrol.collector.store.schema import agents, host_addresses, host_profiles
from hostpatrol.shared.clock import utcnow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# ASCII of both cases, LIKE's and FTS5's own syntax, and letters whose case only Unicode
# folds (SQLite's LIKE ignores ASCII case only; FTS5's trigrams fold every case)
ALPHABET = "aAbBkK09-._% \"'\\*()ÄäßİıΣσς\u212a主机"
words = st.text(ALPHABET, max_size=12)


def _scan(q: str, dialect: str) -> sa.ColumnElement[bool]:
    """The search as it was before 0016: LIKE '%q%' (ILIKE on PostgreSQL) on every row."""
    like = f"%{hostsearch.literal(q)}%"

    def contains(column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        return column.like(like) if dialect == "sqlite" else column.ilike(like)

    return sa.or_(
        contains(agents.c.hostname), contains(agents.c.id), contains(agents.c.os_name),
        contains(agents.c.group_name),
        agents.c.id.in_(sa.select(host_addresses.c.agent_id).where(
            host_addresses.c.address.like(f"{hostsearch.literal(q)}%"))),
        agents.c.id.in_(sa.select(host_profiles.c.agent_id).where(sa.or_(
            contains(host_profiles.c.owner), contains(host_profiles.c.backup_owner)))))


def _ids(conn: sa.Connection, where: sa.ColumnElement[bool]) -> set[str]:
    return set(conn.execute(sa.select(agents.c.id).where(where)).scalars())


def _add_host(conn: sa.Connection, i: int, hostname: str, os_name: str | None,
              group: str | None, owner: str | None, address: str | None) -> str:
    aid = f"{i:02d}{uuid.uuid4().hex[:6]}"
    now = utcnow()
    conn.execute(agents.insert().values(
        id=aid, kid=f"kid-{aid}", public_key="key", status="active", hostname=hostname,
        os_name=os_name, group_name=group, enrolled_at=now))
    if owner is not None:
        conn.execute(host_profiles.insert().values(
            agent_id=aid, tags=[], owner=owner, backup_owner=owner[::-1], updated_at=now,
            updated_by="test"))
    if address is not None:
        conn.execute(host_addresses.insert().values(agent_id=aid, address=address,
                                                    family="ipv4"))
    return aid


host = st.tuples(words, st.none() | words, st.none() | words, st.none() | words,
                 st.none() | words)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hosts=st.lists(host, min_size=1, max_size=8), renamed=st.lists(words, max_size=3),
       data=st.data())
def test_indexed_search_finds_exactly_what_a_scan_finds(engine, hosts, renamed, data) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        dialect = conn.dialect.name
        ids = [_add_host(conn, i, *h) for i, h in enumerate(hosts)]
        # the index follows renames, owner changes and removals (SQLite: triggers)
        for aid, name in zip(ids, renamed, strict=False):
            conn.execute(agents.update().where(agents.c.id == aid).values(hostname=name))
            conn.execute(host_profiles.update().where(host_profiles.c.agent_id == aid)
                         .values(owner=name.upper()))
        if len(ids) > 2:
            gone = ids.pop()
            for t in (host_addresses, host_profiles):
                conn.execute(t.delete().where(t.c.agent_id == gone))
            conn.execute(agents.delete().where(agents.c.id == gone))
        values = [v for h in hosts for v in h if v] + renamed + ids
        for _ in range(6):
            if values and data.draw(st.booleans()):  # a piece of a stored value, case changed
                v = data.draw(st.sampled_from(values))
                start = data.draw(st.integers(0, len(v)))
                q = v[start:data.draw(st.integers(start, len(v)))]
                q = data.draw(st.sampled_from([q, q.upper(), q.lower(), q.swapcase()]))
            else:
                q = data.draw(words)
            if not q:
                continue
            assert _ids(conn, hostsearch.clause(q, dialect)) == _ids(conn, _scan(q, dialect)), q
        tx.rollback()


def test_the_search_box_finds_names_owners_and_addresses(engine) -> None:
    with engine.begin() as conn:
        web = _add_host(conn, 1, "Web-Prod-01", "Kylin V10", "branch-a", "Olga", "10.0.42.42")
        db = _add_host(conn, 2, "db-prod-02", "Ubuntu 22.04", "branch-b", None, "10.0.4.2")
    silent = timedelta(days=1)
    with engine.connect() as conn:
        def listed(q: str) -> set[str]:
            return {r.id for r in fleet.hosts(conn, fleet.HostFilter(q=q), now=utcnow(),
                                              silent_after=silent, limit=50)}

        assert listed("PROD") == {web, db}
        assert listed("web") == {web}
        assert listed("kylin") == {web}
        assert listed("ch-b") == {db}
        assert listed("LGA") == {web}  # owner; backup owner "aglO"
        assert listed("agl") == {web}
        assert listed("10.0.4") == {web, db}  # an address starts with the text
        assert listed("0.42") == set()  # ... and only starts
        assert listed("b") == {web, db}  # shorter than a trigram: LIKE alone
        assert listed(web[:8]) == {web}


def _plan(conn: sa.Connection, where: sa.ColumnElement[bool]) -> str:
    sql = sa.select(agents.c.id).where(where).compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(explain + str(sql)))


def test_the_plans_read_the_indexes(engine) -> None:
    with engine.begin() as conn:
        for i in range(3000):
            _add_host(conn, i % 100, f"host-{i:05d}.example", f"Linux {i % 7}", f"g{i % 40}",
                      f"owner{i % 300}", f"10.{i // 250}.{i % 250}.7")
        _add_host(conn, 7, "zq7x-mail.example", "Linux 1", "g1", "Wanda", "10.99.0.7")
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # at 3,000 rows a scan still costs little
            conn.exec_driver_sql("SET enable_seqscan = off")
        # SQLite: a text most names share; PostgreSQL: one name's (each trigram of
        # "st-0004" is in most names: there a btree read whole costs less than the GIN)
        q = "st-0004" if conn.dialect.name == "sqlite" else "zq7x-ma"
        plan = _plan(conn, hostsearch.clause(q, conn.dialect.name))
    if engine.dialect.name == "sqlite":
        assert "SCAN host_profiles_hit" not in plan
        assert plan.count("VIRTUAL TABLE INDEX") == 2  # agents_search, host_profiles_search
        assert "ix_host_addresses_address_nocase" in plan
    else:  # PostgreSQL: each column's pg_trgm index (0018), the address prefix's index
        assert "ix_host_addresses_address_prefix" in plan, plan
        # (which of a column's indexes a branch reads follows the planner's costs at this
        # size; at 100,000 hosts, bench/growth.py)
        assert "ix_host_profiles_owner_trgm" in plan, plan
        assert "Seq Scan" not in plan, plan


def _search_objects(conn: sa.Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        return set(conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name LIKE '%search%' OR name LIKE "
            "'ix_host_addresses_address_%'").scalars())
    return set(conn.exec_driver_sql(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE "
        "'ix_host_addresses_address_%'").scalars())


def test_migration_0016_indexes_rows_stored_before_and_goes_back(engine) -> None:
    with engine.connect() as conn:
        at_head = _search_objects(conn)
    downgrade(engine, "0015")
    with engine.connect() as conn:
        assert _search_objects(conn) == set()
    with engine.begin() as conn:  # hosts stored before the index
        old = _add_host(conn, 1, "legacy-mail", "CentOS 7", "g1", "Petra", "192.168.7.1")
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        assert _search_objects(conn) == at_head
        for q in ("ACY-ma", "centos", "etr", "192.168"):
            assert _ids(conn, hostsearch.clause(q, conn.dialect.name)) == {old}, q
    if engine.dialect.name == "sqlite":
        assert {"agents_search", "agents_search_ai", "agents_search_ad", "agents_search_au",
                "host_profiles_search", "host_profiles_search_ai", "host_profiles_search_ad",
                "host_profiles_search_au", "ix_host_addresses_address_nocase"} <= at_head
    else:
        assert at_head == {"ix_host_addresses_address_prefix"}
        with engine.connect() as conn:
            trigram = set(conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'").scalars())
        assert trigram == {"ix_agents_hostname_trgm", "ix_agents_id_trgm",
                           "ix_agents_os_name_trgm", "ix_agents_group_name_trgm",
                           "ix_host_profiles_owner_trgm", "ix_host_profiles_backup_owner_trgm"}


def test_sqlite_vacuum_keeps_the_index_in_step(tmp_path) -> None:
    """The FTS5 tables find rows by agents' and host_profiles' rowids, which VACUUM keeps."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        upgrade(engine)
        with engine.begin() as conn:
            ids = [_add_host(conn, i, f"Host-{i:03d}", "Debian", f"g{i % 3}", f"own{i}", None)
                   for i in range(60)]
            for aid in ids[::2]:  # gaps in the rowids for VACUUM to close, if it would
                conn.execute(host_profiles.delete().where(host_profiles.c.agent_id == aid))
                conn.execute(agents.delete().where(agents.c.id == aid))
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
            for fts in ("agents_search", "host_profiles_search"):  # index against content
                conn.exec_driver_sql(f"INSERT INTO {fts}({fts}, rank) "  # noqa: S608
                                     "VALUES ('integrity-check', 1)")
            for q in ("HOST-0", "st-05", "own1", "OWN5", "deb"):
                found = _ids(conn, hostsearch.clause(q, "sqlite"))
                assert found == _ids(conn, _scan(q, "sqlite")), q
                assert found, q
    finally:
        engine.dispose()


def test_without_pg_trgm_the_upgrade_goes_on_and_the_search_scans(pg_server, pg_database,
                                                                  caplog) -> None:
    """A collector whose PostgreSQL role may not make extensions (no CREATE on its
    database): migration 0018 says so and goes on without the trigram indexes, and the
    search finds the same hosts by scanning."""
    role = f"hp_norole_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_database).execution_options(isolation_level="AUTOCOMMIT")
    name = pg_database.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC')
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"')
        conn.exec_driver_sql(f'GRANT ALL ON SCHEMA public TO "{role}"')
    url = pg_database.replace("://postgres@", f"://{role}@", 1)
    assert role in url
    engine = make_engine(url)
    try:
        with caplog.at_level("WARNING"):
            upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert "pg_trgm could not be made" in caplog.text
        with engine.begin() as conn:
            assert not conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'").all()
            web = _add_host(conn, 1, "Web-Prod-01", "Kylin V10", "branch-a", "Olga", "10.0.4.2")
            _add_host(conn, 2, "db-02", "Ubuntu", "branch-b", None, None)
            for q in ("PROD", "ylin", "lga", "10.0.4"):
                assert _ids(conn, hostsearch.clause(q, "postgresql")) == {web}, q
    finally:
        engine.dispose()
        with admin.connect() as conn:  # what the role made here, then the role
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        admin.dispose()
        server = make_engine(pg_server).execution_options(isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        server.dispose()
