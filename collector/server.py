"""``serve``: run the app with TLS under granian, as production does.

granian parses HTTP and terminates TLS in Rust, outside the GIL; the Flask app runs in
its WSGI threads (``threads`` per worker process, ``workers`` processes). On this
project's 2-core benchmark VM it answers an empty endpoint with 0.18 ms of CPU a request
against gunicorn's 0.44 (gthread, same TLS and keep-alive): that difference is most of
what a report over HTTPS costs besides ingest itself (``bench/RESULTS.md``).

The workers build the app with :func:`hostpatrol.collector.wsgi.create`.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

from .config import CollectorConfig

ENV_DATA_DIR = "HOSTPATROL_SERVE_DATA_DIR"
ENV_CONFIG = "HOSTPATROL_SERVE_CONFIG"


def split_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (IP address, port).

    A host name is resolved here (the server binds IP addresses only), so a ``bind`` of
    ``collector.example.org:8443`` listens on that name's address as it did before.
    """
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not host:
        msg = f"bind address {bind!r}: expected HOST:PORT"
        raise ValueError(msg)
    host = host.strip("[]")
    try:
        *_, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    except OSError as e:
        msg = f"bind address {bind!r}: cannot resolve {host!r}: {e}"
        raise ValueError(msg) from e
    return str(address[0]), int(port)


def server_options(config: CollectorConfig, *, bind: str, workers: int,
                   threads: int) -> dict[str, Any]:
    """The granian settings ``serve`` runs with (the benchmark's stack ceiling reuses them)."""
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.log import LogLevels

    host, port = split_bind(bind)
    return {
        "address": host,
        "port": port,
        "interface": Interfaces.WSGI,
        "workers": workers,
        "blocking_threads": threads,
        "http": HTTPModes.http1,  # agents and browsers speak HTTP/1.1; no h2 surface
        "websockets": False,
        "ssl_cert": Path(config.tls_cert),
        "ssl_key": Path(config.tls_key),
        "ssl_protocol_min": SSLProtocols.tls13,  # agents and browsers all speak it; no downgrade
        "log_level": LogLevels.info,
        "log_access": False,
        "process_name": "hostpatrol-collector",
        "respawn_failed_workers": True,  # a worker that dies is replaced, as gunicorn did
        "workers_kill_timeout": 20,
        "factory": True,
    }


def serve(config: CollectorConfig, *, bind: str, workers: int, threads: int,
          config_path: Path | None = None) -> None:
    """Serve HTTPS on ``bind`` until stopped (SIGTERM/SIGINT)."""
    from granian.server import Server

    metrics_dir = config.data_dir / "run" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # the workers build the app from these (inherited whether they are forked or spawned)
    os.environ[ENV_DATA_DIR] = str(config.data_dir)
    if config_path is not None:
        os.environ[ENV_CONFIG] = str(config_path)
    else:
        os.environ.pop(ENV_CONFIG, None)
    Server("hostpatrol.collector.wsgi:create", **server_options(
        config, bind=bind, workers=workers, threads=threads)).serve()
