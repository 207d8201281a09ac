"""Network faults on loopback for agent tests: proxies that withhold answers or cut large
uploads, a busy server."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hostpatrol.collector.intake.identity import fingerprint, make_self_signed


class _LoopbackProxy:
    """A TCP proxy on a free loopback port to ``upstream_port``; TLS passes end to end (the
    pinned fingerprint still matches). Subclasses say what happens to a connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.srv.settimeout(0.2)
        while not self.stop.is_set():
            try:
                client, _ = self.srv.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:  # the upstream is down: so is this path
                client.close()
                continue
            self._serve(client, upstream)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        raise NotImplementedError


class HoldingProxy(_LoopbackProxy):
    """TCP proxy to ``upstream``: requests pass, answers are swallowed (never delivered).

    The server's bytes pass while the TLS handshake runs, and are withheld once the client
    has sent more than a handshake's worth (``hold_after`` bytes), i.e. its request.
    """

    def __init__(self, upstream_port: int, hold_after: int = 1500) -> None:
        self.hold_after = hold_after
        self.socks: list[socket.socket] = []
        self.swallowed = 0
        super().__init__(upstream_port)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        self.socks += [client, upstream]
        sent = [0]
        threading.Thread(target=self._pipe, args=(client, upstream, True, sent),
                         daemon=True).start()
        threading.Thread(target=self._pipe, args=(upstream, client, False, sent),
                         daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upward: bool,
              sent: list[int]) -> None:
        src.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if upward:
                sent[0] += len(data)
                dst.sendall(data)
            elif sent[0] < self.hold_after:
                dst.sendall(data)
            else:
                self.swallowed += len(data)

    def close(self) -> None:
        """Stop and close every socket."""
        self.stop.set()
        self.srv.close()
        for s in self.socks:
            s.close()


class BusyServer:
    """An HTTPS server (self-signed, pinnable) answering every request 429 + Retry-After."""

    def __init__(self, tmp: Path, retry_after: str = "120") -> None:
        cert, key = tmp / "busy-cert.pem", tmp / "busy-key.pem"
        make_self_signed(cert, key, ["127.0.0.1"])
        self.fingerprint = fingerprint(cert)
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _busy(self) -> None:
                outer.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps({"ok": False, "error": "collector overloaded",
                                   "status": 429}).encode()
                self.send_response(429)
                self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _busy  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Base URL."""
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class CuttingProxy(_LoopbackProxy):
    """TCP proxy to ``upstream`` that resets a connection once its client has sent more
    than ``cut_above`` bytes: a body-size limit in front of the collector that refuses a
    large upload without a word, as a reverse proxy or a server that will not read it
    does. Smaller requests pass."""

    def __init__(self, upstream_port: int, cut_above: int) -> None:
        self.cut_above = cut_above
        self.cuts = 0
        super().__init__(upstream_port)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = (client, upstream)
        threading.Thread(target=self._up, args=pair, daemon=True).start()
        threading.Thread(target=self._down, args=pair, daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        sent = 0
        try:
            while not self.stop.is_set():
                data = client.recv(65536)
                if not data:
                    break
                sent += len(data)
                if sent > self.cut_above:
                    self.cuts += 1
                    for s in (client, upstream):  # RST, not FIN: linger 0
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                    break
                upstream.sendall(data)
        except OSError:
            pass
        for s in (client, upstream):
            s.close()

    def _down(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while not self.stop.is_set():
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        """Stop accepting."""
        self.stop.set()
        self.srv.close()
