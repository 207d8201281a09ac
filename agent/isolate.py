"""isolate: run one piece of work in a forked child, so this process never grows with it.

The long-running ``daemon`` keeps only its schedule loop; each cycle (checks, HTTPS
client, signing) runs in a child that imports what it needs, does the work and exits,
and its memory leaves with it. A check that crashes the interpreter takes only the child
down. The child's answer (JSON-able) comes back through a pipe. Where there is no
``os.fork`` the work runs in this process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hostpatrol.agent.isolate")


class ChildFailed(Exception):
    """The child ended without an answer (an uncaught error, a crash, a kill)."""


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(OSError, ValueError):
            handler.flush()


def _child(fn: Callable[[], Any], write_fd: int) -> None:
    """In the child: run ``fn``, write its answer, and leave without cleanup handlers."""
    code = 1
    try:
        payload = json.dumps({"value": fn()}).encode()
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
        code = 0
    except BaseException:  # noqa: BLE001 - reported here; the parent only sees the status
        log.exception("isolated work failed in child pid=%d", os.getpid())
    finally:
        _flush()
        os._exit(code)


def describe_status(code: int) -> str:
    """``waitstatus_to_exitcode`` result in words: exit status N or killed by SIGNAME."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def run_isolated(fn: Callable[[], Any]) -> Any:
    """``fn()`` run in a forked child; its JSON-able result, or ChildFailed."""
    if not hasattr(os, "fork"):
        return fn()
    _flush()  # nothing buffered here may be written twice
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(fn, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not data:
        msg = f"child pid={pid} ended without an answer ({describe_status(code)})"
        raise ChildFailed(msg)
    return json.loads(data)["value"]
