"""Build the Windows package: the agent wheel and its dependencies' win_amd64 wheels in a zip.

    python scripts/build_windows_zip.py [--python 3.11 3.12 3.13] [--out dist]

Runs on any OS (pip downloads wheels for another platform with ``--platform``). The zip holds
``hostpatrol-agent-<version>-win_amd64/`` with ``wheels/``, ``install.cmd`` and
``uninstall.cmd`` (configs/windows/, written with CRLF line ends); install.cmd makes a venv
with the host's Python and installs from ``wheels/`` with no network. Before writing the zip
the script asks pip to resolve an offline install of ``hostpatrol`` from those wheels for
every target Python on win_amd64 (``--dry-run``), so a zip that would not install is never
written. Needs pip and the network (or a pip cache) on the build machine.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = "win_amd64"
PYTHONS = ("3.11", "3.12", "3.13")
SCRIPTS = ("install.cmd", "uninstall.cmd")
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<ver>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-"
                    r"(?P<plat>[^-]+)\.whl$")


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def agent_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The agent's own dependencies as pyproject states them (the four)."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The package version."""
    return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def target_args(python: str) -> list[str]:
    """pip options selecting CPython ``python`` on 64-bit Windows, wheels only."""
    tag = python.replace(".", "")
    return ["--only-binary=:all:", "--platform", PLATFORM, "--python-version", python,
            "--implementation", "cp", "--abi", f"cp{tag}", "--abi", "abi3", "--abi", "none"]


def wheel_fits(filename: str, python: str) -> bool:
    """Whether a wheel file installs on CPython ``python`` for win_amd64, by its tags."""
    m = _WHEEL.match(filename)
    if m is None:
        return False
    if m["plat"] not in (PLATFORM, "any"):
        return False
    want = int(python.replace(".", ""))
    pys = m["py"].split(".")
    if m["abi"] == "none":
        return any(p in ("py3", "py2") or p == f"cp{want}" for p in pys)
    if m["abi"] == "abi3":
        return any(p.startswith("cp") and p[2:].isdigit() and int(p[2:]) <= want for p in pys)
    return m["abi"] == f"cp{want}" and f"cp{want}" in pys


def check_zip(path: Path, pythons: Sequence[str]) -> list[str]:
    """What is wrong with a built zip (empty when it holds what it should)."""
    problems = []
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        top = {n.split("/", 1)[0] for n in names}
        if len(top) != 1:
            return [f"expected one top folder, found {sorted(top)}"]
        wheels = [n.rsplit("/", 1)[1] for n in names if n.endswith(".whl")]
        for script in SCRIPTS:
            member = f"{next(iter(top))}/{script}"
            if member not in names:
                problems.append(f"missing {script}")
            elif b"\n" in z.read(member).replace(b"\r\n", b""):
                problems.append(f"{script} has bare LF line ends")
    wanted = ["hostpatrol"] + [re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0]
                               for r in agent_requirements()]
    for python in pythons:
        for name in wanted:
            norm = name.lower().replace("-", "_")
            if not any(w.lower().startswith(f"{norm}-") and wheel_fits(w, python)
                       for w in wheels):
                problems.append(f"no {name} wheel for CPython {python} on {PLATFORM}")
    return problems


def _pip(args: Sequence[str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          check=False, timeout=900)
    if proc.returncode != 0:
        msg = f"pip {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}"
        raise BuildError(msg)
    return proc.stdout


def resolves(wheels: Path, python: str, scratch: Path) -> list[str]:
    """Names pip would install for ``hostpatrol`` from ``wheels`` alone (offline, dry run)."""
    report = scratch / f"report-{python}.json"
    _pip(["install", "--dry-run", "--quiet", "--no-index", "--find-links", str(wheels),
          *target_args(python), "--target", str(scratch / "t"), "--report", str(report),
          "hostpatrol"])
    data = json.loads(report.read_text())
    return sorted(i["metadata"]["name"].lower() for i in data["install"])


def build(out: Path, pythons: Sequence[str]) -> Path:
    """Download, check and zip; return the zip's path."""
    out.mkdir(parents=True, exist_ok=True)
    folder = f"hostpatrol-agent-{version()}-{PLATFORM}"
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)])
        for python in pythons:
            _pip(["download", "--quiet", "--dest", str(wheels), *target_args(python),
                  *agent_requirements()])
        for python in pythons:
            names = resolves(wheels, python, Path(tmp))
            if "hostpatrol" not in names:
                msg = f"CPython {python}: pip would not install hostpatrol ({names})"
                raise BuildError(msg)
        target = out / f"{folder}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for wheel in sorted(wheels.glob("*.whl")):
                z.write(wheel, f"{folder}/wheels/{wheel.name}")
            for script in SCRIPTS:
                text = (ROOT / "configs" / "windows" / script).read_text(encoding="utf-8")
                z.writestr(f"{folder}/{script}", "\r\n".join(text.splitlines()) + "\r\n")
    problems = check_zip(target, pythons)
    if problems:
        msg = f"{target}: " + "; ".join(problems)
        raise BuildError(msg)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the zip, print its path."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", nargs="+", default=list(PYTHONS),
                   help="target CPython versions (default: %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "dist", help="output dir")
    args = p.parse_args(argv)
    try:
        print(build(args.out, args.python))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
