"""What every ``hostpatrol-collector`` command shares: its error, config, database and actor."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from ..config import load_config, resolve_data_dir
from ..errors import CollectorError


class CliError(CollectorError):
    """A command cannot do what was asked; printed without a traceback."""


def config_for(args: argparse.Namespace) -> Any:
    """The collector configuration named by ``--data-dir`` and ``--config``."""
    data_dir = resolve_data_dir(args.data_dir)
    return load_config(data_dir, Path(args.config) if args.config else None)


def engine_for(args: argparse.Namespace) -> Any:
    """The configured database, refused unless its schema is up to date."""
    from ..store.db import current_revision, head_revision, make_engine

    engine = make_engine(config_for(args).database_url)
    if current_revision(engine) != head_revision(engine):
        msg = "the database schema is not up to date: run `hostpatrol-collector db upgrade`"
        raise CliError(msg)
    return engine


def cli_actor() -> str:
    """Who ran the command, for the audit log (``cli:<os user>``)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
