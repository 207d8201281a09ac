"""What every check is: a name, a default schedule, options, and a ``collect`` method.

A check module holds pure parsers plus one thin ``Check`` subclass that feeds them
from the operating system. OS access is injected (``run`` for commands, plus whatever
else the subclass takes), so tests hand in recorded output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..commands import Runner, run_command


class CheckSkipped(Exception):
    """The check does not apply here (e.g. no package manager it knows); says why."""


class CheckFailed(Exception):
    """The check applies here but cannot establish its facts; the message says why."""


@dataclass(frozen=True, slots=True)
class Option:
    """One tunable of a check: its type, default and a line of documentation."""

    type: type | tuple[type, ...]
    default: Any
    doc: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``collect`` returns: a local status and the check's ``data``."""

    status: str
    data: dict[str, Any] = field(default_factory=dict)


class Check:
    """Base class for checks. Subclasses set the class attributes and ``collect``."""

    name: ClassVar[str]
    schedule: ClassVar[str] = "weekly"
    timeout: ClassVar[float] = 60.0
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        state_dir: Path | None = None,
        run: Runner = run_command,
    ) -> None:
        merged = {k: opt.default for k, opt in self.options.items()}
        merged.update(config or {})
        self.config: dict[str, Any] = merged
        self.state_dir = state_dir
        self.run = run

    def collect(self) -> Outcome:
        """Gather the data; raise CheckSkipped when the check does not apply."""
        raise NotImplementedError

    def commit(self) -> bool:
        """Called once the report holding this run's result is safely spooled.

        Checks that read incrementally (log cursors) make their new position durable
        here, so a crash before spooling re-reads rather than loses lines. Returns
        whether anything was committed.
        """
        return False


def worst(*statuses: str) -> str:
    """The most severe of several local statuses (ok < warn < fail)."""
    order = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 2}
    return max(statuses, key=lambda s: order[s], default="ok")
