"""The layout keeps its promises: imports point one way, no circles, no borrowed private names.

Read from the source with ``ast``, nothing imported. Every import statement counts, at
module level or inside a function: a lazy import only delays the tie between two modules,
it does not undo it. ``from package import name`` counts as an import of the submodule
when ``name`` is one, else of the package; the parent packages Python imports on the way
are not counted (a package's ``__init__`` importing its own modules is not a circle).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"]

# Box → the only hostpatrol modules it may import (prefixes), beyond the one-way rule.
ONLY = {
    "hostpatrol.agent.checks": ("hostpatrol.shared", "hostpatrol.agent.checks",
                                "hostpatrol.agent.commands", "hostpatrol.agent.ostext"),
    "hostpatrol.collector.store": ("hostpatrol.shared", "hostpatrol.collector.store"),
    "hostpatrol.collector.rules": ("hostpatrol.collector.rules", "hostpatrol.collector.policy"),
}
# Box → hostpatrol modules it never imports (what each package's docstring promises).
NEVER = {
    "hostpatrol.agent": ("hostpatrol.collector",),
    "hostpatrol.collector": ("hostpatrol.agent",),
    "hostpatrol.shared": ("hostpatrol.agent", "hostpatrol.collector"),
    "hostpatrol.collector.intake": ("hostpatrol.collector.api", "hostpatrol.collector.cli",
                                    "hostpatrol.collector.web"),
    "hostpatrol.collector.api": ("hostpatrol.collector.cli", "hostpatrol.collector.web"),
}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module
    name: str  # the name taken from it ("" for the module itself)
    local: str  # the name the module is bound to in the importer ("" when none)
    line: int


def _modules() -> dict[str, Module]:
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            found[name] = Module(name, path, is_package)
    return found


MODULES = _modules()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _tree(module: Module) -> ast.Module:
    return ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))


def _imports(module: Module) -> Iterator[Import]:
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _within(alias.name, "hostpatrol"):
                    yield Import(module.name, alias.name, "", alias.asname or "", node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")[:len(module.package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            if not _within(origin, "hostpatrol"):
                continue
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                if sub in MODULES:
                    yield Import(module.name, sub, "", alias.asname or alias.name, node.lineno)
                else:
                    yield Import(module.name, origin, alias.name, "", node.lineno)


IMPORTS = [imp for m in MODULES.values() for imp in _imports(m)]


def test_the_source_tree_is_read() -> None:
    assert {"hostpatrol.agent.cli", "hostpatrol.collector.cli.main",
            "hostpatrol.collector.intake.ingest", "hostpatrol.shared.jws"} <= set(MODULES)
    assert all(imp.target in MODULES for imp in IMPORTS), \
        [imp for imp in IMPORTS if imp.target not in MODULES]


def test_imports_point_one_way() -> None:
    """Agent and collector import shared, never each other; intake and api never cli or web."""
    wrong = [imp for imp in IMPORTS for box, banned in NEVER.items()
             if _within(imp.source, box) and any(_within(imp.target, b) for b in banned)]
    assert wrong == []


def test_boxes_with_a_short_list_import_only_from_it() -> None:
    wrong = [imp for imp in IMPORTS for box, allowed in ONLY.items()
             if _within(imp.source, box) and not any(_within(imp.target, a) for a in allowed)]
    assert wrong == []


def test_nothing_imports_the_collector_cli() -> None:
    cli = "hostpatrol.collector.cli"
    assert [imp for imp in IMPORTS
            if _within(imp.target, cli) and not _within(imp.source, cli)] == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_takes_a_private_name_from_another() -> None:
    """Neither ``from m import _x`` nor ``m._x`` on a module imported from hostpatrol."""
    wrong: list[object] = [imp for imp in IMPORTS
                           if imp.target != imp.source and _private(imp.name)]
    for module in MODULES.values():
        bound = {imp.local: imp.target for imp in _imports(module) if imp.local}
        wrong += [(module.name, node.lineno, f"{bound[node.value.id]}.{node.attr}")
                  for node in ast.walk(_tree(module))
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in bound and _private(node.attr)]
    assert wrong == []


def _cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle, as the modules along it; [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circle_anywhere() -> None:
    """The collector's CLI and the agent included (``cli`` ↔ ``cli_*`` and ``daemon`` ↔
    ``daemon_step`` were such circles), lazy imports counted."""
    edges: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    assert _cycle(edges) == []


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for module in MODULES.values():
        if not module.is_package:
            continue
        doc = ast.get_docstring(_tree(module)) or ""
        lines = doc.strip().splitlines()
        assert len(lines) >= 2, f"{module.name}: no two-line docstring"
        assert lines[-1].startswith("May import "), f"{module.name}: {lines[-1]!r}"
