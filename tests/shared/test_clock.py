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
    """In the shifted-clock runs of `make test` this process is shifted; the shared
    ``utcnow`` (which the report module still re-exports) follows it exactly."""
    from hostpatrol.shared.report import utcnow as report_utcnow

    expected = timedelta(seconds=int(os.environ.get(clock.SHIFT_ENV, "0") or 0))
    assert clock.shift() == expected
    assert report_utcnow is clock.utcnow
    drift = clock.utcnow() - clock.system_now() - expected
    assert abs(drift) < timedelta(seconds=5)
