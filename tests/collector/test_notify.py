"""Notifications through real receivers: SMTP with STARTTLS and AUTH, chat webhooks,
retries with backoff, the daily digest; each event is sent exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from findings_kit import data, enroll_host, load_policy
from hostpatrol.collector.intake.identity import make_self_signed
from hostpatrol.collector.notify.dispatch import deliver_due
from hostpatrol.collector.notify.outbox import build_digests
from hostpatrol.collector.policy import loader
from hostpatrol.collector.store.schema import outbox
from hostpatrol.shared.clock import utcnow
from receivers import SMTP_PASSWORD, SMTP_USER, Sink, SmtpServer


@pytest.fixture
def smtp(tmp_path):
    """A real SMTP server on loopback (STARTTLS required, AUTH required)."""
    cert, key = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    make_self_signed(cert, key, ["127.0.0.1"])
    server = SmtpServer(cert, key)
    port = server.start()
    yield server, port, cert
    server.stop()


@pytest.fixture
def sink():
    """A webhook receiver that fails its first request."""
    s = Sink(fail_first=1)
    url = s.start()
    yield s, url
    s.stop()


def _policy(port: int, cert, url: str) -> str:
    channels = (
        "{mail: {type: email, to: [secops@example.org], smtp: {host: 127.0.0.1, "
        f"port: {port}, username: {SMTP_USER}, password_env: HP_TEST_SMTP_PW, "
        f"ca_file: '{cert}', from: hostpatrol@example.org}}}}, "
        f"slack: {{type: webhook, format: slack, url: '{url}/slack'}}, "
        f"ding: {{type: webhook, format: dingtalk, url: '{url}/ding'}}, "
        f"json: {{type: webhook, url: '{url}/json'}}}}")
    routes = "[{levels: [I, II, III, IV], channels: [mail, slack, ding, json]}]"
    return (loader.default_text().replace("  channels: {}", f"  channels: {channels}")
            .replace("  routes: []", f"  routes: {routes}"))


def test_each_event_is_sent_once_with_retry_and_digest(engine, smtp, sink, monkeypatch):
    server, port, cert = smtp
    receiver, url = sink
    monkeypatch.setenv("HP_TEST_SMTP_PW", SMTP_PASSWORD)
    now = utcnow()
    load_policy(engine, _policy(port, cert, url))
    host = enroll_host(engine, now=now)
    logs = data("logs")
    logs["logging"] = dict(logs["logging"], alive=False)  # level III: immediate
    host.send({"logs": logs, "firewall": data("firewall", active=False)}, now)  # + IV: digest
    host.send({"logs": logs, "firewall": data("firewall", active=False)},
              now + timedelta(minutes=1))  # a repeat tells nobody
    with engine.connect() as conn:
        policy = loader.current(conn)
    first = deliver_due(engine, policy, now + timedelta(minutes=1))
    assert (first.sent, first.retried) == (3, 1)  # the sink failed its first request
    assert len(server.messages) == 1
    assert "Subject: [hostpatrol III] New finding: Logging service dead" in server.messages[0]
    assert deliver_due(engine, policy, now + timedelta(seconds=70)).sent == 0  # backoff 30 s
    assert deliver_due(engine, policy, now + timedelta(seconds=95)).sent == 1
    assert deliver_due(engine, policy, now + timedelta(minutes=5)).sent == 0
    paths = sorted(b["path"] for b in receiver.bodies)
    assert paths == ["/ding", "/json", "/slack"]
    by_path = {b["path"]: b for b in receiver.bodies}
    assert by_path["/slack"]["text"].startswith("*[hostpatrol III] New finding")
    assert by_path["/ding"]["msgtype"] == "markdown"
    assert by_path["/json"]["finding"]["rule"] == "logging-alive"
    assert build_digests(engine, now + timedelta(hours=8)) == 4
    assert deliver_due(engine, policy, now + timedelta(hours=8)).sent == 4
    assert len(server.messages) == 2
    assert "daily digest" in server.messages[1]
    assert "Host firewall off" in server.messages[1]
    with engine.connect() as conn:
        states = conn.execute(sa.select(outbox.c.state, sa.func.count())
                              .group_by(outbox.c.state)).all()
    assert dict(states) == {"sent": 8, "digested": 4}


def test_unreachable_server_is_retried_then_failed(engine, tmp_path):
    from harness import free_port

    cert = tmp_path / "ca.pem"
    make_self_signed(cert, tmp_path / "ca.key", ["127.0.0.1"])
    now = utcnow()
    text = _policy(free_port(), cert, "http://127.0.0.1:9").replace(
        "channels: [mail, slack, ding, json]", "channels: [mail]").replace(
        "max_attempts: 8", "max_attempts: 2")
    load_policy(engine, text)
    host = enroll_host(engine, now=now)
    logs = data("logs")
    logs["logging"] = dict(logs["logging"], alive=False)
    host.send({"logs": logs}, now)
    with engine.connect() as conn:
        policy = loader.current(conn)
    assert deliver_due(engine, policy, now).retried == 1
    assert deliver_due(engine, policy, now + timedelta(seconds=10)).retried == 0  # backoff
    assert deliver_due(engine, policy, now + timedelta(minutes=5)).failed == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(outbox)).one()
    assert (row.state, row.attempts) == ("failed", 2)
    assert "127.0.0.1" in row.last_error
