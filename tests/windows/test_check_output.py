"""The judge CI runs on the Windows runner's `check --json`, tried here on this host's output."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

from check_output import problems
from harness import agent

HERE = Path(__file__).parent


def test_real_output_passes_and_each_defect_is_named(tmp_path) -> None:
    proc = agent(tmp_path, "check", "disk", "inventory", "--json", check=False)
    results = json.loads(proc.stdout)
    assert problems(results, {"disk", "inventory"}) == []
    assert problems(results) != []  # the full list of checks is expected by default

    broken = copy.deepcopy(results)
    broken[0]["data"]["filesystems"] = "not a list"
    assert problems(broken, {"disk", "inventory"})[0].startswith(
        "disk: data does not match its schema at filesystems")
    crashed = copy.deepcopy(results)
    crashed[1] = {"check": "inventory", "status": "error", "error": "KeyError: 'x'"}
    assert problems(crashed, {"disk", "inventory"}) == ["inventory: error: KeyError: 'x'"]
    assert problems(results[:1], {"disk", "inventory"}) == ["inventory: no result"]
    assert problems({"check": "disk"}) == ["output is not a JSON list of results"]


def test_script_reads_utf16_from_windows_powershell_and_exits_1_on_problems(tmp_path) -> None:
    out = agent(tmp_path / "s", "check", "disk", "--json", check=False).stdout
    utf16 = tmp_path / "check.json"
    utf16.write_bytes(out.encode("utf-16"))  # what `>` in Windows PowerShell 5.1 writes
    proc = subprocess.run([sys.executable, str(HERE / "check_output.py"), str(utf16)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1  # only disk ran: every other check has no result
    assert proc.stdout.split()[0] == "disk"
    assert "PROBLEM inventory: no result" in proc.stderr
