"""The host list's tag filter and menus, on SQLite and PostgreSQL, and on the page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import fleet, profiles, sql
from hostpatrol.collector.store.schema import agents
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import generate
from webapp import BASE, WebApp, make_webapp


def _fleet(engine) -> dict[str, str]:
    """Three active agents: two in g1 (one tagged intranet+finance), one in g2 (intranet)."""
    now = utcnow()
    with engine.begin() as conn:
        for group in ("g1", "g2"):
            agent_store.create_token(conn, f"tok-{group}", now=now,
                                     expires_at=now + timedelta(hours=1), max_uses=5,
                                     group=group, auto_approve=True)
    ids = {}
    for name, group, tags in (("a", "g1", ["intranet", "finance"]), ("b", "g1", None),
                              ("c", "g2", ["intranet"])):
        token = f"tok-{group}"
        with engine.begin() as conn:
            ids[name] = enroll(conn, {"token": token, "proof": make_proof(generate(), token)},
                               now).agent_id
            if tags is not None:
                profiles.set_profile(conn, ids[name], by="test", now=now, tags=tags)
    return ids


def _listed(engine, f: fleet.HostFilter) -> set[str]:
    with engine.connect() as conn:
        rows = fleet.hosts(conn, f, now=utcnow(), silent_after=timedelta(days=1), limit=50,
                           offset=0)
        count = fleet.count_hosts(conn, f, now=utcnow(), silent_after=timedelta(days=1))
    assert count == len(rows)
    return {r.id for r in rows}


def test_tag_filter_and_menu_on_both_backends(engine) -> None:
    ids = _fleet(engine)
    assert _listed(engine, fleet.HostFilter(tag="intranet")) == {ids["a"], ids["c"]}
    assert _listed(engine, fleet.HostFilter(tag="finance")) == {ids["a"]}
    assert _listed(engine, fleet.HostFilter(tag="fin")) == set()  # whole tags, not substrings
    assert _listed(engine, fleet.HostFilter(tag="intranet", group="g2")) == {ids["c"]}
    assert _listed(engine, fleet.HostFilter()) == set(ids.values())
    # a viewer scoped to g1 sees only g1's hosts and g1's tags
    g1 = frozenset({"g1"})
    assert _listed(engine, fleet.HostFilter(tag="intranet", scope=g1)) == {ids["a"]}
    with engine.connect() as conn:
        assert fleet.facets(conn, None)["tags"] == ["finance", "intranet"]
        assert fleet.facets(conn, frozenset({"g2"}))["tags"] == ["intranet"]


def test_hosts_page_filters_by_tag(tmp_path) -> None:
    w: WebApp = make_webapp(tmp_path)
    try:
        with w.engine.begin() as conn:
            profiles.set_profile(conn, w.hosts["g1"], by="test", now=utcnow(),
                                 tags=["dmz"])
        admin = w.client("admin")
        page = admin.get("/hosts?tag=dmz", base_url=BASE)
        assert page.status_code == 200
        assert f"/hosts/{w.hosts['g1']}" in page.text
        others = [aid for name, aid in w.hosts.items() if name != "g1"]
        assert others
        assert not any(f"/hosts/{aid}\"" in page.text for aid in others)
        assert '<option value="dmz" selected>dmz</option>' in page.text
        # the new menu is translated
        zh = admin.get("/hosts", base_url=BASE, headers={"Accept-Language": "zh-CN"})
        assert "任意标签" in zh.text
    finally:
        w.engine.dispose()


def test_changing_tags_replaces_them_in_the_filter(engine) -> None:
    ids = _fleet(engine)
    with engine.begin() as conn:
        profiles.set_profile(conn, ids["a"], by="test", now=utcnow(), tags=["dmz"])
        profiles.set_profile(conn, ids["c"], by="test", now=utcnow(), owner="olga")  # tags kept
    assert _listed(engine, fleet.HostFilter(tag="intranet")) == {ids["c"]}
    assert _listed(engine, fleet.HostFilter(tag="dmz")) == {ids["a"]}
    with engine.begin() as conn:
        profiles.set_profile(conn, ids["a"], by="test", now=utcnow(), tags=[])
    assert _listed(engine, fleet.HostFilter(tag="dmz")) == set()


def test_upgrade_copies_existing_tags_into_the_index(tmp_path) -> None:
    import sqlalchemy as sa
    from hostpatrol.collector.store.db import make_engine, upgrade
    from hostpatrol.collector.store.schema import host_profiles

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0006")  # a store from before the tag index
        now = utcnow()
        aid = "0b1d0000-0000-4000-8000-000000000001"
        with engine.begin() as conn:  # rows as that schema had them (today's code reads more)
            conn.execute(sa.text(
                "INSERT INTO agents (id, kid, public_key, status, hostname, group_name, "
                "enrolled_at) VALUES (:id, 'kid-old', 'key', 'active', 'old-host', 'g1', :at)"),
                {"id": aid, "at": now.replace(tzinfo=None)})
            conn.execute(host_profiles.insert().values(
                agent_id=aid, critical=False, tags=["intranet", "db"], updated_at=now,
                updated_by="old"))
        upgrade(engine)
        assert _listed(engine, fleet.HostFilter(tag="db")) == {aid}
        with engine.connect() as conn:
            assert fleet.facets(conn, None)["tags"] == ["db", "intranet"]
            assert conn.execute(sa.text("SELECT count(*) FROM host_tags")).scalar_one() == 2
    finally:
        engine.dispose()


def test_a_drill_down_of_a_whole_large_fleet_is_one_parameter(engine) -> None:
    """The hosts behind an overview figure of a 100,000-host fleet: more ids than
    PostgreSQL's 65,535 parameters a statement (and SQLite's default 32,766)."""
    ids = _fleet(engine)
    many = {str(uuid.UUID(int=i, version=4)) for i in range(70_000)}
    picked = frozenset(many | {ids["a"], ids["c"]})
    assert _listed(engine, fleet.HostFilter(ids=picked)) == {ids["a"], ids["c"]}
    assert _listed(engine, fleet.HostFilter(ids=frozenset())) == set()
    with engine.connect() as conn:  # a quote or a bracket in a value is a value
        odd = frozenset({'x"]', "y'", ids["b"]})
        assert set(conn.execute(sa.select(agents.c.id).where(
            sql.among(conn, agents.c.id, odd))).scalars()) == {ids["b"]}
