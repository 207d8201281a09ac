"""Policy page (history, escaped diff, load with line-numbered errors) and groups and owners."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hostpatrol.collector import audit
from hostpatrol.collector.policy import loader
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import agents, host_profiles
from webapp import BASE, WebApp, make_webapp


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    """A fresh app (policy version 1 loaded by init)."""
    web = make_webapp(tmp_path_factory.mktemp("policy"))
    with web.engine.begin() as conn:  # owners must be known people
        for name in ("alice", "bob", "张伟"):
            user_store.add_user(conn, name, "operator", None, web.now())
    yield web
    web.engine.dispose()


def test_policy_page_shows_current_version_and_rules(w: WebApp) -> None:
    page = w.client("auditor").get("/policy", base_url=BASE).text
    assert 'id="policy-history"' in page
    assert "disk-used" in page
    assert 'id="policy-load"' not in page  # only an admin loads policies
    assert 'id="policy-load"' in w.client("admin").get("/policy", base_url=BASE).text
    assert w.client("operator").post("/policy", data={"yaml_text": "x"},
                                     base_url=BASE).status_code == 403


def test_invalid_policy_is_refused_with_its_line_and_nothing_stored(w: WebApp) -> None:
    text = loader.default_text().replace("  min_hosts: 10", "  min_hostz: 10")
    line = text.splitlines().index("  min_hostz: 10") + 1
    resp = w.client("admin").post("/policy", data={"yaml_text": text}, base_url=BASE)
    assert resp.status_code == 400
    assert f"dashboard:{line}:" in resp.text
    assert "min_hostz" in resp.text
    assert '<li class="bad">  min_hostz: 10</li>' in resp.text
    with w.engine.connect() as conn:
        assert [s.version for s in loader.history(conn)] == [1]


def test_loaded_version_is_audited_and_the_diff_is_escaped(w: WebApp) -> None:
    text = loader.default_text().replace("  min_hosts: 10", "  min_hosts: 12") + \
        "# <script>alert(1)</script>\n"
    admin = w.client("admin")
    resp = admin.post("/policy", data={"yaml_text": text}, base_url=BASE, follow_redirects=True)
    assert "Policy version 2 loaded." in resp.text
    again = admin.post("/policy", data={"yaml_text": text}, base_url=BASE,
                       follow_redirects=True)
    assert "already version 2" in again.text
    with w.engine.connect() as conn:
        assert [s.version for s in loader.history(conn)] == [2, 1]
        assert loader.current(conn).spread_min_hosts == 12
        loads = list(audit.iter_entries(conn, audit.AuditFilter(action="policy.load",
                                                                actor="admin")))
    assert [r.target for r in loads] == ["policy:2"]
    diff = w.client("viewer").get("/policy/diff?a=1&b=2", base_url=BASE)
    assert diff.status_code == 403  # viewers see their hosts only, not the fleet policy
    diff = w.client("auditor").get("/policy/diff?a=1&b=2", base_url=BASE).text
    assert '<span class="d-del">-  min_hosts: 10</span>' in diff
    assert '<span class="d-add">+  min_hosts: 12</span>' in diff
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in diff
    assert "<script>alert(1)" not in diff
    assert w.client("auditor").get("/policy/diff?a=1&b=9", base_url=BASE).status_code == 404


def test_groups_page_sets_owners_criticality_and_group(w: WebApp) -> None:
    host = w.hosts["g2"]
    page = w.client("auditor").get("/groups", base_url=BASE).text
    assert 'id="groups"' in page
    assert "g1" in page
    assert "g2" in page
    form = {"group": "branch-b", "owner": "alice", "backup_owner": "bob",
            "critical": "on", "tags": "server, raised"}
    resp = w.client("admin").post(f"/groups/hosts/{host}", data=form, base_url=BASE,
                                  follow_redirects=True)
    assert "updated" in resp.text
    with w.engine.connect() as conn:
        profile = conn.execute(sa.select(host_profiles).where(
            host_profiles.c.agent_id == host)).one()
        group = conn.execute(sa.select(agents.c.group_name).where(agents.c.id == host)
                             ).scalar_one()
        entries = list(audit.iter_entries(conn, audit.AuditFilter(action="host.profile")))
    assert (profile.owner, profile.backup_owner, profile.critical) == ("alice", "bob", True)
    assert profile.tags == ["raised", "server"]
    assert group == "branch-b"
    assert entries[-1].target == f"host:{host}"
    bad = w.client("admin").post(f"/groups/hosts/{host}", data={**form, "owner": "a b;c"},
                                 base_url=BASE, follow_redirects=True)
    assert "user names" in bad.text
    unknown = w.client("admin").post(f"/groups/hosts/{host}", data={**form, "owner": "alcie"},
                                     base_url=BASE, follow_redirects=True)
    assert "user names" in unknown.text
    assert w.client("admin").post(f"/groups/hosts/{host}", data={},
                                  base_url=BASE).status_code == 400
    assert w.client("operator").post(f"/groups/hosts/{host}", data=form,
                                     base_url=BASE).status_code == 403
    listing = w.client("auditor").get("/groups?group=branch-b", base_url=BASE).text
    assert "alice" in listing


def test_groups_owners_and_escalation_saved_by_one_submit_keeping_comments(w: WebApp) -> None:
    from hostpatrol.collector.policy import loader

    with w.engine.connect() as conn:
        version, before = loader.text_of(conn)
    form = {"name": ["g1", "g2", "branch-x"], "parent": ["", "g1", "g1"],
            "owner": ["alice", "张伟", "bob"], "backup_owner": ["bob", "", ""]}
    resp = w.client("admin").post("/groups/contacts", data=form, base_url=BASE,
                                  follow_redirects=True)
    assert f"policy version {version + 1}" in resp.text
    with w.engine.connect() as conn:
        after_version, after = loader.text_of(conn)
        policy = loader.current(conn)
        entries = list(audit.iter_entries(conn, audit.AuditFilter(action="policy.load")))
    assert after_version == version + 1
    assert (policy.groups["g2"].parent, policy.groups["g2"].owner) == ("g1", "张伟")
    assert (policy.groups["g1"].owner, policy.groups["g1"].backup_owner) == ("alice", "bob")
    assert policy.groups["branch-x"].parent == "g1"
    comments = [x for x in before.splitlines() if x.lstrip().startswith("#")]
    assert comments
    assert comments == [x for x in after.splitlines() if x.lstrip().startswith("#")]
    assert json.loads(entries[-1].details)["source"] == "groups page"
    # an unknown owner, or a parent the loader refuses: nothing saved
    typo = w.client("admin").post("/groups/contacts", data={**form, "owner": ["alcie", "", ""]},
                                  base_url=BASE, follow_redirects=True)
    assert "alcie" in typo.text
    orphan = w.client("admin").post("/groups/contacts", data={
        "name": ["g1"], "parent": ["nowhere"], "owner": [""], "backup_owner": [""]},
        base_url=BASE, follow_redirects=True)
    assert "Not saved" in orphan.text
    assert "unknown group &#39;nowhere&#39;" in orphan.text  # the loader's own check
    with w.engine.connect() as conn:
        assert loader.text_of(conn)[0] == after_version
    page = w.client("admin").get("/groups", base_url=BASE).text
    assert '<datalist id="owners">' in page
    assert '<option value="张伟">' in page
    assert w.client("operator").post("/groups/contacts", data=form,
                                     base_url=BASE).status_code == 403


def test_every_host_row_saved_by_one_submit(w: WebApp) -> None:
    ids = [w.hosts["g1"], w.hosts["g2"]]
    form = {"id": ids, f"group-{ids[0]}": "g1", f"owner-{ids[0]}": "bob",
            f"backup_owner-{ids[0]}": "", f"tags-{ids[0]}": "db", f"critical-{ids[0]}": "on",
            f"group-{ids[1]}": "g2", f"owner-{ids[1]}": "张伟", f"backup_owner-{ids[1]}": "alice",
            f"tags-{ids[1]}": ""}
    resp = w.client("admin").post("/groups/hosts", data=form, base_url=BASE,
                                  follow_redirects=True)
    assert "2 host(s) updated." in resp.text
    with w.engine.connect() as conn:
        rows = {r.agent_id: r for r in conn.execute(sa.select(host_profiles)
                                                    .where(host_profiles.c.agent_id.in_(ids)))}
    assert (rows[ids[0]].owner, rows[ids[0]].critical, rows[ids[0]].tags) == ("bob", True, ["db"])
    assert (rows[ids[1]].owner, rows[ids[1]].backup_owner) == ("张伟", "alice")
    again = w.client("admin").post("/groups/hosts", data=form, base_url=BASE,
                                   follow_redirects=True)
    assert "0 host(s) updated." in again.text  # nothing changed, nothing audited
    bad = w.client("admin").post("/groups/hosts", data={**form, f"owner-{ids[1]}": "nobody"},
                                 base_url=BASE, follow_redirects=True)
    assert "Not saved" in bad.text
