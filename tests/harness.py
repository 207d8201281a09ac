"""Real processes for tests: a collector served by `serve` (granian, TLS) on a free port, agents."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from hostpatrol.agent.client import Client

BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv: list[str], *, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raise with its output when it fails."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        msg = f"{argv} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        raise AssertionError(msg)
    return proc


@dataclass
class Collector:
    """A collector data dir and, once started, its serving process."""

    data_dir: Path
    port: int
    database_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    fingerprint: str = ""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir.parent / f"collector-{self.port}.log"

    @property
    def url(self) -> str:
        """Base URL."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for collector commands."""
        env = dict(os.environ)
        env.pop("HOSTPATROL_DATABASE_URL", None)
        if self.database_url:
            env["HOSTPATROL_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``hostpatrol-collector --data-dir DIR ARGS``."""
        return run([str(BIN / "hostpatrol-collector"), "--data-dir", str(self.data_dir), *args],
                   env=self.env, check=check)

    def init(self) -> None:
        """``init`` the data dir; remember the printed fingerprint."""
        out = self.cli("init", "--bind", f"127.0.0.1:{self.port}").stdout
        self.fingerprint = out.split("fingerprint: ")[1].split()[0]

    def start(self, workers: int = 2) -> None:
        """Serve (the real server with TLS) and wait until /healthz answers."""
        logf = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(BIN / "hostpatrol-collector"), "--data-dir", str(self.data_dir), "serve",
             "--workers", str(workers)], stdout=logf, stderr=logf, env=self.env,
            start_new_session=True)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited: {self.log.read_text()[-3000:]}")
            try:
                if self.client().session.get(f"{self.url}/healthz", timeout=2,
                                             verify=False).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError(f"collector did not come up: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then hard."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def client(self) -> Client:
        """An HTTPS client pinned to this collector's certificate."""
        return Client(self.url, self.fingerprint, timeout=20)

    def post(self, path: str, data: bytes | str, content_type: str) -> requests.Response:
        """POST raw bytes."""
        return self.client().session.post(f"{self.url}{path}", data=data, timeout=20,
                                          headers={"Content-Type": content_type},
                                          verify=False)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """GET, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client().session.get(f"{self.url}{path}", headers=headers, timeout=20,
                                         verify=False, **kwargs)

    def token(self, *extra: str) -> str:
        """A new enrollment token (the join line's --token)."""
        line = self.cli("token", "create", *extra).stdout.strip()
        return line.split("--token ")[1].split()[0]

    def join_line(self, *extra: str) -> list[str]:
        """The printed join line as argv."""
        return self.cli("token", "create", *extra).stdout.strip().split()

    def api_token(self, user: str = "admin") -> str:
        """Create the user if needed and return a fresh API token."""
        pw = self.data_dir.parent / "pw.txt"
        pw.write_text(PASSWORD)
        self.cli("user", "add", user, "--role", "admin", "--password-file", str(pw),
                 check=False)
        return self.cli("user", "api-token", user).stdout.strip()

    def count(self, table: str, where: str = "1=1", params: tuple[Any, ...] = ()) -> int:
        """Rows in a table of the SQLite store (read directly from the file)."""
        db = sqlite3.connect(f"file:{self.data_dir / 'hostpatrol.db'}?mode=ro", uri=True)
        try:
            return db.execute(f"SELECT count(*) FROM {table} WHERE {where}",  # noqa: S608
                              params).fetchone()[0]
        finally:
            db.close()

    def stored_jws(self, agent_id: str) -> list[str]:
        """The agent's stored reports, oldest first, each the JWS exactly as received
        (read through the store: the evidence is packed, not SQL-readable text)."""
        import sqlalchemy as sa
        from hostpatrol.collector.store.db import make_engine
        from hostpatrol.collector.store.dictionaries import (
            EVIDENCE_COLUMNS,
            Codecs,
            evidence_text,
        )
        from hostpatrol.collector.store.schema import reports

        engine = make_engine(f"sqlite:///{self.data_dir / 'hostpatrol.db'}")
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.select(*EVIDENCE_COLUMNS).where(
                    reports.c.agent_id == agent_id).order_by(reports.c.id)).all()
                codecs = Codecs(conn)
                return [evidence_text(codecs, row) for row in rows]
        finally:
            engine.dispose()


def agent(state_dir: Path, *args: str, check: bool = True, config: Path | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``hostpatrol-agent`` with its own state dir."""
    env = dict(os.environ, HOSTPATROL_STATE_DIR=str(state_dir))
    argv = [str(BIN / "hostpatrol-agent")]
    if config is not None:
        argv += ["--config", str(config)]
    return run([*argv, *args], env=env, check=check, timeout=timeout)


@contextmanager
def running_daemon(state_dir: Path, config: Path, log: Path) -> Iterator[subprocess.Popen]:
    """A real ``hostpatrol-agent daemon`` writing to ``log``; on leaving, killed if it still
    runs, then its log must show a clean stop and no traceback."""
    env = dict(os.environ, HOSTPATROL_STATE_DIR=str(state_dir))
    env.pop("HOSTPATROL_LOG_LEVEL", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "hostpatrol-agent"), "--config", str(config),
                                 "daemon"], env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text()
    assert "daemon stopped" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


def wait_until(predicate: Any, seconds: float = 30) -> None:
    """Poll ``predicate`` every 0.2 s until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")
