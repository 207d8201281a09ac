"""SECURITY.md names a test for every claim: each named test file and test must exist, and
every test module of tests/security and tests/faults must be named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "SECURITY.md").read_text(encoding="utf-8")


def _refs() -> list[tuple[str, str]]:
    """(path, test name or "") for `path::name`, `path` and bare `::name` (same path)."""
    out, last = [], ""
    for path, name in re.findall(r"`((?:agent|checks|collector|e2e|faults|security|shared)"
                                 r"/[\w/]+\.py)?(?:::(\w+))?`", DOC):
        if not path and not name:
            continue
        last = path or last
        out.append((last, name))
    return out


REFS = _refs()


def test_every_test_named_in_the_threat_model_exists() -> None:
    assert len(REFS) >= 50
    for path, name in REFS:
        source = ROOT / "tests" / path
        assert source.exists(), path
        if name:
            assert re.search(rf"^def {name}\b", source.read_text(encoding="utf-8"), re.M), \
                f"{path}::{name}"


def test_every_security_and_fault_module_backs_a_claim() -> None:
    named = {path for path, _ in REFS}
    for folder in ("security", "faults"):
        for module in (ROOT / "tests" / folder).glob("test_*.py"):
            if module.name == Path(__file__).name:
                continue
            assert f"{folder}/{module.name}" in named, module.name
