"""Fixtures: a live collector per module, PostgreSQL when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from harness import Collector, free_port

PG_URL = os.environ.get("HOSTPATROL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector initialised and serving on a free loopback port (SQLite store)."""
    root = tmp_path_factory.mktemp("collector")
    c = Collector(root / "data", free_port())
    c.init()
    c.start()
    yield c
    c.stop()


def _pg_available() -> bool:
    from hostpatrol.collector.store.db import make_engine

    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return True


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL; in CI its absence is a failure, not a skip."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_URL} (CI must provide it)")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    from hostpatrol.collector.store.db import make_engine

    name = f"hp_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_server).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_database: str):
    """A migrated store on a fresh PostgreSQL database."""
    from hostpatrol.collector.store.db import make_engine, upgrade

    eng = make_engine(pg_database)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path):
    """A migrated store on each backend: a SQLite file, a fresh PostgreSQL database."""
    from hostpatrol.collector.store.db import make_engine, upgrade

    url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_database"))
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
