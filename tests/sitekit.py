"""A collector app over a given store (SQLite or PostgreSQL) with one enrolled agent and a
signed-in admin: send reports in-process as the agent, then read pages and API back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from forge import LIMITS, enroll_in_store, report_doc, sign
from harness import Collector, free_port
from hostpatrol.collector.app import create_app
from hostpatrol.collector.config import load_config
from hostpatrol.collector.intake.ingest import Outcome, ingest
from hostpatrol.collector.store import accounts
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.web.i18n import COOKIE
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time
from hostpatrol.shared.strictjson import loads_strict

BASE = "https://localhost"
API_TOKEN = "hp-test-token-strict-boundary"  # noqa: S105 - a throw-away test user's token


@dataclass
class Site:
    """The app on ``engine``, its agent (id, key, next seq) and an admin session."""

    app: Any
    engine: sa.Engine
    agent_id: str
    key: Any
    sid: str
    seq: int = 0
    sent: list[str] = field(default_factory=list)

    def doc(self, *, created_at: datetime | None = None,
            results: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        """A report document from the agent with the next seq."""
        self.seq += 1
        return report_doc(self.agent_id, created_at=created_at or utcnow(), results=results,
                          **{"seq": self.seq, **extra})

    def send(self, *bodies: dict[str, Any] | str, now: datetime | None = None) -> list[Outcome]:
        """Ingest documents (signed here) or raw payload texts (signed as given)."""
        from hostpatrol.shared import jws
        from hostpatrol.shared.keys import key_id

        tokens = [sign(b, self.key) if isinstance(b, dict) else
                  jws.sign(b.encode("utf-8", "surrogatepass"), self.key,
                           kid=key_id(self.key.public_key())) for b in bodies]
        return ingest(self.engine, tokens, limits=LIMITS, now=now or utcnow())

    def page(self, path: str, lang: str = "en") -> Any:
        """GET a dashboard page as the admin, in ``lang``."""
        client = self.app.test_client()
        with client.session_transaction(base_url=BASE) as sess:
            sess["sid"] = self.sid
        client.set_cookie(COOKIE, lang, domain="localhost")
        return client.get(path, base_url=BASE)

    def api(self, path: str) -> tuple[int, Any]:
        """GET an API path with the admin's bearer token: (status, body parsed strictly)."""
        resp = self.app.test_client().get(path, base_url=BASE, headers={
            "Authorization": f"Bearer {API_TOKEN}"})
        return resp.status_code, loads_strict(resp.data)  # valid JSON, no Infinity


def make_site(engine: sa.Engine, root: Path) -> Site:
    """Initialise a data dir (for keys and config), build the app on ``engine``."""
    c = Collector(root / "data", free_port())
    c.init()
    app = create_app(load_config(c.data_dir), engine=engine)
    app.config["WTF_CSRF_ENABLED"] = False
    agent_id, key = enroll_in_store(engine)
    now = utcnow()
    with engine.begin() as conn:
        uid = user_store.add_user(conn, "admin", "admin", None, now)
        user_store.set_api_token(conn, uid, API_TOKEN)
        sid = accounts.open_session(conn, uid, now=now, lifetime=timedelta(hours=2),
                                    ip="127.0.0.1")
    return Site(app, engine, agent_id, key, sid)


def result(check: str, data: dict[str, Any], *, status: str = "ok",
           at: datetime | None = None, error: str | None = None) -> dict[str, Any]:
    """One result entry."""
    return {"check": check, "status": status, "started_at": format_time(at or utcnow()),
            "duration_ms": 2, "error": error, "data": data}


_REAL: dict[str, dict[str, Any]] = {}


def real_results() -> dict[str, dict[str, Any]]:
    """Every check's result on this host from the real agent (``check --json``), by name."""
    if not _REAL:
        with tempfile.TemporaryDirectory() as state:
            out = subprocess.run([str(Path(sys.executable).parent / "hostpatrol-agent"),
                                  "check", "--json"], capture_output=True, text=True,
                                 timeout=300, check=False,
                                 env={**os.environ, "HOSTPATROL_STATE_DIR": state})
        _REAL.update({r["check"]: r for r in json.loads(out.stdout)})
    return _REAL
