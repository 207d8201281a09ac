"""The one clock: the test-only shift reaches every process and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hostpatrol.shared import clock

PRINT_NOW = ("from hostpatrol.shared.clock import system_now, utcnow; "
             "print(utcnow().isoformat()); print(system_now().isoformat())")


def _child(shift: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop(clock.SHIFT_ENV, None)
    if shift is not None:
        env[clock.SHIFT_ENV] = shift
    return subprocess.run([sys.executable, "-c", PRINT_NOW], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_a_shift_moves_utcnow_in_child_processes_but_not_the_kernel_clock() -> None:
    ten_years = int(timedelta(days=3652).total_seconds())
    before = datetime.now(UTC)
    out = _child(str(ten_years))
    after = datetime.now(UTC)
    assert out.returncode == 0, out.stderr
    shifted, system = (datetime.fromisoformat(line) for line in out.stdout.split())
    assert before + timedelta(seconds=ten_years) <= shifted <= after + timedelta(seconds=ten_years)
    assert before <= system <= after  # certificates and file times stay on the real clock
    assert "not for production" in out.stderr  # a shifted process says so


def test_no_shift_is_the_real_clock() -> None:
    before = datetime.now(UTC)
    out = _child(None)
    assert out.returncode == 0, out.stderr
    shifted, system = (datetime.fromisoformat(line) for line in out.stdout.split())
    assert before <= shifted <= datetime.now(UTC)
    assert before <= system <= datetime.now(UTC)
    assert out.stderr == ""


@pytest.mark.parametrize("bad", ["soon", "1.5", "+1y", str(10**12), str(-(10**12))])
def test_a_bad_shift_is_refused_with_the_variable_named(bad: str) -> None:
    out = _child(bad)
    assert out.returncode != 0
    assert clock.SHIFT_ENV in out.stderr
    assert "ClockShiftError" in out.stderr


def test_the_shift_of_this_run_is_the_one_every_now_uses() -> None:
    """In the shifted-clock runs of `make test` this process is shifted by exactly the
    variable's seconds."""
    expected = timedelta(seconds=int(os.environ.get(clock.SHIFT_ENV, "0") or 0))
    assert clock.shift() == expected
    drift = clock.utcnow() - clock.system_now() - expected
    assert abs(drift) < timedelta(seconds=5)


def test_the_collector_app_reads_its_injected_clock_once_a_request(tmp_path) -> None:
    """A request's now is the app's clock: a test passes the instant it needs."""
    from webapp import BASE, make_webapp

    instants = iter([datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC) + timedelta(seconds=s)
                     for s in range(10_000)])
    w = make_webapp(tmp_path, clock=lambda: next(instants))
    try:
        got = w.client("auditor").get("/audit.csv", base_url=BASE)
        assert got.status_code == 200
        assert 'filename="hostpatrol-audit-20310203-0405' in got.headers["Content-Disposition"]
    finally:
        w.engine.dispose()


def test_product_code_reads_the_time_only_through_the_clock() -> None:
    """No ``datetime.now()``/``date.today()`` outside clock.py; ``time.time()`` only where
    it is compared with times the kernel wrote (file mtimes, the journal's cursor)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    kernel_dated = {"agent/spool.py", "agent/diskfull.py", "agent/checks/logs/check.py"}
    offenders = []
    for folder in ("agent", "collector", "shared"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value.id if isinstance(node.value, ast.Name) else ""
                call = f"{owner}.{node.attr}"
                if call in {"datetime.now", "datetime.utcnow", "date.today"} \
                        and rel != "shared/clock.py":
                    offenders.append(f"{rel}:{node.lineno} {call}")
                if call == "time.time" and rel not in kernel_dated:
                    offenders.append(f"{rel}:{node.lineno} {call}")
    assert offenders == []
