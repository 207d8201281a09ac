"""pacing: how long the daemon sleeps between cycles, and how long it waits for a held run lock.

Shared by the sleeping parent (``daemon``) and its forked child (``daemon_step``); it
imports nothing, so the parent stays small.
"""

from __future__ import annotations

MAX_SLEEP = 300.0
MIN_SLEEP = 1.0
LOCK_RETRY = 60.0
