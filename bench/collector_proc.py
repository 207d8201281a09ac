"""A real collector for benchmarks: `init` + `serve` as users run them, and a pinned HTTPS client.

The client is deliberately thin (HTTP/1.1 written straight on one keep-alive TLS socket,
the server certificate pinned by SHA-256 like the agent does) so that load generators
cost far less CPU than the server they measure.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throw-away bench user


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PinnedConnection:
    """One keep-alive HTTPS connection whose server certificate must match a fingerprint.

    HTTP/1.1 is spoken directly on the TLS socket (one write per request, a minimal
    response reader): http.client cost as much CPU per request as the server it measured.
    """

    def __init__(self, port: int, fingerprint: str, host: str = "127.0.0.1",
                 timeout: float = 30.0) -> None:
        self.port, self.host, self.timeout = port, host, timeout
        self.fingerprint = fingerprint.removeprefix("sha256:").replace(":", "").lower()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE  # pinned below instead, as the agent does
        self.sock: ssl.SSLSocket | None = None
        self._buf = b""

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock = self.ctx.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        der = sock.getpeercert(binary_form=True) or b""
        if hashlib.sha256(der).hexdigest() != self.fingerprint:
            sock.close()
            msg = "collector certificate does not match the pinned fingerprint"
            raise ssl.SSLError(msg)
        self._buf = b""
        return sock

    def _recv(self, sock: ssl.SSLSocket) -> None:
        data = sock.recv(262144)
        if not data:
            raise http.client.RemoteDisconnected("the collector closed the connection")
        self._buf += data

    def _response(self, sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            self._recv(sock)
        head, self._buf = self._buf[:end].decode("latin-1"), self._buf[end + 4:]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while (eol := self._buf.find(b"\r\n")) < 0:
                    self._recv(sock)
                size = int(self._buf[:eol].split(b";")[0], 16)
                while len(self._buf) < eol + 2 + size + 2:
                    self._recv(sock)
                body += self._buf[eol + 2:eol + 2 + size]
                self._buf = self._buf[eol + 2 + size + 2:]
                if size == 0:
                    return status, headers, body
        length = int(headers.get("content-length", "0"))
        while len(self._buf) < length:
            self._recv(sock)
        body, self._buf = self._buf[:length], self._buf[length:]
        return status, headers, body

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request (reconnecting once if the server closed the connection)."""
        body = body or b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(message)
                status, hdrs, data = self._response(self.sock)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    ssl.SSLEOFError):
                self.close()
                if attempt:
                    raise
                continue
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return status, hdrs, data
        raise AssertionError("unreachable")

    def post_json(self, path: str, doc: Any, token: str | None = None) -> tuple[int, Any]:
        """POST a JSON document; return (status, parsed answer)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, _, data = self.request("POST", path, json.dumps(doc).encode(), headers)
        return status, json.loads(data)

    def close(self) -> None:
        """Close the connection (a new one is made on the next request)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds so far of the process tree under ``pid`` ("server": for a collector, its
    web workers, their master and the background worker — all it costs) and of every
    PostgreSQL process on the machine ("postgres": the backends serving it; the benchmark
    assumes nothing else uses the server meanwhile)."""
    import psutil

    def spent(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system

    root = psutil.Process(pid)
    out = {"server": sum(spent(p) for p in [root, *root.children(recursive=True)])}
    out["postgres"] = sum(spent(p) for p in psutil.process_iter(["name"])
                          if p.info["name"] == "postgres")
    return out


@dataclass
class BenchCollector:
    """A collector data dir and its `serve` process."""

    data_dir: Path
    port: int
    database_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    fingerprint: str = ""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir.parent / f"collector-{self.port}.log"

    @property
    def env(self) -> dict[str, str]:
        """Environment for collector commands."""
        env = dict(os.environ)
        env.pop("HOSTPATROL_DATABASE_URL", None)
        if self.database_url:
            env["HOSTPATROL_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run ``hostpatrol-collector --data-dir DIR ARGS``; return stdout."""
        proc = subprocess.run([str(BIN / "hostpatrol-collector"), "--data-dir",
                               str(self.data_dir), *args], capture_output=True, text=True,
                              env=self.env, check=False, timeout=600, input=stdin)
        if proc.returncode != 0:
            msg = f"collector {args} exited {proc.returncode}: {proc.stderr[-2000:]}"
            raise RuntimeError(msg)
        return proc.stdout

    def init(self) -> None:
        """``init`` the data dir; remember the fingerprint."""
        out = self.cli("init", "--bind", f"127.0.0.1:{self.port}")
        self.fingerprint = out.split("fingerprint: ")[1].split()[0]

    def write_config(self, text: str) -> None:
        """Append settings to ``collector.yaml``."""
        cfg = self.data_dir / "collector.yaml"
        cfg.write_text(cfg.read_text(encoding="utf-8") + text, encoding="utf-8")

    def start(self, *args: str) -> None:
        """``serve ARGS`` and wait until /healthz answers."""
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [str(BIN / "hostpatrol-collector"), "--data-dir", str(self.data_dir), "serve",
                 *args], stdout=logf, stderr=logf, env=self.env, start_new_session=True)
        conn = self.connection()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    msg = f"collector exited: {self.log.read_text()[-3000:]}"
                    raise RuntimeError(msg)
                try:
                    if conn.request("GET", "/healthz")[0] == 200:
                        return
                except OSError:
                    conn.close()
                    time.sleep(0.2)
        finally:
            conn.close()
        msg = f"collector did not come up: {self.log.read_text()[-3000:]}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then hard."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def connection(self) -> PinnedConnection:
        """A pinned keep-alive connection to this collector."""
        return PinnedConnection(self.port, self.fingerprint)

    def enroll_token(self, uses: int) -> str:
        """An auto-approving enrollment token for ``uses`` hosts."""
        line = self.cli("token", "create", "--uses", str(uses), "--expires", "24h",
                        "--auto-approve")
        return line.split("--token ")[1].split()[0]

    def api_token(self, user: str = "bench") -> str:
        """An admin user's API token."""
        pw = self.data_dir.parent / f"pw-{self.port}.txt"
        pw.write_text(PASSWORD, encoding="utf-8")
        try:
            self.cli("user", "add", user, "--role", "admin", "--password-file", str(pw))
        except RuntimeError:
            pass  # exists already
        return self.cli("user", "api-token", user).strip()
