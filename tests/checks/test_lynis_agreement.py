"""accounts beside Lynis on the same host: a second uid 0 and an empty passwd field are
found by both (Lynis AUTH-9204, AUTH-9283); what hostpatrol sees beyond Lynis is listed
in docs/checks.md ("hostpatrol and Lynis")."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hostpatrol.agent.checks.accounts.check import AccountsCheck
from machine import edited_account_files, throwaway_name, throwaway_user

pytestmark = pytest.mark.skipif(shutil.which("lynis") is None,
                                reason="scripts/test-deps.sh installs lynis")


def lynis(tmp_path, *tests: str) -> tuple[set[str], str]:
    """Warnings (test ids) of a Lynis run of only ``tests``, and its log."""
    report, log = tmp_path / "lynis-report.dat", tmp_path / "lynis.log"
    subprocess.run(["lynis", "audit", "system", "--tests", " ".join(tests), "--quick",
                    "--no-colors", "--report-file", str(report), "--logfile", str(log)],
                   capture_output=True, text=True, timeout=600, check=True)
    warnings = {m[1] for m in re.finditer(r"^warning\[\]=([A-Z]+-\d+)\|", report.read_text(),
                                          re.M)}
    return warnings, log.read_text()


def test_second_root_and_empty_password_agree_with_lynis(tmp_path):
    root2 = throwaway_name()
    with throwaway_user(tmp_path, "--non-unique", "--uid", "0", "--gid", "0", name=root2), \
            throwaway_user(tmp_path) as empty, \
            edited_account_files(empty, passwd_field="", drop_shadow=True):
        warnings, log = lynis(tmp_path, "AUTH-9204", "AUTH-9283")
        data = AccountsCheck().collect().data
    assert "AUTH-9204" in warnings  # Multiple users with UID 0
    assert root2 in data["extra_uid0_accounts"]
    assert "AUTH-9283" in warnings  # accounts without password
    lynis_empty = set(re.findall(r"Account without password: (\S+)", log))
    assert empty in lynis_empty
    assert lynis_empty <= set(data["empty_password"])
