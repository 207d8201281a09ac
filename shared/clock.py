"""The one clock: every "now" in hostpatrol is a caller's argument or comes from here.

Code that needs the time takes ``now`` (a datetime) or ``clock`` (a :data:`Clock`) as a
parameter whose default is :func:`utcnow`, so a test hands in the instant it needs.

For the test suite's shifted-clock runs only, the environment variable
``HOSTPATROL_TEST_CLOCK_SHIFT`` (whole seconds, may be negative) moves this clock and
nothing else: the agent, the collector and every process they start read the same shifted
time, while the kernel's clock (file times, timeouts, sleeps) stays real. A process whose
clock is shifted says so once in its log. See docs of the test command (`make test`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache

Clock = Callable[[], datetime]
SHIFT_ENV = "HOSTPATROL_TEST_CLOCK_SHIFT"
MAX_SHIFT = timedelta(days=366 * 200)

log = logging.getLogger("hostpatrol.clock")


class ClockShiftError(ValueError):
    """``HOSTPATROL_TEST_CLOCK_SHIFT`` is set to something that is not a sane shift."""


@cache
def shift() -> timedelta:
    """The test-only shift of this process's clock (zero unless the variable is set)."""
    text = os.environ.get(SHIFT_ENV, "").strip()
    if not text:
        return timedelta(0)
    try:
        seconds = int(text)
    except ValueError as e:
        msg = f"{SHIFT_ENV}={text!r}: expected a whole number of seconds, e.g. 946080000"
        raise ClockShiftError(msg) from e
    delta = timedelta(seconds=seconds)
    if abs(delta) > MAX_SHIFT:
        msg = f"{SHIFT_ENV}={text!r}: a shift beyond 200 years is not a test of anything"
        raise ClockShiftError(msg)
    log.warning("test clock shifted by %s s (%s): not for production", seconds, SHIFT_ENV)
    return delta


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (shifted only in the shifted-clock test runs)."""
    return datetime.now(UTC) + shift()


def system_now() -> datetime:
    """The kernel's clock, never shifted: for what the OS itself checks against it.

    A certificate's validity is judged by OpenSSL, and a file's times are set by the
    kernel; both must be compared with this clock, not with :func:`utcnow`.
    """
    return datetime.now(UTC)

