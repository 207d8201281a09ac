"""Reading check data by dotted paths, iterating items, filtering them by simple globs."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

MISSING = object()


def get(data: Any, path: str | None, default: Any = None) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; ``default`` when any step is absent."""
    if not path:
        return data
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and isinstance(value, str):
        return fnmatch.fnmatchcase(value, wanted)
    if isinstance(wanted, list):
        return any(_matches(value, w) for w in wanted)
    return value == wanted


def items(data: Mapping[str, Any], path: str | None,
          match: Mapping[str, Any] | None = None) -> list[Any]:
    """The list at ``path`` (``[data]`` when no path), filtered by ``match``."""
    found = [data] if path is None else get(data, path, [])
    if not isinstance(found, list):
        return []
    if not match:
        return found
    return [it for it in found
            if all(_matches(get(it, k) if isinstance(it, Mapping) else it, v)
                   for k, v in match.items())]


def subject_of(item: Any, field: str | None, default: str = "-") -> str:
    """The subject an item stands for (a field, the item itself, or ``default``)."""
    if field is None:
        if isinstance(item, str | int | float):
            return str(item)
        return default
    value = get(item, field)
    return default if value is None else str(value)[:512]
