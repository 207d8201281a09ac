"""An exclusive, non-blocking lock on an open file, on POSIX and on Windows.

POSIX uses ``flock`` on the whole file. Windows uses ``msvcrt.locking`` on one byte far
past any data: Windows locks are mandatory, so locking the bytes that hold the pid hint
would stop others from reading it. Either way the lock belongs to this open file and
goes away when it is closed or the process dies, and a second ``lock`` on another open
file of the same path fails, in this process as in any other. The platform module is
imported when first used, so importing this module works everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

WINDOWS_LOCK_OFFSET = 1 << 30  # past the pid hint; locking beyond EOF is allowed


@contextmanager
def _at_lock_byte(fd: int) -> Iterator[None]:
    """Windows: seek to the locked byte, and back to where ``fd`` was afterwards."""
    here = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        yield
    finally:
        os.lseek(fd, here, os.SEEK_SET)


def lock(fd: int) -> None:
    """Take the exclusive lock on ``fd`` or raise BlockingIOError at once if it is held."""
    if sys.platform == "win32":
        import msvcrt

        with _at_lock_byte(fd):
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError as e:  # EACCES / EDEADLOCK: another open file holds it
                raise BlockingIOError(e.errno, "file is locked") from e
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def unlock(fd: int) -> None:
    """Release the lock taken by ``lock`` (closing ``fd`` releases it too)."""
    if sys.platform == "win32":
        import msvcrt

        with _at_lock_byte(fd):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
