"""Run every benchmark; print the figures; exit non-zero when a target is missed.

`make bench` calls this. Benchmarks are not tests: they measure this machine.
Optional benchmarks run only when named (``make bench BENCH=fleet_soak``): they take
minutes and load the whole machine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("agent_checks", "agent", "ingest", "growth", "storage", "retention", "scaleout",
              "report", "admin_pages", "lists", "notify_flood", "rollup_memory")
OPTIONAL = ("fleet_soak",)  # a 3-minute look; the full soak is `python bench/fleet_soak.py`


def _load(name: str):  # noqa: ANN202 - a module
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))  # the benchmarks share helpers (fleet_sim, loadgen…)
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(missed: list[str]) -> int:
    """Print the missed targets and a verdict; the exit status (1 when any was missed)."""
    for m in missed:
        print(f"MISSED: {m}")
    print("all targets met" if not missed else f"{len(missed)} target(s) missed")
    return 1 if missed else 0


def main(argv: list[str]) -> int:
    """Run the named benchmarks (default: all but the optional ones)."""
    chosen = argv or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS + OPTIONAL]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS + OPTIONAL)}")
        return 2
    missed: list[str] = []
    for name in chosen:
        print(f"== {name}")
        missed += [f"{name}: {m}" for m in _load(name).run()]
        print()
    return report(missed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
