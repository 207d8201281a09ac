"""Per-host facts (packages, updates, addresses, users) kept at ingest, on SQLite and
PostgreSQL; migration 0013 builds them for hosts that reported before it; the pure
extractors and the spreadsheet cell guard."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from findings_kit import enroll_host
from forge import disk
from hostpatrol.collector.store import hostfacts, software
from hostpatrol.collector.store.db import current_revision, downgrade, head_revision, upgrade
from hostpatrol.collector.store.fleet import HostFilter, count_hosts, hosts
from hostpatrol.collector.store.schema import (
    host_addresses,
    host_fact_digests,
    host_packages,
    host_updates,
    host_users,
)
from hostpatrol.collector.web.sheets import cell
from hostpatrol.shared.clock import utcnow
from lists_fleet import NGINX, address, results


def _data(i: int) -> dict[str, dict]:
    return {r["check"]: r["data"] for r in results(i)}


def _facts(engine, agent_id: str) -> dict[str, set]:
    with engine.connect() as conn:
        return {name: set(conn.execute(sa.select(*cols).where(t.c.agent_id == agent_id)).all())
                for name, t, cols in (
                    ("packages", host_packages, (host_packages.c.name, host_packages.c.version)),
                    ("addresses", host_addresses, (host_addresses.c.address,)),
                    ("updates", host_updates, (host_updates.c.name, host_updates.c.security)),
                    ("users", host_users, (host_users.c.name, host_users.c.admin)))}


def _digests(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(host_fact_digests)
                            ).scalar_one()


def test_ingest_keeps_each_hosts_newest_facts(engine) -> None:
    now = utcnow() - timedelta(hours=2)
    host = enroll_host(engine, now=now)
    host.send(_data(0), now)
    facts = _facts(engine, host.agent_id)
    assert ("nginx", NGINX[0]) in facts["packages"]
    assert facts["addresses"] == {(address(0),)}  # no loopback, no link-local
    assert facts["updates"] == {("openssl", True), ("tzdata", False)}
    assert ("clerk0", False) in facts["users"]
    assert ("root", True) in facts["users"]
    # a newer inventory replaces the packages; a failed patches run keeps the last updates
    host.send({"inventory": _data(1)["inventory"]}, now + timedelta(minutes=5))
    host.send({"patches": {}}, now + timedelta(minutes=6), status="error")
    after = _facts(engine, host.agent_id)
    assert not any(name == "nginx" for name, _ in after["packages"])
    assert after["addresses"] == {(address(1),)}
    assert after["updates"] == facts["updates"]
    # an older report arriving late changes nothing: the facts are the newest result's
    host.send({"inventory": _data(0)["inventory"]}, now + timedelta(minutes=1))
    assert _facts(engine, host.agent_id)["addresses"] == {(address(1),)}
    with engine.connect() as conn:
        f = HostFilter(q=address(1))
        listed = hosts(conn, f, now=utcnow(), silent_after=timedelta(days=1), limit=10)
        assert [r.id for r in listed] == [host.agent_id]
        assert listed[0].ip == address(1)
        assert count_hosts(conn, f, now=utcnow(), silent_after=timedelta(days=1)) == 1
        assert software.hosts_pending(conn, None, security=True) == 1


def test_unchanged_facts_are_not_rewritten(engine) -> None:
    now = utcnow() - timedelta(hours=1)
    host = enroll_host(engine, now=now)
    host.send(_data(3), now)
    with engine.connect() as conn:
        assert hostfacts.store(conn, [(host.agent_id, "inventory", _data(3)["inventory"])]) == 0
        assert hostfacts.store(conn, [(host.agent_id, "patches", _data(4)["patches"])]) == 1
        conn.rollback()
    assert _digests(engine) == 4


def test_migration_builds_facts_of_earlier_reports_and_rolls_back(engine) -> None:
    now = utcnow() - timedelta(hours=1)
    host = enroll_host(engine, now=now)
    host.send({**_data(6), "disk": disk(20.0)}, now)
    downgrade(engine, "0012")  # the facts go; the results they came from stay
    assert current_revision(engine) == "0012"
    assert "host_packages" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    facts = _facts(engine, host.agent_id)
    assert ("nginx", NGINX[0]) in facts["packages"]
    assert facts["addresses"] == {(address(6),)}
    assert facts["updates"] == {("openssl", True)}
    assert _digests(engine) == 4


def test_extractors_leave_out_what_has_no_shape() -> None:
    assert hostfacts.packages_of(None) == []
    assert hostfacts.packages_of({"software": {"packages": [
        {"name": "a", "version": "1"}, {"name": "a", "version": "1"}, {"name": 3},
        "junk", {"name": "b", "version": ""}]}}) == [{"name": "a", "version": "1", "arch": ""}]
    assert hostfacts.addresses_of({"interfaces": [{"addresses": [
        {"address": "::1", "family": "ipv6"}, {"address": "169.254.1.1", "family": "ipv4"},
        {"address": "10.0.0.1", "family": "ipx"}, {"address": "2001:db8::1",
                                                    "family": "ipv6"}]}]}) == [
        {"address": "2001:db8::1", "family": "ipv6"}]
    assert hostfacts.updates_of({"updates": [
        {"name": "x", "security": True}, {"name": "x", "security": False}]}) == [
        {"name": "x", "arch": "", "installed": None, "candidate": None, "security": True}]
    assert hostfacts.users_of({"users": [{"name": "svc", "login_capable": False},
                                         {"name": "ops", "login_capable": True}]}) == [
        {"name": "ops", "admin": False}]


def test_cells_keep_data_and_stop_formulas() -> None:
    assert cell(None) == ""
    assert cell("-") == "-"
    assert cell("-5") == "-5"
    assert cell("+1.5") == "+1.5"
    assert cell("—") == "—"
    assert cell(7) == 7
    for formula in ("=1+1", "@SUM(A1)", "-2+cmd|' /C calc'!A0", "+A1", "\tx"):
        assert cell(formula) == "'" + formula


def test_search_sort_and_software_queries_on_both_backends(engine) -> None:
    now = utcnow() - timedelta(hours=1)
    made = {}
    for i, name in enumerate(("bravo", "Alpha", "charlie")):
        host = enroll_host(engine, "g1" if i else "g2", now=now, hostname=name)
        host.send(_data(i * 2), now)  # even hosts: nginx NGINX[0], NGINX[2], NGINX[1]
        made[name] = host.agent_id
    silent = timedelta(days=1)
    with engine.connect() as conn:
        def listed(**kw) -> list[str]:
            f = HostFilter(**kw)
            rows = hosts(conn, f, now=utcnow(), silent_after=silent, limit=10)
            assert count_hosts(conn, f, now=utcnow(), silent_after=silent) == len(rows)
            return [r.hostname for r in rows]

        assert listed() == ["Alpha", "bravo", "charlie"]  # case ignored
        assert listed(desc=True) == ["charlie", "bravo", "Alpha"]
        assert listed(q="nginx") == ["Alpha", "bravo", "charlie"]
        assert listed(q="clerk2") == ["Alpha"]  # i=2 → clerk2
        assert listed(package="nginx", version=NGINX[2]) == ["Alpha"]
        assert listed(security=True) == ["bravo"]  # i=0: openssl; i=2 and 4: none
        assert listed(pending=True) == ["bravo", "charlie"]  # i=4: tzdata, not security
        f = software.SoftwareFilter(q="ngi")
        rows = software.packages(conn, f, limit=None)
        assert [(r.name, r.version, r.hosts) for r in rows] == [
            ("nginx", v, 1) for v in sorted(NGINX)]
        assert software.packages(conn, software.SoftwareFilter(q="Ngi"), limit=None) == []
        assert software.packages(conn, software.SoftwareFilter(q="ngi", scope=frozenset(
            {"g2"})), limit=None)[0].version == NGINX[0]
        assert [r.name for r in software.pending(conn, software.SoftwareFilter(),
                                                 security=True)] == ["openssl"]


def test_a_revoked_host_leaves_the_facts(engine) -> None:
    from hostpatrol.collector.store import agents as agent_store

    now = utcnow() - timedelta(hours=1)
    host = enroll_host(engine, now=now)
    host.send(_data(0), now)
    assert _facts(engine, host.agent_id)["packages"]
    with engine.begin() as conn:
        assert agent_store.set_status(conn, host.agent_id, "revoked", now)
    assert not any(_facts(engine, host.agent_id).values())
    with engine.connect() as conn:
        assert software.hosts_pending(conn, None, security=True) == 0
