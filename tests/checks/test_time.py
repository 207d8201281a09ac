"""time check: parsers on recorded outputs, the check with injected tools, and for real."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import jsonschema
import pytest
from hostpatrol.agent.checks.timesync.check import TimeCheck, evaluate, kernel_adjtimex, kernel_view
from hostpatrol.agent.checks.timesync.parsers import (
    SyncReading,
    parse_chronyc_tracking,
    parse_duration,
    parse_ntpq_rv,
    parse_ntpstat,
    parse_systemsetup_networktime,
    parse_timedatectl_show,
    parse_timesync_status,
    parse_w32tm_status,
)
from hostpatrol.agent.commands import CommandNotFound, CommandResult, run_command
from hostpatrol.shared.schemas import load_schema

FIX = Path(__file__).parent.parent / "fixtures" / "time"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator(load_schema("time")).validate(data)


def test_chrony_local_reference_is_synchronised() -> None:
    r = parse_chronyc_tracking(fixture("chronyc_tracking_local.csv"))
    assert r is not None
    assert r.synchronised is True
    assert r.stratum == 10
    assert r.offset_seconds == 0.0
    assert r.reference == "7F7F0101"


def test_chrony_without_reachable_source_is_not_synchronised() -> None:
    r = parse_chronyc_tracking(fixture("chronyc_tracking_unsynced.csv"))
    assert r is not None
    assert r.synchronised is False
    assert r.stratum == 0
    assert r.detail == "leap status: Not synchronised"


def test_chrony_error_text_is_not_a_reading() -> None:
    assert parse_chronyc_tracking("506 Cannot talk to daemon\n") is None


def test_timedatectl_show_unsynchronised() -> None:
    r = parse_timedatectl_show(fixture("timedatectl_show_unsynced.txt"))
    assert r is not None
    assert r.synchronised is False
    assert r.detail == "NTP service enabled: yes"


def test_timesync_status_gives_offset_and_server() -> None:
    r = parse_timesync_status(fixture("timedatectl_timesync_status.txt"))
    assert r is not None
    assert r.source == "systemd-timesyncd"
    assert r.synchronised is True
    assert r.offset_seconds == pytest.approx(-1.087495)
    assert r.stratum == 2
    assert r.reference == "(null) (3.debian.pool.ntp.org)"


def test_duration_units() -> None:
    assert parse_duration("34min 8s") == pytest.approx(2048)
    assert parse_duration("40.580ms") == pytest.approx(0.04058)
    assert parse_duration("1us (-24)") == pytest.approx(1e-6)
    assert parse_duration("n/a") is None


def test_ntpq_rv_offset_is_milliseconds() -> None:
    r = parse_ntpq_rv(fixture("ntpq_rv_raspberrypi.txt"))
    assert r is not None
    assert r.synchronised is True
    assert r.offset_seconds == pytest.approx(0.009208)
    assert r.stratum == 3
    assert r.reference == "3.44.174.43"


def test_ntpstat_synchronised() -> None:
    r = parse_ntpstat(fixture("ntpstat_synced.txt"))
    assert r is not None
    assert (r.synchronised, r.stratum, r.reference) == (True, 3, "unspecified (10.2.0.1)")
    assert r.detail == "within 201 ms"
    unsynced = parse_ntpstat("unsynchronised\n  time server re-starting\n")
    assert unsynced is not None
    assert unsynced.synchronised is False


def test_w32tm_synced_and_free_running() -> None:
    ok = parse_w32tm_status(fixture("w32tm_status_synced.txt"))
    assert ok is not None
    assert (ok.synchronised, ok.stratum, ok.reference) == (True, 3, "ntp.laas.fr")
    cmos = parse_w32tm_status(fixture("w32tm_status_local_cmos.txt"))
    assert cmos is not None
    assert cmos.synchronised is False
    assert cmos.reference == "Local CMOS Clock"


def test_macos_network_time() -> None:
    r = parse_systemsetup_networktime(fixture("systemsetup_usingnetworktime_on.txt"))
    assert r is not None
    assert r.synchronised is True
    assert parse_systemsetup_networktime("You need administrator access to run this tool") is None


def test_evaluate_verdicts() -> None:
    assert evaluate([], 1.0) == ("warn", "no time sync service found")
    down = SyncReading("chrony", False)
    assert evaluate([down], 1.0)[0] == "fail"
    far = SyncReading("systemd-timesyncd", True, offset_seconds=-1.5)
    assert evaluate([far], 1.0)[0] == "warn"
    assert evaluate([far], 2.0) == ("ok", "synchronised via systemd-timesyncd")


def test_kernel_view_uses_sixteen_second_max_error() -> None:
    assert kernel_view(5, 16_000_000, 16_000_000, 0x40)["synchronised"] is False
    view = kernel_view(0, 12_000, 300, 0x2001)
    assert view["synchronised"] is True
    assert view["unsync_flag"] is False


class FakeRun:
    """A runner answering from a table of argv -> (rc, stdout); others are not installed."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if tuple(argv) not in self.answers:
            msg = f"{argv[0]}: command not found"
            raise CommandNotFound(msg)
        rc, out = self.answers[tuple(argv)]
        return CommandResult(tuple(argv), rc, out if rc == 0 else "", "" if rc == 0 else out)


def test_no_service_is_data_not_a_crash() -> None:
    run = FakeRun({("chronyc", "-c", "tracking"): (1, "506 Cannot talk to daemon")})
    check = TimeCheck(run=run, system=lambda: "Linux",
                      adjtimex=lambda: kernel_view(5, 16_000_000, 16_000_000, 0x40))
    out = check.collect()
    assert out.status == "warn"
    assert out.data["summary"] == "no time sync service found"
    reasons = {u["command"]: u["reason"] for u in out.data["unavailable"]}
    assert reasons["chronyc -c tracking"] == "exit 1: 506 Cannot talk to daemon"
    assert reasons["ntpstat"] == "ntpstat: command not found"
    validate(out.data)


def test_windows_uses_w32tm_only() -> None:
    run = FakeRun({("w32tm", "/query", "/status"): (0, fixture("w32tm_status_local_cmos.txt"))})
    out = TimeCheck(run=run, system=lambda: "Windows").collect()
    assert run.calls == [("w32tm", "/query", "/status")]
    assert out.status == "fail"
    assert out.data["kernel"] is None
    validate(out.data)


def test_chrony_offset_beyond_limit_warns() -> None:
    line = fixture("chronyc_tracking_local.csv").replace(",0.000000000,", ",-2.500000000,", 1)
    run = FakeRun({("chronyc", "-c", "tracking"): (0, line)})
    out = TimeCheck({"max_offset_seconds": 1}, run=run, system=lambda: "Linux",
                    adjtimex=lambda: kernel_view(0, 1000, 10, 0)).collect()
    assert out.status == "warn"
    assert out.data["sources"][0]["offset_seconds"] == -2.5
    validate(out.data)


@pytest.fixture
def chronyd() -> Iterator[Path]:
    """A real chronyd serving its local clock only (no NTP port, no clock control)."""
    d = Path(tempfile.mkdtemp(prefix="hp-chrony-"))
    d.chmod(0o700)
    sock = d / "chronyd.sock"
    conf = d / "chrony.conf"
    conf.write_text(f"local stratum 10\nport 0\ncmdport 0\nbindcmdaddress {sock}\n"
                    f"pidfile {d}/chronyd.pid\ndriftfile {d}/drift\n", encoding="utf-8")
    subprocess.run(["chronyd", "-x", "-u", "root", "-f", str(conf)], check=True, timeout=30)
    pid = int((d / "chronyd.pid").read_text(encoding="utf-8"))
    try:
        yield sock
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (d / "chronyd.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # chronyd removes its pid file as it exits
        shutil.rmtree(d, ignore_errors=True)


def test_real_chronyd_matches_chronyc(chronyd: Path) -> None:
    def run(argv: Sequence[str], timeout: float) -> CommandResult:
        if argv[0] == "chronyc":  # talk to our private daemon, not the system one
            argv = ["chronyc", "-h", str(chronyd), *argv[1:]]
        return run_command(argv, timeout)

    expected = subprocess.run(["chronyc", "-h", str(chronyd), "-c", "tracking"],
                              capture_output=True, text=True, check=True, timeout=30).stdout
    out = TimeCheck(run=run).collect()
    chrony = [s for s in out.data["sources"] if s["source"] == "chrony"]
    assert chrony, out.data
    fields = expected.strip().split(",")
    assert chrony[0]["stratum"] == int(fields[2]) == 10
    assert chrony[0]["synchronised"] is (fields[13] == "Normal")
    assert out.status == "ok"
    assert out.data["synchronised"] is True
    validate(out.data)


def test_real_host_agrees_with_chronyc_and_timedatectl() -> None:
    out = TimeCheck().collect()
    validate(out.data)
    chronyc = subprocess.run(["chronyc", "-c", "tracking"], capture_output=True, text=True,
                             check=False, timeout=30)
    names = {s["source"] for s in out.data["sources"]}
    if chronyc.returncode == 0:
        assert "chrony" in names
    else:
        assert "chrony" not in names
        assert any(u["command"] == "chronyc -c tracking" for u in out.data["unavailable"])
    td = subprocess.run(["timedatectl", "show"], capture_output=True, text=True, check=False,
                        timeout=30)
    if td.returncode == 0 and "NTPSynchronized=" in td.stdout:
        mine = [s for s in out.data["sources"] if s["source"] == "timedatectl"]
        assert mine[0]["synchronised"] == ("NTPSynchronized=yes" in td.stdout)
    else:
        assert "timedatectl" not in names
    if not out.data["sources"]:
        assert out.status == "warn"
        assert out.data["summary"] == "no time sync service found"


def test_real_adjtimex_reads_the_kernel() -> None:
    view = kernel_adjtimex()
    if view["available"]:
        assert view["max_error_us"] >= 0
        assert view["synchronised"] == (view["max_error_us"] < 16_000_000)
    else:
        assert "adjtimex failed" in view["error"]
