"""A throw-away PostgreSQL database for one benchmark (created and dropped here)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

ADMIN_URL = os.environ.get("HOSTPATROL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _connect(url: str):  # noqa: ANN202 - a psycopg connection
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def available() -> str | None:
    """None when PostgreSQL answers at :data:`ADMIN_URL`, else why not."""
    try:
        with _connect(ADMIN_URL) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # noqa: BLE001 - any reason is reported, not raised
        return f"PostgreSQL not reachable at {ADMIN_URL.split('@')[-1]}: {e}"
    return None


@contextmanager
def database() -> Iterator[str]:
    """Yield the URL of a fresh database; drop it afterwards."""
    name = "hp_bench_" + secrets.token_hex(4)
    base = ADMIN_URL.rsplit("/", 1)[0]
    with _connect(ADMIN_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with _connect(ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def kept(name: str, *, fresh: bool) -> str:
    """The URL of database ``name``, kept after the benchmark (a seed re-used across runs);
    ``fresh``: dropped and made again first (its seed did not finish)."""
    base = ADMIN_URL.rsplit("/", 1)[0]
    with _connect(ADMIN_URL) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"
