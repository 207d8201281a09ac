"""Admission control for report delivery: a bounded number of ingest requests per worker.

Beyond ``ingest.max_concurrent`` requests being verified and stored at once in one
worker process, a delivery waits at most ``ingest.queue_wait_ms`` for a slot and is
then answered ``429`` with ``Retry-After`` at once — cheaply: the body is read and
dropped, nothing is verified — instead of queueing until the agent's timeout. Nothing is
lost: the agent keeps the reports in its spool and honours Retry-After. Counted in ``/metrics`` as
``hostpatrol_reports_busy_total``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, jsonify, request

from ..metrics import BUSY

log = logging.getLogger("hostpatrol.collector.admission")
F = TypeVar("F", bound=Callable[..., Any])


class IngestGate:
    """At most ``limit`` holders at once (0: no limit); the rest are turned away."""

    def __init__(self, limit: int, wait_seconds: float, retry_after: int) -> None:
        self.limit = limit
        self.wait = wait_seconds
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None

    def enter(self) -> bool:
        """Take a slot (waiting at most ``wait`` seconds); False when none came free."""
        if self._slots is None:
            return True
        return self._slots.acquire(timeout=self.wait) if self.wait > 0 else \
            self._slots.acquire(blocking=False)

    def leave(self) -> None:
        """Give the slot back."""
        if self._slots is not None:
            self._slots.release()


def gated(view: F) -> F:
    """Route decorator: run ``view`` inside the app's ingest gate, else 429 + Retry-After."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        gate: IngestGate = current_app.extensions["hostpatrol.ingest_gate"]
        if not gate.enter():
            BUSY.inc()
            # read (and drop) the body: answering before it is read makes the server close
            # the connection under a client still sending, which then sees a broken pipe
            # instead of the 429 and its Retry-After
            request.get_data(cache=False)
            log.warning("ingest busy: request refused retry_after=%s", gate.retry_after)
            resp = jsonify({"ok": False, "status": 429, "error": (
                "collector busy: too many deliveries at once; retry after "
                f"{gate.retry_after} s")})
            resp.status_code = 429
            resp.headers["Retry-After"] = str(gate.retry_after)
            return resp
        try:
            return view(*args, **kwargs)
        finally:
            gate.leave()
    return wrapped  # type: ignore[return-value]
