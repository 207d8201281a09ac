"""``serve``: run the app under gunicorn with TLS, as production does."""

from __future__ import annotations

import os
import shutil
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import CollectorConfig


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: CollectorConfig, options: dict[str, Any]) -> None:
        self.hp_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .app import create_app

        return create_app(self.hp_config)


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def gunicorn_options(config: CollectorConfig, *, bind: str, workers: int,
                     threads: int = 8) -> dict[str, Any]:
    """The gunicorn settings ``serve`` runs with (the benchmark's stack ceiling reuses them)."""
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "certfile": str(config.tls_cert),
        "keyfile": str(config.tls_key),
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 30,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "hostpatrol-collector",
        "child_exit": _child_exit,
        "limit_request_line": 8190,
        "worker_tmp_dir": str(config.data_dir / "run"),
        **_control_socket_off(),
    }


def serve(config: CollectorConfig, *, bind: str, workers: int, threads: int = 8) -> None:
    """Serve HTTPS on ``bind`` until stopped (SIGTERM/SIGINT)."""
    metrics_dir = config.data_dir / "run" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    _Gunicorn(config, gunicorn_options(config, bind=bind, workers=workers,
                                       threads=threads)).run()


def _control_socket_off() -> dict[str, Any]:
    """Newer gunicorn opens a control socket in $HOME; a collector needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    names = {s.name for s in KNOWN_SETTINGS}
    return {"control_socket_disable": True} if "control_socket_disable" in names else {}
