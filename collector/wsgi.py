"""The collector as a WSGI application, built in each of ``serve``'s worker processes.

``serve`` sets ``HOSTPATROL_SERVE_DATA_DIR`` (and ``HOSTPATROL_SERVE_CONFIG`` when
``--config`` was given) before it starts its workers; each worker calls :func:`create`.
(Not advertised for other servers: behind a proxy every client would share the proxy's
address, and the per-address enrollment and login limits with it.)
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from .config import load_config, resolve_data_dir
from .server import ENV_CONFIG, ENV_DATA_DIR


def create() -> Flask:
    """Build the app from the data dir (and config file) named in the environment."""
    from .app import create_app

    data_dir = resolve_data_dir(os.environ.get(ENV_DATA_DIR))
    config = os.environ.get(ENV_CONFIG)
    return create_app(load_config(data_dir, Path(config) if config else None))
