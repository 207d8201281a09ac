"""Strict JSON: the one parser for what crosses a wire, with typed limits on every value.

Beyond what JSON forbids, :func:`loads_strict` refuses what could not be stored or given
back as valid JSON: duplicate keys, NaN and Infinity (written, or reached by overflow as
``1e400`` is), integers outside the signed 64-bit range (what SQL integer columns and
most JSON readers hold), lone UTF-16 surrogates (``"\\ud800"``: not Unicode, no UTF-8
form exists) and runaway nesting. A refused value raises :class:`WireValueError` naming
its path (``results[2].data.total_bytes``); text that is not JSON raises ValueError.

The limits cost almost nothing on the way in: numbers are checked by the parser's own
hooks as they are read, and strings are walked only when the text holds a ``\\uD8xx``
to ``\\uDFxx`` escape (the only way to write a surrogate in UTF-8 JSON). Finding the
path of a refused value re-reads the document, which only refused input pays for.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import WireValueError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_SAFE_DIGITS = 18  # every integer written with at most 18 digits fits in 64 bits
_MAX_KEY_SHOWN = 64
_PLAIN_KEY = re.compile(r"[^.\[\]\"\s\\]+")


class _Refused(ValueError):
    """A value over a limit, raised from inside the parser (its path is found after)."""


class _Huge:
    """An integer too long to convert (Python's own limit is 4300 digits)."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            msg = f"duplicate key {k!r}"
            raise ValueError(msg)
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def _int64(text: str) -> int:
    if len(text) <= _SAFE_DIGITS:
        return int(text)
    value = int(text) if len(text) <= 20 else None
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise _Refused
    return value


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused
    return value


def _any_int(text: str) -> int | _Huge:
    return int(text) if len(text) <= 20 else _Huge(text)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _shown(text: str) -> str:
    """Text as a path shows it: surrogates escaped (``\\ud800``), at most 64 characters."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:_MAX_KEY_SHOWN]


def path_step(path: str, key: str) -> str:
    """``path`` one key deeper: ``a.b``, or ``a["x.y"]`` for a key that is empty or holds
    a separator, quote or space (so that every path names one place)."""
    if _PLAIN_KEY.fullmatch(key) and not _has_surrogate(key):
        return f"{path}.{_shown(key)}" if path else _shown(key)
    return f"{path}[{_shown(json.dumps(key, ensure_ascii=False))}]"


class _BadKey:
    """A key found not to be valid Unicode, queued where document order reaches it."""

    __slots__ = ()


_BAD_KEY = _BadKey()


def _problem(value: Any) -> str | None:
    """What is wrong with one scalar, or None."""
    kind = type(value)
    if kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            return "integer outside the signed 64-bit range"
    elif kind is float:
        if not math.isfinite(value):
            return "number is not finite (NaN, Infinity or beyond the largest double)"
    elif kind is _Huge:
        return f"integer of {value.digits} digits is outside the signed 64-bit range"
    elif kind is str and _has_surrogate(value):
        return "text is not valid Unicode (a lone UTF-16 surrogate)"
    return None


def first_bad_value(doc: Any) -> tuple[str, str] | None:
    """(path, what is wrong) of the first value, in document order, beyond the limits.

    Works on any decoded document (also one built in memory); None when all is well.
    Iterative: a document nested as deep as the parser allows is walked without recursion.
    """
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            children = []
            for key, child in value.items():
                where = path_step(path, key if isinstance(key, str) else str(key))
                if isinstance(key, str) and _has_surrogate(key):
                    children.append((_BAD_KEY, where))  # reached before what it holds
                children.append((child, where))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(child, f"{path}[{i}]") for i, child in enumerate(value)]))
        elif value is _BAD_KEY:
            return path, "key is not valid Unicode (a lone UTF-16 surrogate)"
        else:
            problem = _problem(value)
            if problem is not None:
                return path, problem
    return None


def _refuse(doc: Any) -> None:
    found = first_bad_value(doc)
    if found is not None:
        raise WireValueError(path=found[0], message=found[1])


def _parse(text: str, **hooks: Any) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates,
                          parse_constant=_no_constants, **hooks)
    except RecursionError as e:
        msg = "JSON nested too deeply"
        raise ValueError(msg) from e


def loads_strict(data: bytes | bytearray | str) -> Any:
    """Parse UTF-8 JSON within the limits above; WireValueError or ValueError otherwise."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    try:
        doc = _parse(text, parse_float=_finite, parse_int=_int64)
    except _Refused:
        # read it again without the limits, only to say where the refused value is
        _refuse(_parse(text, parse_int=_any_int))
        raise  # not reached: the walk finds every value the hooks refuse
    if "\\ud" in text or "\\uD" in text:  # a surrogate escape: pairs are fine, lone ones not
        _refuse(doc)
    return doc


def dumps_compact(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON, as signed on the wire."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )
