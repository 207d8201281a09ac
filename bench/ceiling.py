"""The stack ceiling: what Flask + granian + TLS answer here when the endpoint does nothing.

Run as a program by :func:`measure` (``python bench/ceiling.py DATA_DIR PORT``): it serves
a Flask app whose ``POST /api/v1/reports`` reads the body and answers 201, under the very
server settings ``hostpatrol-collector serve`` uses (:func:`server.server_options`:
workers, WSGI threads, keep-alive, TLS with the collector's certificate). The same load
generator then sends the same pre-signed reports. No ingest code can beat this rate on this
machine, so it puts the ingest targets in proportion: at the single-report target the
collector has ``2 cores / target - stack cost`` CPU left per report for verify, parse,
rules and store.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collector_proc import BenchCollector, PinnedConnection  # noqa: E402
from fleet_sim import ReportFactory, SimHost  # noqa: E402
from loadgen import Run, deliver  # noqa: E402


def app():  # noqa: ANN201 - a Flask app; flask is imported only in the server process
    """The empty endpoint (the server's factory target ``ceiling:app``)."""
    from flask import Flask, request

    app = Flask("hostpatrol-ceiling")

    @app.post("/api/v1/reports")
    def reports():  # noqa: ANN202
        request.get_data()
        return {"ok": True, "result": "accepted"}, 201

    return app


def _serve(data_dir: Path, port: int) -> None:
    from granian.server import Server
    from hostpatrol.collector.config import load_config
    from hostpatrol.collector.server import server_options

    config = load_config(data_dir)
    options = server_options(config, bind=f"127.0.0.1:{port}",
                             workers=config.settings["workers"],
                             threads=config.settings["threads"])
    options["process_name"] = "hostpatrol-ceiling"
    Server("ceiling:app", **options).serve()


def measure(c: BenchCollector, port: int, factory: ReportFactory, hosts: list[SimHost],
            *, duration: float) -> Run:
    """Serve the empty endpoint on ``port`` with ``c``'s settings and certificate; load it
    exactly as the single-report ingest phase loads the collector."""
    log = c.data_dir.parent / f"ceiling-{port}.log"
    with open(log, "ab") as logf:
        proc = subprocess.Popen([sys.executable, __file__, str(c.data_dir), str(port)],
                                stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            probe = PinnedConnection(port, c.fingerprint, timeout=2)
            try:
                probe.request("POST", "/api/v1/reports", b"x")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    msg = f"the ceiling server did not start (see {log})"
                    raise RuntimeError(msg) from None
                time.sleep(0.2)
            finally:
                probe.close()
        return deliver(port, c.fingerprint, factory, hosts, processes=4, per_process=24000,
                       batch=1, duration=duration, senders=16, server_pid=proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), int(sys.argv[2]))
