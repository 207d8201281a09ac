"""``init`` given ``HOSTPATROL_DATABASE_URL`` keeps it in the config it writes, so ``serve``
and every command later reach the same store without the variable; a URL holding a
password is named, never written (a config is not a secret)."""

from __future__ import annotations

import os

import pytest
import yaml
from harness import BIN, free_port, run
from hostpatrol.collector.cli.context import CliError
from hostpatrol.collector.cli.main import database_line
from hypothesis import given
from hypothesis import strategies as st

NAMES = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="_-."),
                min_size=1, max_size=20)


@given(user=NAMES, host=NAMES, db=NAMES, port=st.integers(1, 65535))
def test_a_url_without_password_is_written_as_it_reads(user, host, db, port):
    url = f"postgresql+psycopg://{user}@{host}:{port}/{db}"
    line, said = database_line(url)
    assert yaml.safe_load(line) == {"database_url": url}
    assert "written to the config" in said


@given(password=st.text(min_size=1, max_size=30).filter(lambda p: p.strip()))
def test_a_password_is_never_written(password):
    from urllib.parse import quote

    line, said = database_line(f"postgresql://hp:{quote(password, safe='')}@db.example/hp")
    assert yaml.safe_load(line) is None  # a comment
    assert (line, said) == database_line("postgresql://other:x@elsewhere/db")  # no part of it
    assert "holds a password" in said


def test_no_variable_writes_nothing_and_garbage_is_refused():
    assert database_line(None) == (None, None)
    assert database_line("") == (None, None)
    with pytest.raises(CliError, match="not a database URL"):
        database_line("not a url")


def test_serve_finds_the_store_init_was_given(tmp_path):
    data = tmp_path / "collector"
    store = tmp_path / "elsewhere" / "store.db"
    store.parent.mkdir()
    cli = [str(BIN / "hostpatrol-collector"), "--data-dir", str(data)]
    env = {k: v for k, v in os.environ.items() if k != "HOSTPATROL_DATABASE_URL"}
    out = run([*cli, "init", "--bind", f"127.0.0.1:{free_port()}"],
              env={**env, "HOSTPATROL_DATABASE_URL": f"sqlite:///{store}"}).stdout
    assert "database_url written to the config" in out
    assert store.exists()
    run([*cli, "token", "create", "--uses", "1"], env=env)  # no variable this time
    assert not (data / "hostpatrol.db").exists()
    import sqlite3

    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM enroll_tokens").fetchone()[0] == 1


def test_a_database_out_of_reach_is_one_clear_line_not_a_traceback(tmp_path):
    cli = [str(BIN / "hostpatrol-collector"), "--data-dir", str(tmp_path / "c")]
    env = {**os.environ,
           "HOSTPATROL_DATABASE_URL": f"postgresql://hp:s3cret@127.0.0.1:{free_port()}/hp"}
    for argv in (["init", "--bind", f"127.0.0.1:{free_port()}"], ["token", "create"]):
        proc = run([*cli, *argv], env=env, check=False)
        assert proc.returncode == 1
        assert proc.stderr.startswith("hostpatrol-collector: error: the database could not "
                                      "be reached: connection failed")
        assert "Traceback" not in proc.stderr
        assert "s3cret" not in proc.stderr
