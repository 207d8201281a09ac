"""Real message receivers on loopback: an SMTP server (STARTTLS + AUTH) and a webhook sink."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SMTP_USER, SMTP_PASSWORD = "hostpatrol", "smtp secret 123"


@dataclass
class Sink:
    """A webhook receiver; answers ``fail_first`` requests with 500, then 200."""

    fail_first: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        """Serve on a free loopback port; return the URL."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.lock:
                    failing = sink.fail_first > 0
                    sink.fail_first -= failing
                    if not failing:
                        sink.bodies.append({"path": self.path, **json.loads(body)})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": 0}')

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        """Shut down and close the socket."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SmtpServer:
    """aiosmtpd on loopback requiring STARTTLS and AUTH LOGIN/PLAIN."""

    def __init__(self, cert: Path, key: Path) -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[str] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.messages.append(envelope.content.decode("utf-8", "replace"))
                return "250 OK"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         data: Any) -> Any:
            ok = (isinstance(data, LoginPassword) and data.login == SMTP_USER.encode()
                  and data.password == SMTP_PASSWORD.encode())
            return AuthResult(success=ok)

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))
        from harness import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     tls_context=ctx,
                                     require_starttls=True, authenticator=authenticate,
                                     auth_require_tls=True)

    def start(self) -> int:
        """Start; return the port."""
        self.controller.start()
        return self.port

    def stop(self) -> None:
        """Stop the server thread."""
        self.controller.stop()
