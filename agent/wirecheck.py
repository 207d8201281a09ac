"""wirecheck: would the collector take this check result? Checked before the report is signed.

The collector refuses a whole report (422) when one result's ``data`` breaks its check's
JSON schema (``hostpatrol.shared.schemas``), so one odd result would cost every other
check of the run and the heartbeat with them. The runner asks :func:`problem` first and
turns such a result into an ``error`` result naming the place and the reason.

The agent carries only its four dependencies, so this is a small validator for the
JSON Schema keywords our schemas use (the collector compiles the same files with
fastjsonschema); a schema using any other keyword fails here loudly, and a test holds
the two to the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

from hostpatrol.shared.schemas import load_schema, schema_names

ANNOTATIONS = frozenset({"$schema", "$defs", "title", "description", "default", "examples"})
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


class Invalid(Exception):
    """Where and why a value breaks its schema."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'data'}: {message}")
        self.path = path


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class _Validator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def check(self, schema: Any, value: Any, path: str) -> None:
        if schema is True or schema == {}:
            return
        if schema is False:
            raise Invalid(path, "no value is allowed here")
        for key, arg in schema.items():
            if key in ANNOTATIONS:
                continue
            rule = getattr(self, "k_" + key.lstrip("$"), None)
            if rule is None:
                msg = f"schema keyword {key!r} is not supported by the agent's check"
                raise ValueError(msg)
            rule(arg, value, path, schema)

    def k_ref(self, ref: str, value: Any, path: str, _s: Any) -> None:
        node: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        self.check(node, value, path)

    def k_type(self, arg: Any, value: Any, path: str, _s: Any) -> None:
        names = arg if isinstance(arg, list) else [arg]
        if not any(TYPES[n](value) for n in names):
            raise Invalid(path, f"is not of type {' or '.join(names)}")

    def k_enum(self, arg: list[Any], value: Any, path: str, _s: Any) -> None:
        if not any(_equal(value, a) for a in arg):
            raise Invalid(path, f"must be one of {arg}")

    def k_const(self, arg: Any, value: Any, path: str, _s: Any) -> None:
        if not _equal(value, arg):
            raise Invalid(path, f"must be {arg!r}")

    def _number(self, value: Any) -> bool:
        return TYPES["number"](value)

    def k_minimum(self, arg: float, value: Any, path: str, _s: Any) -> None:
        if self._number(value) and value < arg:
            raise Invalid(path, f"is below the minimum {arg}")

    def k_maximum(self, arg: float, value: Any, path: str, _s: Any) -> None:
        if self._number(value) and value > arg:
            raise Invalid(path, f"is above the maximum {arg}")

    def k_exclusiveMinimum(self, arg: float, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if self._number(value) and value <= arg:
            raise Invalid(path, f"must be above {arg}")

    def k_exclusiveMaximum(self, arg: float, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if self._number(value) and value >= arg:
            raise Invalid(path, f"must be below {arg}")

    def k_maxLength(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, str) and len(value) > arg:
            raise Invalid(path, f"is longer than {arg} characters ({len(value)})")

    def k_minLength(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, str) and len(value) < arg:
            raise Invalid(path, f"is shorter than {arg} characters")

    def k_pattern(self, arg: str, value: Any, path: str, _s: Any) -> None:
        if isinstance(value, str) and not _regex(arg).search(value):
            raise Invalid(path, f"does not match {arg!r}")

    def k_format(self, arg: str, value: Any, path: str, _s: Any) -> None:
        if arg != "date-time":
            msg = f"schema format {arg!r} is not supported by the agent's check"
            raise ValueError(msg)
        if isinstance(value, str) and not _date_time(value):
            raise Invalid(path, "is not an RFC 3339 date-time")

    def k_maxItems(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, list) and len(value) > arg:
            raise Invalid(path, f"has more than {arg} items ({len(value)})")

    def k_minItems(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, list) and len(value) < arg:
            raise Invalid(path, f"has fewer than {arg} items")

    def k_uniqueItems(self, arg: bool, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if arg and isinstance(value, list):
            for i, a in enumerate(value):
                if any(_equal(a, b) for b in value[:i]):
                    raise Invalid(path, "has repeated items")

    def k_items(self, arg: Any, value: Any, path: str, _s: Any) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.check(arg, item, f"{path}[{i}]")

    def k_properties(self, arg: dict[str, Any], value: Any, path: str, _s: Any) -> None:
        if isinstance(value, dict):
            for name, sub in arg.items():
                if name in value:
                    self.check(sub, value[name], f"{path}.{name}" if path else name)

    def k_patternProperties(self, arg: dict[str, Any], value: Any, path: str,  # noqa: N802
                            _s: Any) -> None:
        if isinstance(value, dict):
            for pattern, sub in arg.items():
                for name, item in value.items():
                    if _regex(pattern).search(name):
                        self.check(sub, item, f"{path}.{name}" if path else name)

    def k_additionalProperties(self, arg: Any, value: Any, path: str,  # noqa: N802
                               schema: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            return
        named = schema.get("properties", {})
        patterns = [_regex(p) for p in schema.get("patternProperties", {})]
        for name, item in value.items():
            if name in named or any(p.search(name) for p in patterns):
                continue
            if arg is False:
                raise Invalid(path, f"unknown field {name[:80]!r}")
            self.check(arg, item, f"{path}.{name}" if path else name)

    def k_required(self, arg: list[str], value: Any, path: str, _s: Any) -> None:
        if isinstance(value, dict):
            missing = [n for n in arg if n not in value]
            if missing:
                raise Invalid(path, f"missing field(s) {', '.join(missing)}")

    def k_maxProperties(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, dict) and len(value) > arg:
            raise Invalid(path, f"has more than {arg} fields ({len(value)})")

    def k_minProperties(self, arg: int, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, dict) and len(value) < arg:
            raise Invalid(path, f"has fewer than {arg} fields")

    def k_propertyNames(self, arg: Any, value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if isinstance(value, dict):
            for name in value:
                self.check(arg, name, f"{path}.{name}" if path else name)

    def _passes(self, schema: Any, value: Any, path: str) -> bool:
        try:
            self.check(schema, value, path)
        except Invalid:
            return False
        return True

    def k_anyOf(self, arg: list[Any], value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if not any(self._passes(s, value, path) for s in arg):
            raise Invalid(path, "matches none of the allowed forms")

    def k_oneOf(self, arg: list[Any], value: Any, path: str, _s: Any) -> None:  # noqa: N802
        if sum(self._passes(s, value, path) for s in arg) != 1:
            raise Invalid(path, "does not match exactly one allowed form")

    def k_allOf(self, arg: list[Any], value: Any, path: str, _s: Any) -> None:  # noqa: N802
        for s in arg:
            self.check(s, value, path)

    def k_not(self, arg: Any, value: Any, path: str, _s: Any) -> None:
        if self._passes(arg, value, path):
            raise Invalid(path, "matches a form that is not allowed")


_DATE_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[tT](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)"
                        r"(?:\.\d+)?(?:[+-](?:[01]\d|2[0-3]):?[0-5]\d|[zZ])\Z")


def _date_time(text: str) -> bool:
    """RFC 3339 date-time with a real calendar day (as the collector's validator checks)."""
    m = _DATE_TIME.match(text)
    if m is None:
        return False
    year, month, day = (int(g) for g in m.groups())
    try:
        date(year or 2000, month, day)  # year 0000 is a leap year, as 2000 (proleptic)
    except ValueError:
        return False
    return True


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def _validator(name: str) -> _Validator | None:
    return _Validator(load_schema(name)) if name in schema_names() else None


def problem(check: str, data: Any) -> str | None:
    """Why the collector would refuse ``data`` as ``check``'s result, or None (also None
    for a check without a schema: the collector takes its data as it is)."""
    validator = _validator(check)
    if validator is None:
        return None
    try:
        validator.check(validator.root, data, "")
    except Invalid as e:
        return str(e)
    except RecursionError:
        return "data nested too deeply"
    return None
