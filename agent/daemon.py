"""daemon: keep schedules in one long-running process; SIGHUP reloads, SIGTERM stops.

Between cycles it sleeps until the next check is due or, while reports wait in the
spool after a failed delivery, until the next attempt (exponential backoff with jitter,
never before a collector's ``Retry-After``). It never listens on a port.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError
from hostpatrol.shared.report import format_time, utcnow

from .client import ClientError
from .config import AgentConfig
from .cycle import Agent, CycleResult, describe_next
from .delivery import backoff_seconds
from .state import StateError

log = logging.getLogger("hostpatrol.agent.daemon")
MAX_SLEEP = 300.0
MIN_SLEEP = 1.0
LOCK_RETRY = 60.0


class Daemon:
    """The scheduling loop; ``load_config`` is called at start and on every SIGHUP."""

    def __init__(self, load_config: Callable[[], AgentConfig],
                 registry: Mapping[str, type[Any]],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.load_config = load_config
        self.registry = registry
        self.clock = clock
        self.wake = threading.Event()
        self.stopping = False
        self.reload_wanted = False
        self.agent = Agent(load_config(), registry, out=log.info)

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
            self.agent = Agent(self.load_config(), self.registry, out=log.info)
        except (ConfigError, StateError, SharedError, OSError) as e:
            log.error("reload failed, keeping the previous configuration: %s", e)
            return
        log.info("configuration reloaded source=%s", self.agent.base_config.source)

    def step(self) -> float:
        """Run one cycle; return the seconds to sleep before the next."""
        now = self.clock()
        try:
            result = self.agent.cycle(now=now)
        except StateError as e:  # another run holds the lock
            log.warning("%s; retrying in %gs", e, LOCK_RETRY)
            return LOCK_RETRY
        except (ClientError, SharedError, OSError) as e:
            log.error("cycle failed: %s", e)
            return MAX_SLEEP
        self._log(result)
        return self.sleep_seconds(result, now)

    def sleep_seconds(self, result: CycleResult, now: datetime) -> float:
        """Until the next due check or the next delivery attempt, within bounds."""
        wake_at = min(result.next_due.values(), default=now + timedelta(seconds=MAX_SLEEP))
        delivery = result.delivery
        if delivery.remaining and delivery.error:
            settings = self.agent.base_config.settings["delivery"]
            failures = self.agent.delivery_state.load()["failures"]
            retry = now + timedelta(seconds=backoff_seconds(
                failures, settings["backoff_initial_seconds"],
                settings["backoff_max_seconds"]))
            if delivery.deferred_until is not None:
                retry = max(retry, delivery.deferred_until)
            wake_at = min(wake_at, retry)
        return max(MIN_SLEEP, min(MAX_SLEEP, (wake_at - self.clock()).total_seconds()))

    def _log(self, result: CycleResult) -> None:
        for line in result.reports + result.notes:
            log.info("%s", line)
        d = result.delivery
        log.info("delivered %d, duplicates %d, rejected %d, still spooled %d%s",
                 d.delivered, d.duplicates, d.dead_lettered, d.remaining,
                 f"; delivery incomplete: {d.error}" if d.error else "")
        upcoming = describe_next(result.next_due)[:1]
        if upcoming:
            log.info("next due: %s", upcoming[0])

    def run(self) -> int:
        """Loop until SIGTERM/SIGINT; exit code 0 on a clean stop."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_hup)
        log.info("daemon started agent=%s collector=%s", self.agent.enrollment.agent_id,
                 self.agent.enrollment.server)
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
