"""ostext: the one rule for text from the OS — nothing lost, nothing that breaks the wire.

The OS hands over bytes that need not be UTF-8: a process name set with
``prctl(PR_SET_NAME)``, a file name, a log line, a package description. The rule:

- **Bytes** read from the OS (command output, files, ``/proc``, ``/sys``) are decoded by
  :func:`decode`: UTF-8 (on Windows the ANSI code page, as text-mode pipes always did),
  each byte that is not part of valid text shown as the four characters ``\\xNN``
  (lower-case hex). The text is valid Unicode, shows what was there, and an admin can
  match it with bash's ``$'...'`` quoting (``grep -a $'ev\\xffil'``, ``ls -b`` shows the
  same bytes in octal).
- **Strings** Python's OS APIs already decoded (``os.listdir``, ``glob``, ``pwd``,
  psutil's process names and mount points) carry undecodable bytes as lone surrogates
  (PEP 383 ``surrogateescape``). A check keeps them so while it talks to the OS with them
  (``statvfs`` needs the real path); :func:`visible` turns them into the same ``\\xNN``
  form, and the runner applies :func:`visible_tree` to every result as it leaves its check.
- Where a name is evidence an admin matches on the host (a listening process, a backup
  file), the check adds the exact bytes in base64 beside it (:func:`raw_b64`;
  ``process_bytes``, ``newest_path_bytes``), present only when the name was not UTF-8.

A literal backslash is left alone, so ``\\xNN`` in the text may also have been typed as
such; the ``*_bytes`` field settles it where it matters.
"""

from __future__ import annotations

import base64
import locale
import re
import sys
from pathlib import Path
from typing import Any

ERRORS = "backslashreplace"  # the decode error handler: an undecodable byte → \xNN
_SURROGATE = re.compile("[\ud800-\udfff]")


def encoding() -> str:
    """What the OS's text is in: UTF-8, or the ANSI code page on Windows."""
    return locale.getpreferredencoding(False) if sys.platform == "win32" else "utf-8"


def decode(raw: bytes) -> str:
    """OS bytes as text: valid UTF-8 kept, every other byte shown as ``\\xNN``."""
    return raw.decode(encoding(), ERRORS)


def read_text(path: str | Path, limit: int | None = None) -> str:
    """A file's first ``limit`` bytes (all when None) decoded by the rule; OSError passes."""
    with open(path, "rb") as f:
        return decode(f.read(-1 if limit is None else limit))


def _show(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: one undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"  # an unpaired UTF-16 surrogate (Windows names can hold one)


def visible(text: str) -> str:
    """A string from an OS API with its undecodable bytes (lone surrogates) as ``\\xNN``."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(_show, text)


_REPR_BYTE = re.compile(r"\\udc([89a-f][0-9a-f])")


def visible_message(text: str) -> str:
    """An exception's text by the rule: its file names, quoted with ``repr``, show an
    undecodable byte as ``\\udcNN``; that too becomes ``\\xNN``."""
    return _REPR_BYTE.sub(r"\\x\1", visible(text))


def raw_b64(text: str | None) -> str | None:
    """The exact bytes behind an OS API string, base64, when it was not valid UTF-8."""
    if text is None or not _SURROGATE.search(text):
        return None
    raw = text.encode("utf-8", "surrogateescape") if all(
        0xDC80 <= ord(c) <= 0xDCFF for c in _SURROGATE.findall(text)) else \
        text.encode("utf-8", "surrogatepass")
    return base64.b64encode(raw).decode("ascii")


def visible_tree(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, tuples, scalars) with every string visible."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(k) if isinstance(k, str) else k: visible_tree(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_tree(v) for v in value]
    return value
