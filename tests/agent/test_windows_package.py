"""The Windows zip: built here for real (pip downloads the win_amd64 wheels), then judged.

The build itself asks pip to resolve an offline install from the zip's wheels for every
target CPython on win_amd64; ``check_zip`` then judges the file names. Needs the package
index (or pip's cache), as ``make install`` does.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_windows_zip",
                                               ROOT / "scripts" / "build_windows_zip.py")
bwz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bwz)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bwz.build(tmp_path_factory.mktemp("dist"), ("3.11", "3.12", "3.13"))


@pytest.mark.slow
def test_zip_holds_the_agent_its_four_dependencies_and_the_scripts(built: Path) -> None:
    assert built.name == f"hostpatrol-agent-{bwz.version()}-win_amd64.zip"
    assert bwz.check_zip(built, ("3.11", "3.12", "3.13")) == []
    with zipfile.ZipFile(built) as z:
        names = z.namelist()
        folder = built.name[:-4]
        wheels = {n.split("/")[-1].split("-")[0].lower() for n in names if n.endswith(".whl")}
        install = z.read(f"{folder}/install.cmd").decode("ascii")
    assert {"hostpatrol", "psutil", "requests", "pyyaml", "cryptography"} <= wheels
    assert not wheels & {"flask", "sqlalchemy", "psycopg", "weasyprint"}  # agent only
    assert "--no-index --find-links" in install
    assert install.count("\r\n") == install.count("\n")  # CRLF throughout for cmd.exe
    assert f"{folder}/uninstall.cmd" in names


@pytest.mark.slow
def test_a_python_without_wheels_is_refused(built: Path, tmp_path: Path) -> None:
    problems = bwz.check_zip(built, ("3.14",))
    assert "no pyyaml wheel for CPython 3.14 on win_amd64" in problems
    trimmed = tmp_path / "trimmed.zip"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(trimmed, "w") as dst:
        for item in src.infolist():
            if "cryptography-" not in item.filename:
                dst.writestr(item, src.read(item))
    assert bwz.check_zip(trimmed, ("3.12",)) == [
        "no cryptography wheel for CPython 3.12 on win_amd64"]


def test_wheel_tags() -> None:
    assert bwz.wheel_fits("pyyaml-6.0.4-cp312-cp312-win_amd64.whl", "3.12")
    assert not bwz.wheel_fits("pyyaml-6.0.4-cp312-cp312-win_amd64.whl", "3.13")
    assert bwz.wheel_fits("cryptography-50.0.2-cp311-abi3-win_amd64.whl", "3.13")
    assert not bwz.wheel_fits("cryptography-50.0.2-cp311-abi3-win_amd64.whl", "3.10")
    assert not bwz.wheel_fits("psutil-7.2.2-cp37-abi3-manylinux2014_x86_64.whl", "3.12")
    assert bwz.wheel_fits("requests-2.34.2-py3-none-any.whl", "3.11")
    assert not bwz.wheel_fits("not-a-wheel.zip", "3.11")


def test_the_script_lists_the_agent_dependencies_from_pyproject() -> None:
    names = sorted(r.split(">")[0] for r in bwz.agent_requirements())
    assert names == ["cryptography", "psutil", "pyyaml", "requests"]
