"""daemon: keep schedules in one long-running process; SIGHUP reloads, SIGTERM stops.

Between cycles it sleeps until the next check is due or, while reports wait in the
spool after a failed delivery, until the next attempt (exponential backoff with jitter,
never before a collector's ``Retry-After``). It never listens on a port.

The sleeping process stays small: each cycle (and the check that a new configuration
makes a working agent) runs in a forked child (``isolate``) that imports the checks'
run, the HTTPS client and signing, does the work under the run lock, and exits. A child
that crashes costs one cycle, not the daemon.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError
from hostpatrol.shared.report import format_time

from . import crashlog
from .config import AgentConfig
from .isolate import ChildFailed, run_isolated
from .pacing import MAX_SLEEP
from .state import StateError

log = logging.getLogger("hostpatrol.agent.daemon")


class AgentUnusable(StateError):
    """The configuration, state dir or key does not make a working agent (says why)."""


def _probe(config: AgentConfig, registry: Mapping[str, type[Any]]) -> dict[str, str]:
    from .daemon_step import probe  # in the child only: it imports the whole agent

    return probe(config, registry)


def _step(config: AgentConfig, registry: Mapping[str, type[Any]],
          clock: Callable[[], datetime]) -> float:
    from .daemon_step import step  # in the child only

    return step(config, registry, clock)


class Daemon:
    """The scheduling loop; ``load_config`` is called at start and on every SIGHUP."""

    def __init__(self, load_config: Callable[[], AgentConfig],
                 registry: Mapping[str, type[Any]],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.load_config = load_config
        self.registry = dict(registry)
        self.clock = clock
        self.wake = threading.Event()
        self.stopping = False
        self.reload_wanted = False
        self.config = load_config()
        self.ident = self._open(self.config)

    def _open(self, config: AgentConfig) -> dict[str, str]:
        """Enrollment id and server when ``config`` makes a working agent; else raise."""
        try:
            answer = run_isolated(partial(_probe, config, self.registry))
        except ChildFailed as e:
            raise AgentUnusable(str(e)) from e
        if "error" in answer:
            raise AgentUnusable(answer["error"])
        return answer

    def _on_term(self, signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping after the current step", signal.Signals(signum).name)
        self.stopping = True
        self.wake.set()

    def _on_hup(self, _signum: int, _frame: Any) -> None:
        self.reload_wanted = True
        self.wake.set()

    def reload(self) -> None:
        """Load agent.yaml again; keep the running config when the new one is bad."""
        self.reload_wanted = False
        try:
            config = self.load_config()
            ident = self._open(config)
        except (ConfigError, StateError, SharedError, OSError) as e:
            log.error("reload failed, keeping the previous configuration: %s", e)
            return
        self.config, self.ident = config, ident
        log.info("configuration reloaded source=%s", config.source)

    def step(self) -> float:
        """Run one cycle (in a child); return the seconds to sleep before the next."""
        try:
            return float(run_isolated(partial(_step, self.config, self.registry,
                                              self.clock)))
        except ChildFailed as e:
            log.error("cycle failed: %s", e)
            root = self.config.state_dir
            if not crashlog.unfinished(root):  # else the next run records it, knowing more
                crashlog.record(root, "daemon", str(e))
            return MAX_SLEEP

    def run(self) -> int:
        """Loop until SIGTERM/SIGINT; exit code 0 on a clean stop."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_hup)
        log.info("daemon started agent=%s collector=%s", self.ident["agent_id"],
                 self.ident["server"])
        while not self.stopping:
            if self.reload_wanted:
                self.reload()
            delay = self.step()
            if self.stopping:
                break
            log.info("sleeping %.0fs (until %s)", delay,
                     format_time(self.clock() + timedelta(seconds=delay)))
            self.wake.wait(delay)
            self.wake.clear()
        log.info("daemon stopped")
        return 0
