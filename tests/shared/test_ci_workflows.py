"""The Windows CI workflow is a valid GitHub Actions workflow and does what it promises.

It cannot run here (no Windows runner); this holds it to GitHub's published workflow schema
(the copy vendored in check-jsonschema) and to the steps the docs describe.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "windows.yml"


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is missing (pip install -e '.[test]')"
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


def test_windows_workflow_matches_the_github_schema() -> None:
    proc = _schema_check(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: windows-latest",
                                                   "runs_on: windows-latest"))
    assert _schema_check(broken).returncode != 0


def test_windows_workflow_builds_installs_checks_and_tests() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    (job,) = doc["jobs"].values()
    assert job["runs-on"] == "windows-latest"
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/build_windows_zip.py" in runs
    assert "install.cmd" in runs
    assert "hostpatrol-agent.exe\" check --json" in runs
    assert "tests/windows/check_output.py check.json" in runs
    assert "install --windows" in runs
    assert "install --windows --remove" in runs
    assert "tests/windows" in runs
    assert "uninstall.cmd" in runs
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("\nmake test")  # Linux CI
