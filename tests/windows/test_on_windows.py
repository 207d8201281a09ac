"""On real Windows: state files, keys, the spool, defaults, checks and the scheduled task.

These need Windows itself (NTFS, ACLs, Task Scheduler, PowerShell, Defender) and are
skipped elsewhere; the Windows CI workflow (.github/workflows/windows.yml) runs them. What
can be tested off Windows (parsers of recorded Windows output, the task XML, the commands
the installer runs) is tested in the Linux suite.
"""

from __future__ import annotations

import os
import platform
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.agent.checks.antivirus.check import AntivirusCheck
from hostpatrol.agent.checks.inventory import InventoryCheck
from hostpatrol.agent.commands import run_command
from hostpatrol.agent.config import platform_defaults
from hostpatrol.agent.spool import Spool
from hostpatrol.agent.state import fsync_dir, write_atomic
from hostpatrol.agent.wininstall import install_windows, uninstall_windows
from hostpatrol.shared.keys import load_private_key, save_private_key
from hostpatrol.shared.schemas import load_schema

pytestmark = [pytest.mark.windows,
              pytest.mark.skipif(sys.platform != "win32", reason="needs real Windows")]


def test_state_files_are_written_byte_for_byte(tmp_path: Path) -> None:
    target = tmp_path / "seq.json"
    write_atomic(target, b'{"seq": 1}\n', mode=0o644)
    assert target.read_bytes() == b'{"seq": 1}\n'  # no CRLF from a text-mode descriptor
    fsync_dir(tmp_path)  # a no-op on Windows, never an error


def test_private_key_round_trip(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "state" / "agent.key"
    save_private_key(path, key)
    assert load_private_key(path).public_key().public_bytes_raw() == \
        key.public_key().public_bytes_raw()


def test_spool_keeps_the_exact_report(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    entry = spool.put(1, str(uuid.uuid4()), "aaa.bbb.ccc")
    assert entry.path.read_bytes() == b"aaa.bbb.ccc\n"


def test_defaults_live_under_programdata() -> None:
    config, state = platform_defaults()
    base = Path(os.environ["ProgramData"]) / "hostpatrol"
    assert (config, state) == (base / "agent.yaml", base / "state")


def test_commands_get_an_environment_powershell_runs_in() -> None:
    res = run_command(["powershell", "-NoProfile", "-NonInteractive", "-Command",
                       "$PSVersionTable.PSVersion.Major"], 120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "5"


def test_inventory_names_this_windows() -> None:
    data = InventoryCheck().collect().data
    jsonschema.Draft202012Validator(load_schema("inventory")).validate(data)
    ident = data["os"]["identity"]
    assert ident["family"] == "windows"
    assert ident["desktop"] is ("Server" not in (platform.win32_edition() or ""))


def test_antivirus_reads_defender() -> None:
    out = AntivirusCheck().collect()
    jsonschema.Draft202012Validator(load_schema("antivirus")).validate(out.data)
    names = [p["name"] for p in out.data["products"]]
    assert "Microsoft Defender Antivirus" in names, out.data


def test_scheduled_task_is_created_as_system_and_removed(tmp_path: Path) -> None:
    task = f"hostpatrol-test-{uuid.uuid4().hex[:8]}"
    exe = str(Path(sys.executable).with_name("hostpatrol-agent.exe"))
    try:
        done = install_windows(tmp_path / "data", exe, run_command, task=task)
        assert done[-1].startswith(f"registered scheduled task {task}")
        res = run_command(["schtasks", "/Query", "/TN", task, "/XML"], 60)
        assert res.returncode == 0, res.stderr
        assert "<UserId>S-1-5-18</UserId>" in res.stdout
        assert "run --once" in res.stdout
    finally:
        uninstall_windows(run_command, task=task)
    gone = run_command(["schtasks", "/Query", "/TN", task], 60)
    assert gone.returncode != 0
