"""Chinese antivirus products: Security Center names and states, processes, Linux editions.

The Security Center text is the recorded raingray.com output (tests/fixtures/antivirus/
SOURCES.md); process names, install paths and the Huorong signature directory are the
public ones listed there. Directory listings and file times below are made up for the
test (the code reads only names and times, no format).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
from hostpatrol.agent.checks.antivirus import products_cn as cn
from hostpatrol.agent.checks.antivirus.check import AntivirusCheck
from hostpatrol.agent.checks.antivirus.host import Host, base_product
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "antivirus"
VALIDATOR = jsonschema.Draft202012Validator(load_schema("antivirus"))
NOW = datetime(2023, 10, 17, tzinfo=UTC)
VIRDB = r"C:\ProgramData\Huorong\Sysdiag\virdb"


def host(*, system: str = "Windows", outputs: dict[str, str] | None = None,
         procs: Sequence[str] = (), paths: Sequence[str] = (),
         files: dict[str, datetime] | None = None) -> Host:
    outputs, files = outputs or {}, files or {}

    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        for key, out in outputs.items():
            if key in " ".join(argv):
                return CommandResult(tuple(argv), 0, out, "")
        raise CommandNotFound(f"{argv[0]}: command not found")

    def listdir(d: str) -> list[str]:
        names = [f.rsplit("\\", 1)[1] for f in files if f.rsplit("\\", 1)[0] == d]
        if not names:
            raise FileNotFoundError(d)
        return names

    return Host(run=run, which=lambda n: None, exists=lambda p: p in paths, listdir=listdir,
                mtime=lambda p: files[p].timestamp(), processes=lambda: set(procs),
                system=system, now=lambda: NOW,
                environ={"ProgramData": r"C:\ProgramData"}.get)


def sc_text() -> str:
    return (FIX / "securitycenter2_raingray.txt").read_text(encoding="utf-8")


def test_display_names_match_by_vendor_words() -> None:
    assert cn.match_name("火绒安全软件").key == "huorong"
    assert cn.match_name("360杀毒").key == "qihoo360"
    assert cn.match_name("360 Total Security").key == "qihoo360"
    assert cn.match_name("腾讯电脑管家").key == "tencent"
    assert cn.match_name("金山毒霸").key == "kingsoft"
    assert cn.match_name("瑞星杀毒软件").key == "rising"
    assert cn.match_name("奇安信天擎").key == "qianxin"
    assert cn.match_name("Windows Defender") is None
    assert cn.match_name("Norton 360") is None  # "360" alone is not Qihoo's


def test_security_center_huorong_dated_by_its_virus_database() -> None:
    files = {f"{VIRDB}\\a.db": NOW - timedelta(days=12), f"{VIRDB}\\b.db": NOW - timedelta(days=10)}
    out = AntivirusCheck(host=host(outputs={"SecurityCenter2": sc_text()}, files=files)).collect()
    VALIDATOR.validate(out.data)
    hr = next(p for p in out.data["products"] if p["name"] == "火绒安全软件")
    assert hr["vendor"] == "Huorong (火绒)"
    assert hr["source"] == "security_center"
    assert hr["signature_age_days"] == 10.0
    assert "signatures 10.0 days old (max 7)" in hr["issues"]
    assert any("newest of 2 file(s)" in n for n in hr["notes"])
    assert out.data["summary"]["newest_signature_age_days"] == 10.0
    assert out.data["summary"]["signature_age_known"] is True


def test_security_center_huorong_without_database_keeps_its_own_flag() -> None:
    out = AntivirusCheck(host=host(outputs={"SecurityCenter2": sc_text()})).collect()
    hr = next(p for p in out.data["products"] if p["name"] == "火绒安全软件")
    assert hr["signature_age_days"] is None
    assert hr["signatures_current"] is True  # productState 266240: up to date
    assert any(n.startswith("signature date unknown: no readable files") for n in hr["notes"])
    assert out.data["summary"]["signature_age_known"] is True


def test_windows_server_without_security_center_finds_products_by_process() -> None:
    files = {f"{VIRDB}\\x": NOW - timedelta(days=1)}
    out = AntivirusCheck(host=host(procs=("hipsdaemon.exe", "360tray.exe", "svchost.exe"),
                                   files=files)).collect()
    VALIDATOR.validate(out.data)
    by = {p["name"]: p for p in out.data["products"]}
    assert set(by) == {"火绒安全软件", "360 安全软件 (360杀毒 / 360安全卫士)"}
    assert by["火绒安全软件"]["running"] is True
    assert by["火绒安全软件"]["signature_age_days"] == 1.0
    q = by["360 安全软件 (360杀毒 / 360安全卫士)"]
    assert q["source"] == "process"
    assert "signature age unknown" in q["issues"]
    assert out.data["summary"]["signature_age_known"] is True  # Huorong is dated


def test_only_an_undatable_product_is_not_treated_as_fresh() -> None:
    out = AntivirusCheck(host=host(procs=("qqpcrtp.exe",))).collect()
    VALIDATOR.validate(out.data)
    (p,) = out.data["products"]
    assert (p["name"], p["vendor"]) == ("腾讯电脑管家", "Tencent (腾讯)")
    assert p["running"] is True
    assert "signature age unknown" in p["issues"]
    assert out.status == "warn"
    assert out.data["summary"]["signature_age_known"] is False
    assert out.data["summary"]["newest_signature_age_days"] is None


def test_security_center_row_is_not_found_twice_by_process() -> None:
    out = AntivirusCheck(host=host(outputs={"SecurityCenter2": sc_text()},
                                   procs=("hipsdaemon.exe",))).collect()
    names = [p["name"] for p in out.data["products"]]
    assert names.count("火绒安全软件") == 1


def test_expired_state_is_stale_and_says_why() -> None:
    p = base_product("金山毒霸", "unknown", "security_center")
    cn.enrich_security_center(p, host(), "expired")
    assert p["signatures_current"] is False
    assert p["vendor"] == "Kingsoft (金山)"
    assert "Security Center state: expired (licence or subscription ended)" in p["notes"]


def test_linux_editions_by_process_and_install_path() -> None:
    out = AntivirusCheck(host=host(system="Linux", procs=("qaxsafed",),
                                   paths=("/opt/qaxsafe", "/opt/360safeforlinux"))).collect()
    VALIDATOR.validate(out.data)
    by = {p["vendor"]: p for p in out.data["products"]}
    assert by["Qi An Xin (奇安信)"]["running"] is True
    assert by["Qi An Xin (奇安信)"]["notes"][0] == "processes: qaxsafed; paths: /opt/qaxsafe"
    assert by["Qihoo 360 (奇虎360)"]["running"] is False
    assert "not running" in by["Qihoo 360 (奇虎360)"]["issues"]
    assert out.data["summary"]["signature_age_known"] is False


def test_windows_process_names_do_not_count_on_linux() -> None:
    out = AntivirusCheck(host=host(system="Linux", procs=("hipsdaemon.exe",))).collect()
    assert out.data["products"] == []


def test_unreadable_virus_database_times_are_unknown_not_a_crash() -> None:
    def bad_mtime(path: str) -> float:
        raise PermissionError(path)

    h = host(files={f"{VIRDB}\\a": NOW})
    h = Host(run=h.run, which=h.which, exists=h.exists, listdir=h.listdir, mtime=bad_mtime,
             processes=lambda: {"hipsdaemon.exe"}, system="Windows", now=h.now,
             environ=h.environ)
    assert cn.newest_file_time(h, VIRDB) == (None, 0)
    (p,) = AntivirusCheck(host=h).collect().data["products"]
    assert p["signature_age_days"] is None
