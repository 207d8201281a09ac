"""The run lock between real processes: never two runs at once, freed on exit or death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from hostpatrol.agent.state import State, StateError

HOLDER = """
import sys
from hostpatrol.agent.state import State
with State(sys.argv[1]).run_lock():
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""

TRY = """
import sys
from hostpatrol.agent.state import State, StateError
try:
    with State(sys.argv[1]).run_lock():
        print("got it")
except StateError as e:
    print("refused:", e)
"""


def start_holder(root) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "held"
    return p


def finish(p: subprocess.Popen[str]) -> str:
    out, _ = p.communicate("\n", timeout=20)
    return out


def try_in_child(root) -> str:
    return subprocess.run([sys.executable, "-c", TRY, str(root)], capture_output=True,
                          text=True, timeout=20, check=True).stdout.strip()


def test_a_second_process_is_refused_while_the_first_runs(tmp_path):
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(StateError, match="in progress"), State(tmp_path).run_lock():
            pass
        assert try_in_child(tmp_path).startswith("refused: another hostpatrol-agent run")
        assert (tmp_path / "run.lock").read_text().strip() == str(holder.pid)  # the hint
    finally:
        assert finish(holder).strip() == "released"
    assert holder.returncode == 0
    with State(tmp_path).run_lock():  # free again once the holder let go
        assert try_in_child(tmp_path).startswith("refused")
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())
    assert try_in_child(tmp_path) == "got it"


def test_a_killed_holder_does_not_leave_the_lock_behind(tmp_path):
    holder = start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    finish(holder)
    assert holder.returncode == -signal.SIGKILL
    assert try_in_child(tmp_path) == "got it"


def test_the_agent_imports_and_locks_without_loading_a_platform_module_early():
    # On Windows there is no fcntl: importing the state module must not need it, and the
    # lock module loads its platform module only when a lock is taken.
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import hostpatrol.agent.state, hostpatrol.agent.filelock\n"
            "print('imported')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=20, check=True).stdout
    assert out.strip() == "imported"
