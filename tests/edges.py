"""Values at the edges of their types, generated from the types' own limits, and the JSON
text an attacker would write for them (hypothesis strategies plus a few fixed lists).

The wire format's types are JSON's: integers, numbers, strings, and RFC 3339 times in
strings. Their edges are computed here from the limits that matter downstream — the
signed 64-bit range of SQL integer columns, the largest and smallest doubles, the UTF-16
surrogate block, the years 1 to 9999 of Python's datetime with the widest UTC offsets —
never copied from a list of known bad values.
"""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from hostpatrol.shared.strictjson import path_step
from hypothesis import strategies as st

INT64 = (-(2**63), 2**63 - 1)
SURROGATES = (0xD800, 0xDBFF, 0xDC00, 0xDFFF)  # high and low block, first and last
MAX_OFFSET = timedelta(hours=23, minutes=59)  # the widest offset fromisoformat takes


def edge_ints() -> list[int]:
    """Around the signed 64-bit limits and zero, plus one far beyond a double's range."""
    lo, hi = INT64
    return [0, -1, 1, hi - 1, hi, hi + 1, lo, lo + 1, lo - 1, 2**64, -(2**64),
            10 ** (sys.float_info.max_10_exp + 1)]


def edge_floats() -> list[float]:
    """The largest and smallest doubles, zeros, and the infinities (reached by overflow)."""
    big = sys.float_info.max
    return [big, -big, sys.float_info.min, math.ulp(0.0), 0.0, -0.0, math.inf, -math.inf]


def edge_texts() -> list[str]:
    """Lone surrogates at each end of both halves, a reversed pair, and a valid pair."""
    lone = [chr(c) for c in SURROGATES]
    return [*lone, "ok" + lone[0], lone[3] + lone[0], "\U0001F600", ""]


def edge_times() -> list[str]:
    """The first and last instants Python can hold, written with the widest offsets
    (their UTC equivalent falls outside years 1-9999), and the year 9999 itself."""
    out = []
    for moment in (datetime.min, datetime.max.replace(microsecond=0)):
        for sign in (1, -1):
            offset = sign * MAX_OFFSET
            out.append(moment.replace(tzinfo=_tz(offset)).isoformat())
    out.append(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).isoformat())
    out.append(datetime(1, 1, 1, tzinfo=UTC).isoformat())
    return out


def _tz(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


def ints() -> st.SearchStrategy[int]:
    """Any integer, weighted toward the edges."""
    return st.sampled_from(edge_ints()) | st.integers(min_value=-(2**70), max_value=2**70)


def floats() -> st.SearchStrategy[float]:
    """Any double, infinities included, weighted toward the edges."""
    return st.sampled_from(edge_floats()) | st.floats(allow_nan=False)


def texts() -> st.SearchStrategy[str]:
    """Text that may hold lone surrogates anywhere."""
    chars = st.characters(codec=None, categories=["Cs", "L", "N", "P", "Zs"])
    return st.sampled_from(edge_texts()) | st.text(chars, max_size=12)


def times() -> st.SearchStrategy[str]:
    """RFC 3339 strings across all of datetime's range and offsets."""
    offsets = st.integers(-MAX_OFFSET.seconds // 60, MAX_OFFSET.seconds // 60).map(
        lambda m: _tz(timedelta(minutes=m)))
    anywhere = st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(),
                         st.datetimes(min_value=datetime(1, 1, 1),
                                      max_value=datetime(9999, 12, 31, 23, 59)),
                         offsets)
    return st.sampled_from(edge_times()) | anywhere


def scalars() -> st.SearchStrategy[Any]:
    """Any edge value of any JSON type (times as strings)."""
    return ints() | floats() | texts() | times() | st.booleans() | st.none()


def in_limits(value: Any) -> bool:
    """Whether a scalar is one the wire accepts (64-bit, finite, valid Unicode)."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    return True


def wire_text(doc: Any) -> str:
    """The JSON a hostile agent writes for ``doc``: infinities as the overflowing ``1e400``,
    lone surrogates as ``\\uD800`` escapes, integers of any size in full."""
    if isinstance(doc, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{wire_text(v)}" for k, v in doc.items()) + "}"
    if isinstance(doc, list | tuple):
        return "[" + ",".join(wire_text(v) for v in doc) + "]"
    if isinstance(doc, float) and math.isinf(doc):
        return "1e400" if doc > 0 else "-1e400"
    return json.dumps(doc)  # ensure_ascii: a lone surrogate becomes its \\u escape


# Paths as the boundary writes them: a.b[2]["x.y"] (see strictjson.path_step)
STEP = re.compile(r'\.?([^.\[\]"\s\\]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def steps(path: str) -> list[Any]:
    """A path as the boundary writes it (``a.b[2]["x.y"]``), step by step; it must parse
    completely."""
    out, pos = [], 0
    while pos < len(path):
        m = STEP.match(path, pos)
        assert m is not None, (path, pos)
        key, index, quoted = m.groups()
        out.append(int(index) if index else json.loads(quoted) if quoted else key)
        pos = m.end()
    return out


def value_at(doc: Any, path: str) -> Any:
    """The value at ``path`` in ``doc``."""
    for step in steps(path):
        doc = doc[step]
    return doc


def leaves(doc: Any, path: str = "") -> list[str]:
    """The path of every scalar in ``doc``."""
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in leaves(v, path_step(path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in leaves(v, f"{path}[{i}]")]
    return [path]


def put(doc: Any, path: str, value: Any) -> None:
    """Set the value at ``path`` (which exists) in ``doc``."""
    *head, last = steps(path)
    for step in head:
        doc = doc[step]
    doc[last] = value


