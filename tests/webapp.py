"""An in-process collector app on a real SQLite data dir, with users and hosts, for web tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from forge import LIMITS, report_doc, sign
from harness import PASSWORD, Collector, free_port
from hostpatrol.agent.enrollment import make_proof
from hostpatrol.collector.app import create_app
from hostpatrol.collector.config import load_config
from hostpatrol.collector.intake.enroll import enroll
from hostpatrol.collector.intake.ingest import ingest
from hostpatrol.collector.store import accounts
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import users as user_store
from hostpatrol.shared.clock import Clock, utcnow
from hostpatrol.shared.keys import generate

BASE = "https://localhost"
ROLES = ("admin", "operator", "approver", "auditor", "viewer")


@dataclass
class WebApp:
    """The app, its engine and the ids tests need."""

    app: Flask
    data_dir: Path
    users: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)   # group -> agent id
    reports: dict[str, str] = field(default_factory=dict)  # agent id -> a report id
    keys: dict[str, Any] = field(default_factory=dict)     # agent id -> its signing key

    @property
    def engine(self) -> Any:
        """The store engine."""
        return self.app.extensions["hostpatrol.engine"]

    def now(self) -> Any:
        """The app's clock, read now."""
        return self.app.extensions["hostpatrol.clock"]()

    def client(self, role: str | None = None) -> FlaskClient:
        """A client signed in as the user named after ``role`` (anonymous when None)."""
        c = self.app.test_client()
        if role is not None:
            with self.engine.begin() as conn:
                token = accounts.open_session(conn, self.users[role], now=self.now(),
                                              lifetime=timedelta(hours=1), ip="127.0.0.1")
            with c.session_transaction(base_url=BASE) as sess:
                sess["sid"] = token
        return c

    def enroll_host(self, group: str, hostname: str = "host", **doc: Any) -> str:
        """Enroll an agent in ``group`` and store one signed report from it."""
        now = self.now()
        token = f"tok-{group}-{hostname}"
        key = generate()
        with self.engine.begin() as conn:
            agent_store.create_token(conn, token, now=now, expires_at=now + timedelta(hours=1),
                                     max_uses=1, group=group, auto_approve=True)
            agent_id = enroll(conn, {"token": token, "proof": make_proof(key, token, now)},
                              now).agent_id
        d = report_doc(agent_id, **{"created_at": now, **doc})
        d["host"]["hostname"] = hostname
        out = ingest(self.engine, [sign(d, key)], limits=LIMITS, now=now)
        assert out[0].outcome == "accepted", out
        self.reports[agent_id] = out[0].report_id
        self.keys[agent_id] = key
        return agent_id


def make_webapp(root: Path, *, csrf: bool = False, clock: Clock = utcnow) -> WebApp:
    """Initialise a data dir with the real CLI, then build the app in-process."""
    c = Collector(root / "data", free_port())
    c.init()
    app = create_app(load_config(c.data_dir), clock=clock)
    app.config["WTF_CSRF_ENABLED"] = csrf
    w = WebApp(app, c.data_dir)
    with w.engine.begin() as conn:
        for role in ROLES:
            w.users[role] = user_store.add_user(conn, role, role, PASSWORD, w.now())
        accounts.set_groups(conn, w.users["viewer"], {"g1"})
    w.hosts["g1"] = w.enroll_host("g1", "alpha")
    w.hosts["g2"] = w.enroll_host("g2", "beta")
    return w


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


XSS_HOST = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
XSS_SAMPLE = '<img src=x onerror="window.__pwned=3;alert(3)"> failed <b>root</b>'


def hostile_results(started_at: str) -> list[dict[str, Any]]:
    """A logs result whose sources, templates and samples carry HTML/script payloads."""
    logs = {
        "sources": {"journal": [], "files": [], "windows": [], "skipped_files": []},
        "lines_read": 3, "truncated": False,
        "limits": {"max_lines": 200000, "max_samples": 3, "max_templates": 50},
        "first_run": False, "state_persisted": True,
        "errors": {"total": 3, "keyword_classified": 0, "by_priority": {"err": 3},
                   "by_source": [{"source": "<script>alert(4)</script>", "count": 3}],
                   "templates": [{"source": "sshd<svg onload=alert(5)>", "priority": "err",
                                  "template": "<script>window.__pwned=6</script> #",
                                  "count": 3, "samples": [XSS_SAMPLE]}],
                   "templates_total": 1, "templates_truncated": False},
        "auth": {"failed_attempts": 0, "successful_logins": 0, "by_kind": {}, "by_user": [],
                 "by_ip": [], "sources_over_threshold": 0, "success_after_failures": []},
        "logging": {"daemons_running": [], "journald": True, "alive": True, "file_ages": [],
                    "stale_files": []},
    }
    return [{"check": "logs", "status": "fail", "started_at": started_at, "duration_ms": 5,
             "error": None, "data": logs}]
