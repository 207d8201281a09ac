"""Load, store and fetch policy versions; the current one is the newest stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
import yaml
from hostpatrol.shared.configfile import ConfigError, load_yaml

from ..store.schema import policy_versions
from .model import Policy
from .validation import PolicyError, build_policy

DEFAULT_SOURCE = "(packaged default policy)"
_CACHE: dict[tuple[int, str], Policy] = {}  # (version, sha256) → parsed policy
_PINNED = "hostpatrol.policy.pinned"  # Connection.info key: see pinned()


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored policy version (without its text)."""

    version: int
    sha256: str
    source: str
    loaded_by: str
    loaded_at: datetime
    changed: bool = True


def default_text() -> str:
    """The packaged default policy (a copy of configs/policy.yaml)."""
    return resources.files("hostpatrol.collector.policy").joinpath(
        "default.yaml").read_text(encoding="utf-8")


def _walk(node: yaml.Node, prefix: str, out: dict[str, int], seen: set[int]) -> None:
    """Dotted path → line, the same map as ``configfile.load_yaml`` gives."""
    out[prefix] = node.start_mark.line + 1
    if id(node) in seen:  # an alias: walked once, or nested aliases cost exponential time
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _walk(value, f"{prefix}.{key.value}" if prefix else str(key.value), out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{prefix}[{i}]", out, seen)


def _lines(text: str) -> dict[str, int]:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    out: dict[str, int] = {}
    if node is not None:
        _walk(node, "", out, set())
    return out


def parse_text(text: str, *, source: str, version: int = 0) -> Policy:
    """Validate YAML text into a Policy (errors carry ``source:line``)."""
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
        lines = _lines(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        msg = f"{where}: not valid YAML: {getattr(e, 'problem', e)}"
        raise PolicyError(msg) from e
    try:
        return build_policy(data, source=source, lines=lines, version=version,
                            sha256=sha256_text(text))
    except PolicyError:
        raise
    except ConfigError as e:  # from the shared strict validator: same message, our type
        raise PolicyError(str(e)) from e


def load_file(path: Path) -> tuple[str, Policy]:
    """Read and validate a policy file; return its text and the policy."""
    load_yaml(path)  # readable, YAML: clear errors with the file name
    text = Path(path).read_text(encoding="utf-8")
    return text, parse_text(text, source=str(path))


def sha256_text(text: str) -> str:
    """SHA-256 hex of the policy text as loaded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store(conn: sa.Connection, text: str, *, source: str, loaded_by: str,
          now: datetime) -> Stored:
    """Validate and keep ``text`` as the next version; unchanged text adds no version."""
    parse_text(text, source=source)
    digest = sha256_text(text)
    latest = conn.execute(sa.select(policy_versions).order_by(
        policy_versions.c.version.desc()).limit(1)).first()
    if latest is not None and latest.sha256 == digest:
        return Stored(latest.version, digest, latest.source, latest.loaded_by,
                      latest.loaded_at, changed=False)
    version = (latest.version if latest is not None else 0) + 1
    conn.execute(policy_versions.insert().values(
        version=version, sha256=digest, yaml_text=text, source=source[:255],
        loaded_by=loaded_by[:64], loaded_at=now))
    return Stored(version, digest, source, loaded_by, now)


@cache
def _head_query() -> sa.Select:
    # built once: every ingested report asks for the head, and building costs more than running
    return (sa.select(policy_versions.c.version, policy_versions.c.sha256)
            .order_by(policy_versions.c.version.desc()).limit(1))


@contextmanager
def pinned(conn: sa.Connection) -> Iterator[None]:
    """Within: :func:`current` on ``conn`` reads the policy once and answers with it again.

    For one transaction that stores no policy (ingest: its rules and its answers).
    """
    conn.info[_PINNED] = None
    try:
        yield
    finally:
        if not conn.invalidated:  # else the info went with the lost DBAPI connection
            conn.info.pop(_PINNED, None)


def current(conn: sa.Connection) -> Policy:
    """The newest stored policy (parsed once per process); the packaged default if none."""
    policy = conn.info.get(_PINNED)
    if policy is not None:
        return policy
    policy = _current(conn)
    if _PINNED in conn.info:
        conn.info[_PINNED] = policy
    return policy


def _current(conn: sa.Connection) -> Policy:
    head = conn.execute(_head_query()).first()
    key = (head.version, head.sha256) if head is not None else (0, "")
    policy = _CACHE.get(key)
    if policy is not None:
        return policy
    if head is None:
        policy = parse_text(default_text(), source=DEFAULT_SOURCE, version=0)
    else:
        text = conn.execute(sa.select(policy_versions.c.yaml_text).where(
            policy_versions.c.version == head.version)).scalar_one()
        try:
            policy = parse_text(text, source=f"policy version {head.version}",
                                version=head.version)
        except ConfigError as e:  # validated when stored: only a newer code version can fail
            msg = f"stored policy version {head.version} no longer validates: {e}"
            raise PolicyError(msg) from e
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[key] = policy
    return policy


def text_of(conn: sa.Connection, version: int | None = None) -> tuple[int, str]:
    """A stored version's YAML text (newest when ``version`` is None)."""
    q = sa.select(policy_versions.c.version, policy_versions.c.yaml_text)
    q = (q.where(policy_versions.c.version == version) if version is not None
         else q.order_by(policy_versions.c.version.desc()).limit(1))
    row = conn.execute(q).first()
    if row is None:
        return 0, default_text()
    return row.version, row.yaml_text


def history(conn: sa.Connection) -> list[Stored]:
    """Every stored version, newest first."""
    rows = conn.execute(sa.select(policy_versions).order_by(
        policy_versions.c.version.desc())).all()
    return [Stored(r.version, r.sha256, r.source, r.loaded_by, r.loaded_at) for r in rows]
