"""Engines for SQLite (WAL, busy timeout) and PostgreSQL, and running migrations."""

from __future__ import annotations

from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

SQLITE_BUSY_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    import psycopg

    # psycopg rewrites "%(name)s" placeholders into PostgreSQL's "$n" for every statement,
    # and caches the result only up to 50 parameters: the multi-row INSERTs of a batch
    # (hundreds) were rewritten on every execution, about a tenth of ingest's CPU.
    # SQLAlchemy renders "$n" itself, and a RawCursor hands it to the server as it is.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                            paramstyle="numeric_dollar",
                            connect_args={"cursor_factory": psycopg.RawCursor})


def _alembic_config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location",
        str(resources.files("hostpatrol.collector.store").joinpath("migrations")),
    )
    cfg.attributes["connection"] = conn
    return cfg


class MigrationError(RuntimeError):
    """A migration left rows whose foreign keys point nowhere (SQLite)."""


def _migrate(engine: sa.Engine, step: Any, revision: str) -> None:
    """Run ``step`` (alembic's upgrade or downgrade) to ``revision`` in one transaction.

    On SQLite, a migration that alters a table rebuilds it (copy, drop, rename): with
    foreign keys on, dropping a table other rows point to fails. They are off while it
    runs (the pragma only takes effect outside a transaction), every key is checked
    before the commit, and they are on again for the next user of the connection.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()  # end the autobegun transaction: the pragma holds outside one
        try:
            with conn.begin():
                step(_alembic_config(conn), revision)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite \
                    else []
                if broken:
                    msg = f"migration to {revision} broke {len(broken)} foreign key(s): " \
                          f"{broken[:5]}"
                    raise MigrationError(msg)
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def upgrade(engine: sa.Engine, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (default: every branch head)."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (for a rollback of the collector's version)."""
    _migrate(engine, command.downgrade, revision)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision(s) the database is at, sorted and comma-joined (None: never migrated)."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None


def head_revision(engine: sa.Engine) -> str | None:
    """The newest revision(s) the code knows, in the same form."""
    with engine.connect() as conn:
        heads = ScriptDirectory.from_config(_alembic_config(conn)).get_heads()
    return ",".join(sorted(heads)) or None
