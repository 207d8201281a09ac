"""antivirus check: parsers on recorded outputs, policy, and real ClamAV runs on this host."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import psutil
import pytest
from hostpatrol.agent.checks.antivirus import clamav as clam
from hostpatrol.agent.checks.antivirus import windows as win
from hostpatrol.agent.checks.antivirus.check import AntivirusCheck, known_products, summarize
from hostpatrol.agent.checks.antivirus.host import Host, base_product
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "antivirus"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("antivirus"))


def text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# --- parsers on recorded outputs -------------------------------------------------------

def test_cvd_header_fields_and_build_time():
    # Constructed file: the real header line of daily.cvd v25784 (SOURCES.md), no body.
    hdr = clam.parse_cvd_header((FIX / "daily_header_only.cvd").read_bytes())
    assert hdr is not None
    assert (hdr.version, hdr.signatures, hdr.functionality_level) == (25784, 2267600, 63)
    assert hdr.builder == "raynman"
    assert hdr.md5 == "92baacd59fd26e6bcf03077add78d209"
    # stime field and the human time field ("16 Apr 2020 07-58 -0400") agree.
    assert hdr.build_time == datetime(2020, 4, 16, 11, 58, 59, tzinfo=UTC)
    assert hdr.build_time_text == "16 Apr 2020 07-58 -0400"


def test_cvd_header_rejects_other_files():
    assert clam.parse_cvd_header(b"44d88612fea8a8f36de82e1278abb02f:68:eicar.com\n") is None
    assert clam.parse_cvd_header(b"ClamAV-VDB:x:notanumber:1:2") is None


def test_clamscan_log_scans_and_detections():
    parsed = clam.parse_clamscan_log(text("clamscan_debian12.log"))
    assert [s["infected"] for s in parsed["scans"]] == [1, 1]
    first, second = parsed["detections"]
    assert first["threat"] == second["threat"] == "eicar.com.UNOFFICIAL"
    assert (first["cleaned"], first["action"]) == (False, "reported")
    assert (second["cleaned"], second["action"]) == (True, "removed")
    assert first["time"] is not None
    assert first["time"] == parsed["scans"][0]["time"]


def test_clamd_log_detection_has_time():
    found = clam.parse_clamd_log(text("clamd_debian12.log"))
    assert len(found) == 1
    assert found[0]["path"] == "/tmp/avt/scan/eicar2.com"
    expected = datetime(2026, 11, 28, 13, 53, 16).astimezone(UTC)
    assert found[0]["time"] == expected


def test_freshclam_log_last_run_failed():
    last = clam.parse_freshclam_log(text("freshclam_failed_debian12.log"))
    assert last is not None
    assert last["result"] == "failed"
    assert last["message"] == "Update failed."
    assert last["time"] == datetime(2026, 11, 28, 13, 53, 11).astimezone(UTC)


def test_clamd_conf_onaccess():
    conf = clam.parse_clamd_conf("LocalSocket /run/c.ctl\n# x\nOnAccessIncludePath /home\n")
    assert clam.onaccess_configured(conf)
    assert clam.conf_value(conf, "LocalSocket") == "/run/c.ctl"
    assert not clam.onaccess_configured(clam.parse_clamd_conf("LocalSocket /x\n"))


def test_mp_computer_status_realmjoin():
    d = win.parse_mp_status(text("mpcomputerstatus_realmjoin.json"))
    assert d["running"] is True
    assert d["realtime_protection"] is True
    assert d["signature_version"] == "1.249.1077.0"
    assert d["engine_version"] == "1.1.14003.0"
    assert d["signature_time"] == datetime(2017, 8, 15, 14, 37, 46, tzinfo=UTC)
    assert d["last_scan_time"] is None


def test_powershell_date_forms():
    assert win.parse_ps_time("/Date(1666077509000)/") == datetime(2022, 10, 18, 7, 18, 29,
                                                                   tzinfo=UTC)
    assert win.parse_ps_time("2017-08-15T14:37:46+02:00") == datetime(2017, 8, 15, 12, 37, 46,
                                                                       tzinfo=UTC)
    assert win.parse_ps_time(None) is None


def test_security_center_product_state():
    items = win.parse_security_center(text("securitycenter2_raingray.txt"))
    assert [i["name"] for i in items] == ["Windows Defender", "火绒安全软件"]
    defender, huorong = items
    assert (defender["product_state"], defender["scanner"]) == (393472, "off")
    assert (huorong["scanner"], huorong["signatures_up_to_date"]) == ("on", True)
    assert huorong["timestamp"] == datetime(2023, 10, 16, 10, 53, 44, tzinfo=UTC)
    assert win.decode_product_state(0x61110)["signatures_up_to_date"] is False


def test_mdatp_health_text():
    h = win.parse_mdatp_health(text("mdatp_health_msdocs.txt"))
    assert h["healthy"] is True
    assert h["realtime_protection"] is True
    assert (h["version"], h["engine_version"]) == ("101.70.19", "1.1.19300.3")
    assert h["signature_version"] == "1.369.896.0"
    assert h["definitions_status"] == "up_to_date"
    assert h["signature_time"] == datetime(2022, 7, 6, 13, 57, 3).astimezone(UTC)


# --- gathering and policy with injected OS ---------------------------------------------

def fake_host(outputs: dict[str, str], *, system: str = "Linux", procs: set[str] = frozenset(),
              paths: set[str] = frozenset(), now: datetime | None = None) -> Host:
    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        for key, out in outputs.items():
            if key in " ".join(argv):
                return CommandResult(tuple(argv), 0, out, "")
        raise CommandNotFound(f"{argv[0]}: command not found")

    when = now or datetime(2023, 10, 17, tzinfo=UTC)
    return Host(run=run, which=lambda n: None, exists=lambda p: p in paths,
                processes=lambda: set(procs), system=system, now=lambda: when)


def test_windows_products_from_recorded_outputs():
    host = fake_host({"Get-MpComputerStatus": text("mpcomputerstatus_realmjoin.json"),
                      "SecurityCenter2": text("securitycenter2_raingray.txt")},
                     system="Windows")
    out = AntivirusCheck(host=host).collect()
    VALIDATOR.validate(out.data)
    names = [p["name"] for p in out.data["products"]]
    assert names == ["Microsoft Defender Antivirus", "火绒安全软件"]
    defender, huorong = out.data["products"]
    assert defender["signature_age_days"] > 7
    assert any("signatures" in i for i in defender["issues"])
    assert huorong["running"] is True
    assert huorong["signatures_current"] is True
    assert huorong["issues"] == ["no scan recorded"]
    assert out.status == "warn"


def test_windows_without_sources_reports_why():
    out = AntivirusCheck(host=fake_host({}, system="Windows")).collect()
    VALIDATOR.validate(out.data)
    assert out.status == "fail"
    assert "command not found" in out.data["unavailable_sources"]["windows"]
    assert out.data["summary"]["issues"] == ["no antivirus product found"]


def test_mdatp_product_from_recorded_health():
    now = datetime(2022, 7, 7, tzinfo=UTC)
    host = fake_host({"mdatp health": text("mdatp_health_msdocs.txt")}, procs={"wdavdaemon"},
                     paths={"/opt/microsoft/mdatp"}, now=now)
    out = AntivirusCheck(host=host).collect()
    VALIDATOR.validate(out.data)
    (p,) = out.data["products"]
    assert p["source"] == "mdatp"
    assert p["running"] is True
    assert p["signature_version"] == "1.369.896.0"
    assert 0 < p["signature_age_days"] < 2
    assert p["issues"] == ["no scan recorded"]


def test_known_products_by_process_and_path():
    host = fake_host({"falconctl": "version = 6.45.14203.0\n"}, procs={"falcon-sensor"},
                     paths={"/opt/CrowdStrike", "/opt/CrowdStrike/falconctl", "/opt/eset"})
    found = {p["name"]: p for p in known_products(host)}
    assert set(found) == {"CrowdStrike Falcon", "ESET Endpoint Antivirus"}
    assert found["CrowdStrike Falcon"]["running"] is True
    assert found["CrowdStrike Falcon"]["version"] == "6.45.14203.0"
    assert found["ESET Endpoint Antivirus"]["running"] is False


def product(**kw):
    p = base_product("X", "Y", "process")
    p.update(kw)
    return p


def test_policy_levels():
    now = datetime(2025, 1, 10, tzinfo=UTC)
    fresh = {"running": True, "realtime_protection": True,
             "signature_time": now - timedelta(days=1),
             "last_scan_time": now - timedelta(hours=5)}
    assert summarize([product(**fresh)], now, 7, 2)[0] == "ok"
    assert summarize([], now, 7, 2)[0] == "fail"
    assert summarize([product(**{**fresh, "running": False})], now, 7, 2)[0] == "fail"
    assert summarize([product(**{**fresh, "realtime_protection": False})], now, 7, 2)[0] == "warn"
    old = {**fresh, "signature_time": now - timedelta(days=8)}
    assert summarize([product(**old)], now, 7, 2)[0] == "warn"
    stale_scan = {**fresh, "last_scan_time": now - timedelta(days=3)}
    assert summarize([product(**stale_scan)], now, 7, 2)[0] == "warn"
    hit = {"time": now, "path": "/x", "threat": "T", "action": "reported", "cleaned": False}
    status, data = summarize([product(**fresh, detections=[hit])], now, 7, 2)
    assert status == "fail"
    assert data["summary"]["uncleaned_detections"] == 1
    cleaned = {**hit, "action": "removed", "cleaned": True}
    assert summarize([product(**fresh, detections=[cleaned])], now, 7, 2)[0] == "ok"
    # The host is protected if any product is healthy (e.g. Defender off beside another AV).
    assert summarize([product(**{**fresh, "running": False}), product(**fresh)],
                     now, 7, 2)[0] == "ok"


# --- real ClamAV on this host ----------------------------------------------------------

needs_clamav = pytest.mark.skipif(shutil.which("clamscan") is None,
                                  reason="apt-get install clamav clamav-daemon clamav-freshclam")


@needs_clamav
def test_real_default_install_without_databases():
    out = AntivirusCheck().collect()
    VALIDATOR.validate(out.data)
    clamav = next(p for p in out.data["products"] if p["name"] == "ClamAV")
    version = subprocess.run(["clamscan", "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[1].split("/")[0]
    assert clamav["engine_version"] == version
    assert clamav["components"]["clamscan"]["path"] == shutil.which("clamscan")
    clamd_up = any(p.info["name"] == "clamd" for p in psutil.process_iter(["name"]))
    assert clamav["running"] is clamd_up
    on_disk = [n for n in Path("/var/lib/clamav").iterdir()
               if clam.database_kind(n.name) is not None]
    assert len(clamav["databases"]) == len(on_disk)
    if not on_disk:
        assert clamav["signature_time"] is None
        assert any("no signature databases in /var/lib/clamav" in n for n in clamav["notes"])
        assert "signature age unknown (no signature databases found)" in clamav["issues"]
    if not clamd_up:
        assert out.status == "fail"
        assert "not running" in clamav["issues"]


@pytest.fixture(scope="module")
def eicar_run(tmp_path_factory):
    """A local EICAR database, a real clamscan of an EICAR file and a failed freshclam run."""
    if shutil.which("clamscan") is None:
        pytest.skip("clamav not installed")
    base = tmp_path_factory.mktemp("clamav")
    db, scan = base / "db", base / "scan"
    db.mkdir()
    scan.mkdir()
    (scan / "eicar.com").write_bytes(EICAR)
    (scan / "clean.txt").write_text("nothing here\n")
    sig = subprocess.run(["sigtool", "--md5", "eicar.com"], cwd=scan, capture_output=True,
                         text=True, check=True).stdout
    (db / "local.hdb").write_text(sig)
    log = base / "clamscan.log"
    res = subprocess.run(["clamscan", "-d", str(db), "--log", str(log), str(scan)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1, res.stderr  # 1 = virus found
    conf = base / "freshclam.conf"
    fc_log = base / "freshclam.log"
    conf.write_text(f"DatabaseDirectory {base / 'fcdb'}\nUpdateLogFile {fc_log}\nLogTime yes\n"
                    "DNSDatabaseInfo no\nDatabaseMirror http://127.0.0.1:9\nMaxAttempts 1\n"
                    "Foreground yes\n")
    (base / "fcdb").mkdir()
    subprocess.run(["freshclam", f"--config-file={conf}", "--user=root"], capture_output=True,
                   timeout=120, check=False)
    config = {"clamav_db_dir": str(db), "clamav_scan_logs": [str(log)],
              "freshclam_log": str(fc_log), "clamd_config": str(base / "absent.conf")}
    return base, config


@needs_clamav
def test_real_eicar_detection_database_and_age(eicar_run):
    base, config = eicar_run
    out = AntivirusCheck(config).collect()
    VALIDATOR.validate(out.data)
    p = next(p for p in out.data["products"] if p["name"] == "ClamAV")
    (db,) = p["databases"]
    listed = subprocess.run(["sigtool", f"--list-sigs={base / 'db' / 'local.hdb'}"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed == ["eicar.com"]
    assert (db["name"], db["kind"], db["signatures"]) == ("local.hdb", "text", len(listed))
    assert db["time_source"] == "mtime"
    assert 0 <= db["age_days"] < 0.1
    # a local database does not date the signatures: only an official header does
    assert p["signature_age_days"] is None
    assert "signature age unknown (only local databases)" in p["issues"]
    (hit,) = p["detections"]
    assert hit["path"].endswith("scan/eicar.com")
    assert hit["threat"] == "eicar.com.UNOFFICIAL"
    assert hit["cleaned"] is False
    assert p["last_scan_result"] == "1 infected"
    assert out.data["summary"]["uncleaned_detections"] == 1
    assert "1 detection(s) not cleaned" in p["issues"]
    assert p["last_update"]["result"] == "failed"
    assert out.status == "fail"


@needs_clamav
def test_real_removed_detection_counts_as_cleaned(eicar_run):
    base, config = eicar_run
    scan = base / "scan2"
    scan.mkdir()
    (scan / "eicar.com").write_bytes(EICAR)
    log = base / "clamscan-remove.log"
    subprocess.run(["clamscan", "-d", str(base / "db"), "--remove=yes", "--log", str(log),
                    str(scan)], capture_output=True, timeout=120, check=False)
    assert not (scan / "eicar.com").exists()
    out = AntivirusCheck({**config, "clamav_scan_logs": [str(log)]}).collect()
    VALIDATOR.validate(out.data)
    p = next(p for p in out.data["products"] if p["name"] == "ClamAV")
    (hit,) = p["detections"]
    assert (hit["cleaned"], hit["action"]) == (True, "removed")
    assert out.data["summary"]["uncleaned_detections"] == 0


@needs_clamav
def test_real_cvd_header_in_database_dir(eicar_run):
    base, config = eicar_run
    db = base / "db_cvd"
    db.mkdir()
    # Constructed header-only file (see SOURCES.md), not a real ClamAV database.
    shutil.copy(FIX / "daily_header_only.cvd", db / "daily.cvd")
    shutil.copy(base / "db" / "local.hdb", db / "local.hdb")
    out = AntivirusCheck({**config, "clamav_db_dir": str(db)}).collect()
    VALIDATOR.validate(out.data)
    p = next(p for p in out.data["products"] if p["name"] == "ClamAV")
    daily = next(d for d in p["databases"] if d["name"] == "daily.cvd")
    assert (daily["kind"], daily["version"], daily["signatures"]) == ("cvd", 25784, 2267600)
    assert daily["build_time"] == "2020-04-16T11:58:59.000Z"
    assert daily["time_source"] == "header"
    assert p["signature_version"] == "25784"
    assert daily["age_days"] > 365
