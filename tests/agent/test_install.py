"""install: generated unit files pass systemd-analyze verify; configs/ holds the same."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import BIN, agent
from hostpatrol.agent.install import committed_files, encode

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVES = ("NoNewPrivileges=yes", "ProtectSystem=strict", "Nice=10",
              "IOSchedulingClass=idle", "CPUQuota=50%", "MemoryMax=256M")


def _verify(*units: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)")
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    mentions = [line for line in proc.stderr.splitlines() if str(units[0].parent) in line]
    assert mentions == [], proc.stderr  # warnings (unknown keys, bad values) fail too


def test_install_systemd_timer_writes_verified_hardened_units(tmp_path) -> None:
    dest = tmp_path / "units"
    out = agent(tmp_path / "state", "install", "--systemd", "--dest", str(dest))
    assert "systemctl enable --now hostpatrol-agent.timer" in out.stdout
    service, timer = dest / "hostpatrol-agent.service", dest / "hostpatrol-agent.timer"
    text = service.read_text()
    for directive in DIRECTIVES:
        assert directive in text
    assert f"ExecStart={BIN / 'hostpatrol-agent'} run --once" in text
    assert f"HOSTPATROL_STATE_DIR={tmp_path / 'state'}" in text
    assert "OnCalendar=*:0/15" in timer.read_text()
    _verify(service, timer)


def test_install_systemd_daemon_unit_is_verified(tmp_path) -> None:
    dest = tmp_path / "units"
    agent(tmp_path / "state", "install", "--systemd", "--daemon", "--dest", str(dest))
    assert sorted(p.name for p in dest.iterdir()) == ["hostpatrol-agent.service"]
    text = (dest / "hostpatrol-agent.service").read_text()
    assert " daemon\n" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    _verify(dest / "hostpatrol-agent.service")


def test_systemd_analyze_catches_a_broken_unit(tmp_path) -> None:
    """The check above can fail: a wrong value is reported for our file."""
    dest = tmp_path / "units"
    agent(tmp_path / "state", "install", "--systemd", "--dest", str(dest))
    service = dest / "hostpatrol-agent.service"
    service.write_text(service.read_text().replace("ProtectSystem=strict", "ProtectSystem=x"))
    with pytest.raises(AssertionError, match="ProtectSystem|protect system"):
        _verify(service, dest / "hostpatrol-agent.timer")


def test_install_cron(tmp_path) -> None:
    dest = tmp_path / "cron.d"
    agent(tmp_path / "state", "install", "--cron", "--dest", str(dest))
    line = [x for x in (dest / "hostpatrol-agent").read_text().splitlines()
            if x.startswith("*/15")][0]
    assert line.split()[5:8] == ["root", str(BIN / "hostpatrol-agent"), "run"]
    assert (dest / "hostpatrol-agent").stat().st_mode & 0o777 == 0o644


def test_configs_hold_the_generated_files_and_they_parse() -> None:
    for name, text in committed_files().items():
        assert (ROOT / "configs" / name).read_bytes() == encode(name, text), (
            f"configs/{name} is stale: python -m hostpatrol.agent.install configs")
    raw = (ROOT / "configs" / "hostpatrol-agent-task.xml").read_bytes()
    assert raw.startswith(b"\xff\xfe<\x00?\x00x\x00m\x00l\x00")  # UTF-16 LE with BOM
    assert 'encoding="UTF-16"' in raw[2:].decode("utf-16-le")
    task = ET.fromstring(  # noqa: S314 - our own committed file
        (ROOT / "configs" / "hostpatrol-agent-task.xml").read_bytes())
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    assert task.find(".//t:Repetition/t:Interval", ns).text == "PT15M"
    assert task.find(".//t:Exec/t:Arguments", ns).text == "run --once"
    plist = plistlib.loads((ROOT / "configs" / "com.hostpatrol.agent.plist").read_bytes())
    assert plist["ProgramArguments"][1:] == ["run", "--once"]
    assert plist["StartInterval"] == 900
