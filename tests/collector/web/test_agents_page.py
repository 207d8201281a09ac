"""The agents page: a page at a time, pending first with what an admin decides on, tokens
near the top, a join line for Linux and Windows; the enrollment address is stored."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store.schema import agents
from hostpatrol.shared.keys import generate, key_id
from webapp import BASE, WebApp, make_webapp

FLEET = 160


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> WebApp:
    web = make_webapp(tmp_path_factory.mktemp("agents"))
    now = web.now()
    with web.engine.begin() as conn:
        conn.execute(agents.insert(), [
            {"id": f"00000000-0000-4000-8000-{i:012d}", "kid": f"kid-{i}",
             "public_key": f"pk-{i}", "status": "active", "hostname": f"srv-{i:04d}",
             "enrolled_at": now, "group_name": "g1"} for i in range(FLEET)])
    yield web
    web.engine.dispose()


def _pending(w: WebApp, hostname: str) -> tuple[str, str]:
    """Enroll through the real API (not auto-approved) from a given address."""
    now = w.now()
    token, key = f"tok-{hostname}", generate()
    with w.engine.begin() as conn:
        agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(hours=1),
                                 max_uses=1, group="g1", auto_approve=False)
    claims = {"token": token, "proof": make_proof(key, token, now)}
    resp = w.app.test_client().post("/api/v1/enroll", json=claims, base_url=BASE,
                                    environ_base={"REMOTE_ADDR": "10.20.30.40"})
    assert resp.status_code in (200, 201), resp.text
    return resp.json["agent_id"], key_id(key.public_key())


def test_pages_of_fifty_with_pending_first_and_what_to_decide_on(w: WebApp) -> None:
    agent_id, kid = _pending(w, "zz-newcomer")
    with w.engine.connect() as conn:
        row = agent_store.get(conn, agent_id)
    assert (row.status, row.enroll_ip) == ("pending", "10.20.30.40")
    admin = w.client("admin")
    first = admin.get("/agents", base_url=BASE).text
    rows = re.findall(r'<tr(?: class="pending")?>\s*<td><a href="/hosts/', first)
    assert len(rows) == 50
    body = first.split('id="agents"')[1]
    assert body.index(agent_id) < body.index("srv-0000")  # pending first
    assert "10.20.30.40" in body
    assert kid in body
    assert "page 1 of 4" in first  # 160 + 2 + 1 agents, 50 a page
    assert first.index('id="tokens"') < first.index('id="agents"')  # not pushed down
    last = admin.get("/agents?page=4", base_url=BASE).text
    assert len(re.findall(r'<td><a href="/hosts/', last.split('id="agents"')[1])) == 13
    assert "next" not in last.split('class="pages"')[1].split("</nav>")[0]
    beyond = admin.get("/agents?page=99", base_url=BASE)
    assert beyond.status_code == 200
    assert "No agents enrolled yet." in beyond.text or "srv-" not in beyond.text


def test_the_join_line_covers_linux_and_windows(w: WebApp) -> None:
    made = w.client("admin").post("/agents/tokens", data={"uses": "5", "expires": "7d"},
                                  base_url=BASE).text
    linux = made.split('id="join-linux">')[1].split("</pre>")[0]
    windows = made.split('id="join-windows">')[1].split("</pre>")[0]
    assert linux.startswith("hostpatrol-agent enroll --server https://")
    assert windows.startswith("install.cmd --server https://")
    token = re.search(r"--token (\S+)", linux).group(1)
    assert f"--token {token}" in windows
    assert re.search(r"--fingerprint sha256:[0-9a-f]{64}$", windows)


def test_a_shown_agent_count_matches_the_database(w: WebApp) -> None:
    with w.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(agents)).scalar_one()
        pending = conn.execute(sa.select(sa.func.count()).select_from(agents)
                               .where(agents.c.status == "pending")).scalar_one()
    page = w.client("admin").get("/agents", base_url=BASE).text
    assert f"{total} in all, {pending} waiting for approval" in page
