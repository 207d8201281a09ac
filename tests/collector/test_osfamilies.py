"""Hosts by OS family and 信创 coverage: from ingested inventories, on both backends.

The inventories are this host's real inventory data with the ``os`` object the agent makes
from recorded os-release files (tests/fixtures/inventory/SOURCES.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from findings_kit import data, enroll_host
from forge import disk
from hostpatrol.agent.checks.inventory import os_facts, parse_os_release
from hostpatrol.collector.reports.figures import compute, host_class
from hostpatrol.collector.reports.period import parse
from hostpatrol.collector.store import fleet, osfamilies
from hostpatrol.collector.store.schema import agents

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "inventory"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
W48 = parse("2026-W48")


def inventory(release: str | None = None, *, windows: str | None = None) -> dict:
    if windows:
        os_obj = os_facts({}, "Windows", "10", windows)
    else:
        os_obj = os_facts(parse_os_release((FIX / release).read_text("utf-8")), "Linux",
                          "5.10.0")
    return data("inventory", os=os_obj)


def _fleet(engine) -> dict[str, str]:
    hosts = {n: enroll_host(engine, "g1", now=T0 - timedelta(days=3), hostname=n)
             for n in ("kylin-pc", "uos-srv", "win-pc", "deb-srv", "silent")}
    hosts["kylin-pc"].send({"inventory": inventory("kylin_desktop_v11.os-release")}, T0)
    hosts["uos-srv"].send({"inventory": inventory("uos_server_20_uel20.os-release")}, T0)
    hosts["win-pc"].send({"inventory": inventory(windows="Enterprise")}, T0)
    hosts["deb-srv"].send({"inventory": inventory("debian_12_this_host.os-release")}, T0)
    hosts["silent"].send({"disk": disk(10.0)}, T0)  # never sent an inventory
    return {n: h.agent_id for n, h in hosts.items()}


def test_ingest_stores_family_distro_and_desktop(engine) -> None:
    ids = _fleet(engine)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(
            agents.c.id, agents.c.os_family, agents.c.os_distro, agents.c.os_desktop))}
    got = {n: (rows[i].os_family, rows[i].os_distro, rows[i].os_desktop)
           for n, i in ids.items()}
    assert got == {"kylin-pc": ("xinchuang", "kylin", True),
                   "uos-srv": ("xinchuang", "uos", False),
                   "win-pc": ("windows", "windows", True),
                   "deb-srv": ("debian", "debian", None),
                   "silent": (None, None, None)}


def test_overview_counts_and_viewer_scope(engine) -> None:
    _fleet(engine)
    other = enroll_host(engine, "g2", now=T0, hostname="other")
    other.send({"inventory": inventory("openeuler_24.03.os-release")}, T0)
    with engine.connect() as conn:
        everyone = osfamilies.fleet(conn, fleet.scope_clause(None))
        g1 = osfamilies.fleet(conn, fleet.scope_clause(frozenset({"g1"})))
    assert everyone["families"] == {"xinchuang": 3, "windows": 1, "debian": 1, "unknown": 1}
    assert everyone["xinchuang_distros"] == {"kylin": 1, "openeuler": 1, "uos": 1}
    assert (everyone["hosts"], everyone["xinchuang"], everyone["xinchuang_percent"]) == (
        6, 3, 50.0)
    assert (g1["hosts"], g1["xinchuang"]) == (5, 2)
    assert list(g1["families"]) == ["xinchuang", "windows", "debian", "unknown"]  # display


def test_newest_inventory_wins_and_an_older_one_does_not(engine) -> None:
    host = enroll_host(engine, "g1", now=T0 - timedelta(days=3), hostname="moved")
    host.send({"inventory": inventory("kylin_server_v10_sword.os-release")}, T0)
    host.send({"inventory": inventory("rhel_9.2.os-release")}, T0 + timedelta(days=1))
    host.send({"inventory": inventory("deepin_20.9.os-release")}, T0 - timedelta(days=1),
              received=T0 + timedelta(days=1, hours=1))  # an older report arriving late
    with engine.connect() as conn:
        family = conn.execute(sa.select(agents.c.os_family).where(
            agents.c.id == host.agent_id)).scalar_one()
    assert family == "rhel"


def test_report_scope_counts_xinchuang_and_desktop_terminals(engine) -> None:
    _fleet(engine)
    with engine.connect() as conn:
        scope = compute(conn, W48, W48.end + timedelta(days=1))["scope"]
    assert scope["hosts"] == 5
    assert scope["xinchuang"] == 2
    assert scope["classes"] == {"server": 3, "terminal": 2}  # Kylin desktop and Windows 10
    assert scope["families"] == {"xinchuang": 2, "windows": 1, "debian": 1, "unknown": 1}


def test_pure_classification() -> None:
    assert osfamilies.family_of(None, "Windows 10") == "windows"
    assert osfamilies.family_of("not-a-family", "Linux 6.1") == "unknown"
    assert osfamilies.family_of("xinchuang", None) == "xinchuang"
    assert osfamilies.from_inventory({"no": "os"}) is None
    assert osfamilies.from_inventory("garbage") is None
    assert osfamilies.from_inventory({"os": {"id": 5, "name": None}}) == {
        "os_family": "unknown", "os_distro": "unknown", "os_desktop": None}
    empty = osfamilies.summarize([])
    assert (empty["hosts"], empty["xinchuang_percent"], empty["families"]) == (0, None, {})
    assert host_class("Linux 5.4.18", [], True) == "terminal"
    assert host_class("Linux 5.4.18", ["server"], True) == "server"


def test_upgrade_fills_the_columns_from_stored_inventories(tmp_path) -> None:
    from hostpatrol.collector.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0008")  # a store from before the OS family columns
        now = T0.replace(tzinfo=None)
        aid = "0b1d0000-0000-4000-8000-0000000000aa"
        inv = inventory("openkylin_2.0.os-release")
        with engine.begin() as conn:  # rows as that schema had them
            conn.execute(sa.text(
                "INSERT INTO agents (id, kid, public_key, status, hostname, enrolled_at) "
                "VALUES (:id, 'kid-old', 'key', 'active', 'old-host', :at)"),
                {"id": aid, "at": now})
            conn.execute(sa.text(
                "INSERT INTO reports (id, agent_id, report_id, seq, created_at, received_at, "
                "schedule, source, sha256, jws) VALUES (1, :id, 'r1', 1, :at, :at, 'weekly', "
                "'http', 'x', 'x')"), {"id": aid, "at": now})
            conn.execute(sa.text(
                "INSERT INTO check_results (id, report_pk, agent_id, check_name, status, "
                "started_at, duration_ms, data) VALUES (7, 1, :id, 'inventory', 'ok', :at, 1, "
                ":data)"), {"id": aid, "at": now, "data": json.dumps(inv)})
            conn.execute(sa.text(
                "INSERT INTO host_latest (agent_id, check_name, result_id, status, started_at) "
                "VALUES (:id, 'inventory', 7, 'ok', :at)"), {"id": aid, "at": now})
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(sa.select(agents.c.os_family, agents.c.os_distro,
                                         agents.c.os_desktop)).one()
        assert tuple(row) == ("xinchuang", "openkylin", True)
    finally:
        engine.dispose()
