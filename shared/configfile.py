"""Strict YAML configuration: typed fields, unknown keys refused with file, line and a hint.

Nothing in a config file is ever executed; ``yaml.SafeLoader`` only.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SharedError


class ConfigError(SharedError):
    """A configuration file is unreadable or does not match its schema."""


@dataclass(frozen=True, slots=True)
class Field:
    """One setting: accepted type(s), default, a line of documentation, nested fields."""

    type: type | tuple[type, ...]
    default: Any = None
    doc: str = ""
    children: Mapping[str, Field] | None = None
    choices: tuple[Any, ...] | None = None
    free_keys: bool = False  # a mapping whose keys are user-chosen (e.g. per-check options)
    value_fields: Mapping[str, Field] | None = field(default=None)


def _lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    out[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _lines(value_node, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, f"{prefix}[{i}]", out)


def load_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """Read a YAML file; return its data and a dotted-path → line number map."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read: {e}"
        raise ConfigError(msg) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        msg = f"{where}: not valid YAML: {getattr(e, 'problem', e)}"
        raise ConfigError(msg) from e
    lines: dict[str, int] = {}
    if node is not None:
        _lines(node, "", lines)
    return data, lines


def _type_name(t: type | tuple[type, ...]) -> str:
    types = t if isinstance(t, tuple) else (t,)
    names = {dict: "mapping", list: "list", str: "string", int: "integer", float: "number",
             bool: "true/false", type(None): "null"}
    return " or ".join(names.get(x, x.__name__) for x in types)


def _is_instance(value: Any, t: type | tuple[type, ...]) -> bool:
    types = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def validate(data: Any, spec: Mapping[str, Field], *, source: str = "config",
             lines: Mapping[str, int] | None = None, prefix: str = "") -> dict[str, Any]:
    """Check ``data`` against ``spec``; return it with defaults filled; raise ConfigError."""
    lines = lines or {}

    def where(path: str) -> str:
        line = lines.get(path) or lines.get(prefix) or None
        return f"{source}:{line}" if line else source

    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{where(prefix)}: {prefix or 'top level'} must be a mapping"
        raise ConfigError(msg)
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in spec:
            hint = difflib.get_close_matches(str(key), list(spec), n=1) or [
                k for k in spec if str(key) in k or k in str(key)][:1]
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            known = ", ".join(sorted(spec))
            msg = f"{where(path)}: {path}: unknown option {key!r}{suggestion} (known: {known})"
            raise ConfigError(msg)
        f = spec[key]
        if value is None and f.children is not None:
            value = {}  # an empty section (`key:` alone) means its defaults
        elif value is None and f.default is None and type(None) not in (
            f.type if isinstance(f.type, tuple) else (f.type,)
        ):
            out[key] = None
            continue
        if not _is_instance(value, f.type):
            msg = f"{where(path)}: {path}: expected {_type_name(f.type)}, got {value!r}"
            raise ConfigError(msg)
        if f.choices is not None and value not in f.choices:
            msg = f"{where(path)}: {path}: must be one of {', '.join(map(str, f.choices))}"
            raise ConfigError(msg)
        if f.children is not None:
            value = validate(value, f.children, source=source, lines=lines, prefix=path)
        elif f.value_fields is not None:
            value = {k: validate(v, f.value_fields, source=source, lines=lines,
                                 prefix=f"{path}.{k}") for k, v in value.items()}
        out[key] = value
    for key, f in spec.items():
        if key not in out:
            if f.children is not None:
                out[key] = validate({}, f.children, source=source, lines=lines,
                                    prefix=f"{prefix}.{key}" if prefix else key)
            else:
                out[key] = f.default() if callable(f.default) else f.default
    return out


def load(path: Path, spec: Mapping[str, Field]) -> dict[str, Any]:
    """Load and validate a YAML config file."""
    data, lines = load_yaml(path)
    return validate(data, spec, source=str(path), lines=lines)
