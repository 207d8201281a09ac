"""The agent installs with four dependencies; the boxes import only what the design allows."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import requires

AGENT_DEPS = {"psutil", "requests", "pyyaml", "cryptography"}


def test_plain_install_needs_only_the_four_agent_dependencies() -> None:
    reqs = requires("hostpatrol") or []
    plain = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower()
             for r in reqs if "extra ==" not in r}
    assert plain == AGENT_DEPS
    extras = {m.group(1) for r in reqs if (m := re.search(r'extra == "([^"]+)"', r))}
    assert {"collector", "postgres"} <= extras


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_agent_imports_no_collector_flask_or_database_code() -> None:
    mods = _modules_after("import hostpatrol.agent.cli, hostpatrol.agent.checks")
    banned = ("flask", "sqlalchemy", "alembic", "psycopg", "gunicorn", "jsonschema",
              "hostpatrol.collector")
    assert not [m for m in mods if m.startswith(banned)]


def test_shared_imports_neither_side() -> None:
    mods = _modules_after("import hostpatrol.shared.jws, hostpatrol.shared.report, "
                          "hostpatrol.shared.keys, hostpatrol.shared.configfile, "
                          "hostpatrol.shared.schemas")
    assert not [m for m in mods if m.startswith(("hostpatrol.agent", "hostpatrol.collector"))]


def test_collector_imports_no_agent_code() -> None:
    mods = _modules_after("import hostpatrol.collector.cli, hostpatrol.collector.app")
    assert not [m for m in mods if m.startswith("hostpatrol.agent")]


def test_every_data_file_is_packaged() -> None:
    """Templates, translations, schemas, migrations: each file is named by package-data."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {pkg: root / cfg["package-dir"][".".join(pkg.split(".")[:2])] /
            "/".join(pkg.split(".")[2:]) for pkg in cfg["packages"]}
    missing = []
    for top in ("agent", "collector", "shared"):
        for path in (root / top).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            pkg = next((p for p, d in dirs.items() if d == path.parent), None)
            globs = cfg.get("package-data", {}).get(pkg, []) if pkg else []
            if not any(fnmatch.fnmatch(path.name, g) for g in globs):
                missing.append(str(path.relative_to(root)))
    assert missing == []
