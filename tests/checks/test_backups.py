"""backups: evaluation logic, config validation, and for real on temporary directories."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import jsonschema
from hostpatrol.agent.checks.backups import BackupsCheck, FileStat, evaluate, glob_base
from hostpatrol.shared.schemas import load_schema

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
H = 3600.0


def validate(data):
    jsonschema.Draft202012Validator(load_schema("backups")).validate(data)


def test_evaluate_newest_age_size_copies():
    files = [FileStat("/b/db-1.gz", 500, NOW.timestamp() - 50 * H),
             FileStat("/b/db-2.gz", 90, NOW.timestamp() - 30 * H)]
    row = evaluate({"name": "db", "path": "/b/*.gz", "max_age_hours": 24,
                    "min_size_bytes": 100, "min_copies": 3}, files, [], NOW)
    assert row["newest_path"] == "/b/db-2.gz"
    assert row["newest_age_hours"] == 30.0
    assert row["newest_mtime"] == "2024-05-31T06:00:00.000Z"
    assert row["copies"] == 2
    assert row["violations"] == ["too old: newest is 30 h old (max 24 h)",
                                 "too small: newest is 90 bytes (min 100)",
                                 "too few copies: 2 (min 3)"]
    assert row["status"] == "fail"
    ok = evaluate({"path": "/b/*.gz", "max_age_hours": 31}, files, [], NOW)
    assert ok["status"] == "ok"
    assert ok["name"] == "/b/*.gz"


def test_glob_base():
    assert glob_base("/backup/db/*.tar.gz") == "/backup/db"
    assert glob_base("/backup/*/daily/x.gz") == "/backup"
    assert glob_base("/backup/**/*.gz") == "/backup"
    assert glob_base("/*.gz") == "/"


def test_bad_location_config_is_reported():
    out = BackupsCheck({"locations": [{"path": "/x/*", "max_age": 3}, {"name": "n"},
                                      {"path": "/x/*", "min_copies": -1}]}).collect()
    validate(out.data)
    assert out.status == "fail"
    v = [r["violations"][0] for r in out.data["locations"]]
    assert "unknown key(s) ['max_age']" in v[0]
    assert "path (a glob) is required" in v[1]
    assert "min_copies must be a non-negative number" in v[2]


def test_no_locations_is_ok_and_says_so():
    out = BackupsCheck({}).collect()
    validate(out.data)
    assert out.status == "ok"
    assert out.data == {"locations": [], "configured": False}


def test_real_directories_with_utime(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    now = datetime.now(UTC).timestamp()
    for name, age_h, size in (("a.dump", 80, 4000), ("b.dump", 26, 3000), ("c.dump", 2, 10)):
        f = db / name
        f.write_bytes(b"x" * size)
        os.utime(f, (now - age_h * H, now - age_h * H))
    (db / "sub.dump").mkdir()  # a directory matching the glob is not a copy
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = {"locations": [
        {"name": "db", "path": str(db / "*.dump"), "max_age_hours": 24, "min_size_bytes": 100,
         "min_copies": 3},
        {"name": "fresh-only", "path": str(db / "[ab].dump"), "max_age_hours": 24},
        {"name": "nothing yet", "path": str(empty / "*.tar")},
        {"name": "gone", "path": str(tmp_path / "missing" / "*.tar"), "max_age_hours": 24},
    ]}
    out = BackupsCheck(cfg).collect()
    validate(out.data)
    rows = {r["name"]: r for r in out.data["locations"]}
    assert rows["db"]["newest_path"] == str(db / "c.dump")
    assert abs(rows["db"]["newest_age_hours"] - 2) < 0.05
    assert rows["db"]["copies"] == 3
    assert rows["db"]["newest_size_bytes"] == 10
    assert rows["db"]["violations"] == ["too small: newest is 10 bytes (min 100)"]
    assert rows["fresh-only"]["newest_path"] == str(db / "b.dump")
    assert rows["fresh-only"]["violations"][0].startswith("too old: newest is 26")
    assert rows["nothing yet"]["exists"] is True
    assert rows["nothing yet"]["violations"] == ["no file matches the path"]
    assert rows["gone"]["exists"] is False
    assert rows["gone"]["violations"] == [f"missing: {tmp_path / 'missing'} does not exist"]
    assert out.status == "fail"
    ok = BackupsCheck({"locations": [{"path": str(db / "c.dump"), "max_age_hours": 3}]}).collect()
    assert ok.status == "ok"
