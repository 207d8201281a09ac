"""antivirus at the edges, with real ClamAV on this machine: databases built with sigtool,
scans by clamscan and by clamdscan through a real clamd, a failing freshclam — each judged
against what ClamAV's own tools say (sigtool --info, the scan logs, freshclam's log)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.antivirus import clamav as clam
from hostpatrol.agent.checks.antivirus.check import AntivirusCheck
from hostpatrol.shared.schemas import load_schema
from machine import stop_process

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("antivirus"))
pytestmark = pytest.mark.skipif(shutil.which("clamscan") is None or shutil.which("sigtool")
                                is None, reason="scripts/test-deps.sh installs ClamAV")


def run(*argv: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, **kw)


def build_daily(folder: Path, age_days: int = 0) -> Path:
    """A real daily.cud built by sigtool from an EICAR signature; ``age_days`` back in
    time when asked (sigtool run under faketime, so header and body agree)."""
    work = folder / "build"
    work.mkdir()
    (work / "eicar.com").write_bytes(EICAR)
    (work / "daily.hdb").write_text(run("sigtool", "--md5", "eicar.com", cwd=work,
                                        check=True).stdout)
    (work / "COPYING").write_text("hostpatrol test database\n")
    (work / "empty").mkdir()
    back = ["faketime", "-f", f"-{age_days}d"] if age_days else []
    run(*back, "sigtool", "--build=daily.cud", "--unsigned", "--cvd-version=27001",
        f"--datadir={work / 'empty'}", cwd=work, input="hostpatrol-test\n", check=True)
    db = folder / "db"
    db.mkdir()
    shutil.copy(work / "daily.cud", db / "daily.cud")
    return db


def sigtool_build_time(path: Path) -> datetime:
    info = run("sigtool", f"--info={path}", check=True).stdout
    line = next(x for x in info.splitlines() if x.startswith("Build time:"))
    return datetime.strptime(line.split(":", 1)[1].strip(), "%d %b %Y %H:%M %z")


def clamav(config: dict) -> tuple[str, dict]:
    out = AntivirusCheck(config).collect()
    VALIDATOR.validate(out.data)
    return out.status, next(p for p in out.data["products"] if p["name"] == "ClamAV")


def base_config(tmp: Path, db: Path, logs: list[Path]) -> dict:
    return {"clamav_db_dir": str(db), "clamav_scan_logs": [str(x) for x in logs],
            "freshclam_log": str(tmp / "no-freshclam.log"),
            "clamd_config": str(tmp / "no-clamd.conf")}


def test_old_official_daily_is_not_hidden_by_a_fresh_local_database(tmp_path):
    db = build_daily(tmp_path, age_days=30)
    (db / "local.hdb").write_text((tmp_path / "build" / "daily.hdb").read_text())
    built = sigtool_build_time(db / "daily.cud")
    scan = tmp_path / "scan"
    scan.mkdir()
    (scan / "eicar.com").write_bytes(EICAR)
    hit = run("clamscan", "--no-summary", "-d", str(db / "daily.cud"), str(scan))
    assert hit.returncode == 1, hit.stderr  # a real, loadable database despite its age
    assert "The virus database is older than 7 days!" in hit.stderr  # ClamAV's own verdict
    _, p = clamav(base_config(tmp_path, db, []))
    assert datetime.fromisoformat(p["signature_time"]).replace(second=0) == built  # --info: minutes
    assert 29.9 < p["signature_age_days"] < 30.1
    daily = next(d for d in p["databases"] if d["name"] == "daily.cud")
    assert (daily["kind"], daily["version"], daily["time_source"]) == ("cud", 27001, "header")
    local = next(d for d in p["databases"] if d["name"] == "local.hdb")
    assert local["age_days"] < 0.1  # listed, dated by its file, but not the signature age
    assert any("local databases not counted" in n and "local.hdb" in n for n in p["notes"])
    assert any(i.startswith("signatures 30.0 days old") for i in p["issues"])


def _clamscan(db: Path, log: Path, target: Path) -> None:
    run("clamscan", "-d", str(db), f"--log={log}", str(target))


def test_clamscan_detection_clears_after_removal_and_a_clean_rescan(tmp_path):
    db = build_daily(tmp_path)
    log = tmp_path / "clamscan.log"
    scan = tmp_path / "scan"
    scan.mkdir()
    (scan / "eicar.com").write_bytes(EICAR)
    _clamscan(db, log, scan)
    status, p = clamav(base_config(tmp_path, db, [log]))
    assert p["detections"][-1]["path"] == str(scan / "eicar.com")
    assert "1 detection(s) not cleaned" in p["issues"]
    assert status == "fail"
    # a scan of another directory proves nothing about the file: still not cleaned
    (tmp_path / "other").mkdir()
    _clamscan(db, log, tmp_path / "other")
    assert "1 detection(s) not cleaned" in clamav(base_config(tmp_path, db, [log]))[1]["issues"]
    (scan / "eicar.com").unlink()
    _clamscan(db, log, scan)
    text = log.read_text()
    assert text.count("FOUND") == 1
    assert "Infected files: 0" in text.split("SCAN SUMMARY")[-1]  # clamscan: clean now
    _, p = clamav(base_config(tmp_path, db, [log]))
    (d,) = p["detections"]
    assert (d["cleaned"], d["resolved"]) == (False, True)
    assert d["resolution"] == "the file is gone and a later scan found nothing there"
    assert not any("not cleaned" in i for i in p["issues"])
    assert p["last_scan_result"] == "clean"


def test_two_scans_in_the_same_second_the_later_one_counts(tmp_path):
    db = build_daily(tmp_path)
    infected, clean = tmp_path / "infected", tmp_path / "clean"
    infected.mkdir()
    clean.mkdir()
    (infected / "eicar.com").write_bytes(EICAR)
    (clean / "readme.txt").write_text("nothing\n")
    for _ in range(10):  # until both scans end within one second, as clamscan logs it
        log = tmp_path / f"scan-{time.monotonic_ns()}.log"
        _clamscan(db, log, infected)
        _clamscan(db, log, clean)
        ends = [line.split(":", 1)[1].strip() for line in log.read_text().splitlines()
                if line.startswith("End Date:")]
        if len(set(ends)) == 1:
            break
    else:
        pytest.fail("ten pairs of scans never ended in the same second")
    _, p = clamav(base_config(tmp_path, db, [log]))
    summaries = log.read_text().split("SCAN SUMMARY")
    assert "Infected files: 0" in summaries[-1]
    assert p["last_scan_result"] == "clean"
    assert p["last_scan_source"] == {"log": str(log), "tool": "clamscan"}


@pytest.fixture
def clamd(tmp_path) -> Iterator[dict]:
    """A real clamd on a Unix socket in tmp_path, with a sigtool-built database."""
    if shutil.which("clamd") is None or shutil.which("clamdscan") is None:
        pytest.skip("scripts/test-deps.sh installs clamav-daemon and clamdscan")
    db = build_daily(tmp_path)
    sock = tmp_path / "clamd.sock"
    conf = tmp_path / "clamd.conf"
    conf.write_text(f"LocalSocket {sock}\nDatabaseDirectory {db}\nLogFile {tmp_path}/clamd.log\n"
                    "LogTime yes\nForeground yes\nUser root\n"
                    f"PidFile {tmp_path}/clamd.pid\n")
    proc = subprocess.Popen(["clamd", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None, "clamd exited"
            assert time.monotonic() < deadline, "clamd did not open its socket"
            time.sleep(0.1)
        yield {"conf": conf, "db": db, "log": tmp_path / "clamd.log"}
    finally:
        stop_process(proc)


def _clamdscan(conf: Path, log: Path, target: Path) -> int:
    return run("clamdscan", f"--config-file={conf}", "--fdpass", f"--log={log}",
               str(target)).returncode


def test_clamdscan_scans_count_and_a_clean_rescan_clears(tmp_path, clamd):
    log = tmp_path / "clamdscan.log"
    scan = tmp_path / "scan"
    scan.mkdir()
    (scan / "eicar.com").write_bytes(EICAR)
    assert _clamdscan(clamd["conf"], log, scan) == 1
    config = {**base_config(tmp_path, clamd["db"], [log]), "clamd_log": str(clamd["log"])}
    status, p = clamav(config)
    end = next(line for line in log.read_text().splitlines() if line.startswith("End Date:"))
    scanned_at = datetime.strptime(end.split(":", 1)[1].strip(), "%Y:%m:%d %H:%M:%S")
    assert datetime.fromisoformat(p["last_scan_time"]) == scanned_at.astimezone(UTC)
    assert p["last_scan_source"]["tool"] == "clamdscan"
    assert p["last_scan_result"] == "1 infected"
    # clamdscan's log and clamd's own log tell of the same detection: listed once
    assert [d["path"] for d in p["detections"]] == [str(scan / "eicar.com")]
    assert "1 detection(s) not cleaned" in p["issues"]
    assert status == "fail"
    (scan / "eicar.com").unlink()
    assert _clamdscan(clamd["conf"], log, scan) == 0
    assert f"{scan}: OK" in log.read_text()
    _, p = clamav(config)
    assert all(d["resolved"] for d in p["detections"])
    assert p["detections"][0]["resolution"] == \
        f"a later scan (clamdscan) found {scan / 'eicar.com'} clean"
    assert not any("not cleaned" in i for i in p["issues"])


def test_clamd_log_alone_says_clean_scans_leave_no_trace(tmp_path, clamd):
    scan = tmp_path / "quiet"
    scan.mkdir()
    assert run("clamdscan", f"--config-file={clamd['conf']}", "--fdpass", str(scan)).returncode == 0
    config = {**base_config(tmp_path, clamd["db"], []), "clamd_log": str(clamd["log"])}
    _, p = clamav(config)
    assert p["last_scan_time"] is None
    assert any("clamd keeps no record of clean scans" in n for n in p["notes"])


def test_failing_freshclam_counts(tmp_path):
    conf = tmp_path / "freshclam.conf"
    log = tmp_path / "freshclam.log"
    (tmp_path / "fcdb").mkdir()
    conf.write_text(f"DatabaseDirectory {tmp_path / 'fcdb'}\nUpdateLogFile {log}\nLogTime yes\n"
                    "DNSDatabaseInfo no\nDatabaseMirror http://127.0.0.1:9\nMaxAttempts 1\n"
                    "Foreground yes\n")
    for _ in range(2):
        res = run("freshclam", f"--config-file={conf}", "--user=root")
        assert res.returncode != 0
    text = log.read_text()
    starts = [line.split(" -> ")[0] for line in text.splitlines()
              if "ClamAV update process started" in line]
    assert len(starts) == 2
    assert "ERROR:" in text
    db = build_daily(tmp_path)
    status, p = clamav({**base_config(tmp_path, db, []), "freshclam_log": str(log)})
    update = p["last_update"]
    first = datetime.strptime(" ".join(starts[0].split()), "%a %b %d %H:%M:%S %Y").astimezone(UTC)
    assert (update["result"], update["failed_runs"]) == ("failed", 2)
    assert datetime.fromisoformat(update["failing_since"]) == first
    assert any(i.startswith("signature updates failing (2 run(s)") for i in p["issues"])
    assert status != "ok"
    out = AntivirusCheck({**base_config(tmp_path, db, []), "freshclam_log": str(log)}).collect()
    assert out.data["summary"]["update_failing_days"] is not None
    assert 0 <= out.data["summary"]["update_failing_days"] < 0.1


def test_settle_is_pure_and_bounded():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    d = {"time": t, "path": "/srv/x", "threat": "T", "action": "reported", "cleaned": False,
         "order": (t, 0, 0)}
    later = {"time": t, "found": [], "ok_paths": ["/srv"], "tool": "clamdscan",
             "order": (t, 0, 3)}
    earlier = {**later, "order": (t, 0, -1)}
    assert clam.settle([d], [earlier], lambda p: True)[0]["resolved"] is False
    assert clam.settle([d], [later], lambda p: True)[0]["resolved"] is True
    again = {**later, "found": ["/srv/x"]}
    assert clam.settle([d], [again], lambda p: False)[0]["resolved"] is False
    relative = {**d, "path": "scan/x"}
    gone = {**later, "ok_paths": []}
    assert clam.settle([relative], [gone], lambda p: False)[0]["resolved"] is False
