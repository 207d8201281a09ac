"""A web worker of ``serve`` killed with SIGKILL: the server replaces it, agents keep
delivering, and nothing acknowledged is lost.

Also: the WSGI entry point each worker calls (``hostpatrol.collector.wsgi:create``)
builds the app from the data dir named in the environment, and a ``bind`` that names a
host is resolved for the server (which binds addresses only).
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from forge import enroll_key, report_doc, sign
from harness import Collector, wait_until


def _web_workers(collector: Collector) -> list[psutil.Process]:
    """The live web workers (a killed one may linger as a zombie until it is reaped)."""
    assert collector.proc is not None
    out = []
    for p in psutil.Process(collector.proc.pid).children(recursive=True):
        try:
            if "hostpatrol-collector worker-" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:  # ZombieProcess, NoSuchProcess: not a live worker
            continue
    return out


def _dead(p: psutil.Process) -> bool:
    """Exited: a zombie, or already reaped (which may happen between two questions)."""
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_killed_web_worker_is_replaced_and_delivery_goes_on(collector: Collector) -> None:
    agent_id, key, _ = enroll_key(collector, collector.token("--auto-approve"))
    before = _web_workers(collector)
    assert len(before) == 2, [p.cmdline() for p in before]
    victim = before[0]
    os.kill(victim.pid, signal.SIGKILL)
    wait_until(lambda: _dead(victim))
    # replaced: two live workers again, one of them new
    wait_until(lambda: len([p for p in _web_workers(collector) if p.pid != victim.pid]) == 2)
    assert victim.pid not in {p.pid for p in _web_workers(collector)}
    accepted = []
    for seq in range(1, 21):  # over fresh connections: both workers take some
        doc = report_doc(agent_id, seq=seq)
        resp = collector.post("/api/v1/reports", sign(doc, key), "application/jose")
        assert resp.status_code == 201, resp.text
        accepted.append(doc["report_id"])
    assert collector.count("reports", "agent_id = ?", (agent_id,)) == len(accepted)


def test_the_wsgi_entry_point_builds_the_app_from_the_environment(
        collector: Collector, monkeypatch) -> None:
    from hostpatrol.collector import wsgi

    monkeypatch.setenv("HOSTPATROL_SERVE_DATA_DIR", str(collector.data_dir))
    monkeypatch.delenv("HOSTPATROL_SERVE_CONFIG", raising=False)
    app = wsgi.create()
    try:
        resp = app.test_client().get("/healthz")
        assert resp.status_code == 200
        assert app.extensions["hostpatrol.config"].data_dir == collector.data_dir
    finally:
        app.extensions["hostpatrol.engine"].dispose()


def test_bind_may_name_a_host_and_is_resolved_for_the_server() -> None:
    from hostpatrol.collector.server import split_bind

    assert split_bind("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert split_bind("[::1]:8443") == ("::1", 8443)
    assert split_bind("0.0.0.0:8443") == ("0.0.0.0", 8443)  # noqa: S104 - parsed, not bound
    host, port = split_bind("localhost:8443")  # the server itself binds addresses only
    assert port == 8443
    assert host in ("127.0.0.1", "::1")
    for bad in ("8443", "localhost:", "no-such-host.invalid:8443"):
        with pytest.raises(ValueError, match="bind address"):
            split_bind(bad)
