"""The collector as a WSGI application, for ``serve`` and for any other WSGI server.

``serve`` sets ``HOSTPATROL_SERVE_DATA_DIR`` (and ``HOSTPATROL_SERVE_CONFIG`` when
``--config`` was given) before it starts its workers; each worker calls :func:`create`.
Another server can do the same, e.g. ``HOSTPATROL_SERVE_DATA_DIR=/var/lib/hostpatrol
gunicorn 'hostpatrol.collector.wsgi:create()'`` behind a TLS proxy.
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
