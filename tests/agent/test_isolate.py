"""run_isolated: work runs in a forked child; only its answer comes back."""

from __future__ import annotations

import os
import signal

import pytest
from hostpatrol.agent.isolate import ChildFailed, run_isolated


def test_answer_comes_back_but_the_childs_memory_does_not() -> None:
    grown: list[bytes] = []

    def work() -> dict[str, int]:
        grown.append(b"x" * 50_000_000)
        return {"pid": os.getpid(), "held": sum(map(len, grown))}

    answer = run_isolated(work)
    assert answer["held"] == 50_000_000
    assert answer["pid"] != os.getpid()
    assert grown == []  # the 50 MB lived and died in the child


def test_a_child_that_raises_is_reported_and_the_parent_goes_on() -> None:
    def work() -> None:
        raise RuntimeError("check blew up")

    with pytest.raises(ChildFailed, match="exit status 1"):
        run_isolated(work)
    assert run_isolated(lambda: 7) == 7


def test_a_child_killed_by_a_signal_is_reported() -> None:
    def work() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(ChildFailed, match="killed by SIGKILL"):
        run_isolated(work)
