"""daemon_step: what the daemon's child does — open the agent, run one cycle, pick a sleep.

Imported only in the child (it pulls in the checks' run, the HTTPS client and signing),
so the sleeping parent stays small. Every function returns plain JSON-able data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError

from . import crashlog
from .config import AgentConfig
from .cycle import Agent, CycleResult, describe_next
from .delivery import backoff_seconds
from .pacing import LOCK_RETRY, MAX_SLEEP, MIN_SLEEP
from .state import LockHeld, StateError

log = logging.getLogger("hostpatrol.agent.daemon")
OPEN_ERRORS = (ConfigError, StateError, SharedError, OSError)


def probe(config: AgentConfig, registry: Mapping[str, type[Any]]) -> dict[str, str]:
    """Whether config, state dir and key make an agent: its id and server, or the error."""
    try:
        agent = Agent(config, registry, out=log.info)
    except OPEN_ERRORS as e:
        return {"error": str(e)}
    return {"agent_id": agent.enrollment.agent_id, "server": agent.enrollment.server}


def step(config: AgentConfig, registry: Mapping[str, type[Any]],
         clock: Callable[[], datetime]) -> float:
    """Run one cycle; return the seconds to sleep before the next."""
    try:
        agent = Agent(config, registry, out=log.info)
    except OPEN_ERRORS as e:
        log.error("cycle failed: %s", e)
        crashlog.record(config.state_dir, "daemon", e)
        return MAX_SLEEP
    now = clock()
    try:
        result = agent.cycle(now=now)
    except LockHeld as e:  # another run holds the lock
        log.warning("%s; retrying in %gs", e, LOCK_RETRY)
        return LOCK_RETRY
    except Exception as e:  # noqa: BLE001 - recorded, told with the next report
        log.exception("cycle failed: %s", e)
        crashlog.record(config.state_dir, "daemon", e)
        return MAX_SLEEP
    log_result(result)
    return sleep_seconds(agent, result, now, clock)


def sleep_seconds(agent: Agent, result: CycleResult, now: datetime,
                  clock: Callable[[], datetime]) -> float:
    """Until the next due check or the next delivery attempt, within bounds."""
    wake_at = min(result.next_due.values(), default=now + timedelta(seconds=MAX_SLEEP))
    delivery = result.delivery
    if delivery.remaining and delivery.error:
        settings = agent.base_config.settings["delivery"]
        failures = agent.delivery_state.load()["failures"]
        retry = now + timedelta(seconds=backoff_seconds(
            failures, settings["backoff_initial_seconds"],
            settings["backoff_max_seconds"]))
        if delivery.deferred_until is not None:
            retry = max(retry, delivery.deferred_until)
        wake_at = min(wake_at, retry)
    return max(MIN_SLEEP, min(MAX_SLEEP, (wake_at - clock()).total_seconds()))


def log_result(result: CycleResult) -> None:
    """What the cycle did, as log lines."""
    for line in result.reports + result.notes:
        log.info("%s", line)
    d = result.delivery
    log.info("delivered %d, duplicates %d, rejected %d, still spooled %d%s",
             d.delivered, d.duplicates, d.dead_lettered, d.remaining,
             f"; delivery incomplete: {d.error}" if d.error else "")
    upcoming = describe_next(result.next_due)[:1]
    if upcoming:
        log.info("next due: %s", upcoming[0])
