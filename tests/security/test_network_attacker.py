"""A network attacker: plain HTTP, an impostor server, token guessing, replayed reports and
a replayed (older) policy — each tried against real collector and agent processes."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from forge import enroll_key, report_doc, sign
from harness import Collector, agent, free_port
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.shared.keys import generate
from netfault import BusyServer

CTX = ssl._create_unverified_context  # noqa: S323 - the tests check the pin themselves


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Collector]:
    """A collector with a low enrollment-failure limit (3 per address)."""
    c = Collector(tmp_path_factory.mktemp("netattack") / "data", free_port())
    c.init()
    with open(c.data_dir / "collector.yaml", "a", encoding="utf-8") as f:
        f.write("enroll:\n  max_failures_per_ip: 3\n  window_minutes: 15\n")
    c.start()
    yield c
    c.stop()


def test_plain_http_gets_no_http_answer_and_stores_nothing(served: Collector) -> None:
    token = served.token("--auto-approve")
    agent_id, key, _ = enroll_key(served, token)
    body = sign(report_doc(agent_id), key).encode()
    before = served.count("reports")
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/jose"
                  b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        answer = b""
        try:
            while chunk := s.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    assert not answer.startswith(b"HTTP/")  # no plaintext answer, no redirect to follow
    assert served.count("reports") == before
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5)


def test_only_tls_1_3_is_spoken(served: Collector) -> None:
    # no downgrade to TLS 1.2 or older: a client that offers nothing newer gets no session
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw, \
            pytest.raises(ssl.SSLError):
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    new = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    new.check_hostname, new.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw, \
            new.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.3"


def test_agent_refuses_an_impostor_with_another_certificate(served: Collector,
                                                             tmp_path: Path) -> None:
    state = tmp_path / "agent"
    agent(state, *served.join_line("--auto-approve")[1:])
    impostor = BusyServer(tmp_path)  # any certificate but the pinned one
    try:
        enrollment = json.loads((state / "enrollment.json").read_text())
        enrollment["server"] = impostor.url  # traffic diverted (DNS, ARP, routing)
        (state / "enrollment.json").write_text(json.dumps(enrollment))
        out = agent(state, "run", "--once", "--checks", "disk", check=False)
        assert out.returncode != 0
        assert "fingerprint" in (out.stdout + out.stderr).lower()
        assert "Traceback" not in out.stderr
        assert impostor.requests == []  # not one HTTP request reached the impostor
        assert len(list((state / "spool").glob("*.jws"))) == 1  # kept for the real one
    finally:
        impostor.close()


def _enroll_from(served: Collector, source: str, token: str) -> tuple[int, dict, str | None]:
    key = generate()
    conn = http.client.HTTPSConnection("127.0.0.1", served.port, timeout=10, context=CTX(),
                                       source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/enroll",
                     json.dumps({"token": token, "proof": make_proof(key, token)}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader("Retry-After")
    finally:
        conn.close()


def test_enrollment_token_guessing_is_rate_limited_per_address(served: Collector) -> None:
    good = served.token("--uses", "5", "--auto-approve")
    for guess in ("aaaa", "bbbb", "cccc"):
        status, body, _ = _enroll_from(served, "127.0.0.3", guess)
        assert (status, body["error"]) == (401, "enrollment token is not valid")
    status, body, retry = _enroll_from(served, "127.0.0.3", "dddd")
    assert status == 429
    assert body["status"] == 429
    assert int(retry) == 15 * 60
    status, _, _ = _enroll_from(served, "127.0.0.3", good)  # even the right token now
    assert status == 429
    status, body, _ = _enroll_from(served, "127.0.0.4", good)  # another address is not hurt
    assert status == 201, body
    assert served.count("agents", "id = ?", (body["agent_id"],)) == 1


def test_captured_report_replayed_later_is_stored_once(served: Collector) -> None:
    agent_id, key, _ = enroll_key(served, served.token("--auto-approve"))
    captured = sign(report_doc(agent_id, seq=1), key)
    assert served.post("/api/v1/reports", captured, "application/jose").status_code == 201
    for seq in (2, 3):
        later = sign(report_doc(agent_id, seq=seq), key)
        assert served.post("/api/v1/reports", later, "application/jose").status_code == 201
    replay = served.post("/api/v1/reports", captured, "application/jose")
    assert replay.status_code == 200
    assert replay.json()["result"] == "duplicate"
    batch = served.post("/api/v1/reports", json.dumps({"reports": [captured, captured]}),
                        "application/json").json()
    assert [r["result"] for r in batch["results"]] == ["duplicate", "duplicate"]
    assert served.stored_jws(agent_id).count(captured) == 1
    assert served.count("reports", "agent_id = ?", (agent_id,)) == 3


class PolicyReplayProxy:
    """An attacker in the middle holding the collector's TLS key (the pin matches): it
    forwards everything, but announces a newer policy and serves a captured older one."""

    def __init__(self, collector: Collector, captured_policy: str) -> None:
        upstream = collector.url
        outer = self
        self.served_policy = 0

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "GET" and self.path == "/api/v1/policy":
                    outer.served_policy += 1
                    self._answer(200, captured_policy.encode(), "application/jose")
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "authorization")}
                with collector.client().session as session:  # pinned to the collector
                    resp = session.request(self.command, upstream + self.path, data=body,
                                           headers=headers, timeout=20,
                                           verify=False)  # noqa: S501 - pinned adapter
                data = resp.content
                if self.path == "/api/v1/reports" and resp.ok:
                    doc = resp.json()
                    doc["policy_version"] = 2**62  # lure the agent into fetching
                    data = json.dumps(doc).encode()
                self._answer(resp.status_code, data, resp.headers.get("Content-Type", ""))

            def _answer(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(collector.data_dir / "tls" / "cert.pem",
                            collector.data_dir / "tls" / "key.pem")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def test_captured_older_policy_replayed_is_refused_by_the_agent(served: Collector,
                                                                 tmp_path: Path) -> None:
    state = tmp_path / "agent"
    agent(state, *served.join_line("--auto-approve")[1:])
    agent_id = json.loads((state / "enrollment.json").read_text())["agent_id"]
    agent(state, "run", "--once", "--checks", "disk")
    captured = (state / "policy.jws").read_text().strip()  # what crossed the wire
    served.cli("hosts", "set", agent_id, "--tag", "raised")  # the host's policy grows
    out = agent(state, "run", "--once", "--checks", "disk")
    assert "policy version" in out.stdout
    current = (state / "policy.jws").read_text().strip()
    assert current != captured
    proxy = PolicyReplayProxy(served, captured)
    try:
        enrollment = json.loads((state / "enrollment.json").read_text())
        enrollment["server"] = proxy.url
        (state / "enrollment.json").write_text(json.dumps(enrollment))
        out = agent(state, "run", "--once", "--checks", "disk", check=False)
    finally:
        proxy.close()
    text = out.stdout + out.stderr
    assert proxy.served_policy == 1, text
    assert "replayed old policy" in text, text
    assert (state / "policy.jws").read_text().strip() == current  # the cache kept the newer
