"""install --windows off Windows: the task XML it writes and the commands it would run.

Registering the task for real needs Windows (tests/windows/test_on_windows.py, run by the
Windows CI workflow); here the commands go to a recording runner.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
from harness import agent
from hostpatrol.agent.commands import CommandNotFound, CommandResult
from hostpatrol.agent.wininstall import InstallError, install_windows, uninstall_windows

NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
EXE = r"C:\Program Files\hostpatrol\venv\Scripts\hostpatrol-agent.exe"


class Recorder:
    def __init__(self, answers: dict[str, CommandResult] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(list(argv))
        ans = self.answers.get(argv[0])
        if isinstance(ans, Exception):
            raise ans
        return ans or CommandResult(tuple(argv), 0, "SUCCESS", "")


def parse_task(path: Path) -> ET.Element:
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xfe"  # UTF-16 LE with a BOM: what schtasks /XML reads
    return ET.fromstring(raw)  # noqa: S314 - the file this test just had written


def test_install_writes_the_task_then_sets_the_acl_then_registers(tmp_path: Path) -> None:
    run = Recorder()
    done = install_windows(tmp_path / "hostpatrol", EXE, run)
    xml = tmp_path / "hostpatrol" / "hostpatrol-agent-task.xml"
    task = parse_task(xml)
    assert task.find(".//t:Principal/t:UserId", NS).text == "S-1-5-18"
    assert task.find(".//t:Exec/t:Command", NS).text == EXE
    assert task.find(".//t:Exec/t:Arguments", NS).text == "run --once"
    assert task.find(".//t:Settings/t:MultipleInstancesPolicy", NS).text == "IgnoreNew"
    assert run.calls == [
        ["icacls", str(tmp_path / "hostpatrol"), "/inheritance:r", "/grant:r",
         "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F", "/T"],
        ["schtasks", "/Create", "/TN", "hostpatrol-agent", "/XML", str(xml), "/F"],
    ]
    assert done[-1] == ("registered scheduled task hostpatrol-agent (runs as SYSTEM every "
                        "15 minutes)")


def test_a_failed_step_stops_with_its_answer(tmp_path: Path) -> None:
    run = Recorder({"schtasks": CommandResult((), 1, "", "ERROR: Access is denied.")})
    with pytest.raises(InstallError, match="schtasks /Create exited 1: ERROR: Access is denied"):
        install_windows(tmp_path, EXE, run)
    missing = Recorder({"icacls": CommandNotFound("icacls: command not found")})
    with pytest.raises(InstallError, match="^icacls: command not found$"):
        install_windows(tmp_path, EXE, missing)
    assert [c[0] for c in missing.calls] == ["icacls"]  # nothing registered after a failure


def test_remove_deletes_the_task() -> None:
    run = Recorder()
    assert uninstall_windows(run) == ["deleted scheduled task hostpatrol-agent"]
    assert run.calls == [["schtasks", "/Delete", "/TN", "hostpatrol-agent", "/F"]]


def test_cli_no_register_writes_the_xml_for_a_gpo(tmp_path: Path) -> None:
    dest = tmp_path / "gpo"
    out = agent(tmp_path / "state", "install", "--windows", "--no-register", "--dest",
                str(dest), "--exe", EXE)
    assert out.stdout.strip() == f"wrote {dest / 'hostpatrol-agent-task.xml'}"
    task = parse_task(dest / "hostpatrol-agent-task.xml")
    assert task.find(".//t:Exec/t:Command", NS).text == EXE


def test_cli_refuses_windows_options_without_windows(tmp_path: Path) -> None:
    proc = agent(tmp_path, "install", "--cron", "--remove", "--dest", str(tmp_path / "c"),
                 check=False)
    assert proc.returncode == 64  # EX_USAGE, as every wrong command line
    assert "--remove and --no-register go with --windows" in proc.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows icacls and schtasks exist")
def test_cli_registration_off_windows_fails_clearly(tmp_path: Path) -> None:
    proc = agent(tmp_path / "s", "install", "--windows", "--dest", str(tmp_path / "d"),
                 check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: icacls: command not found"
