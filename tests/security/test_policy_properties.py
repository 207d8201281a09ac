"""Property tests (hypothesis) on the policy loader: whatever text an admin uploads, the
loader returns a Policy or raises PolicyError naming the file — nothing else, no hang."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.validation import PolicyError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOURCE = "upload.yaml"
DEFAULT = yaml.safe_load(loader.default_text())
FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)),
    max_leaves=12)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(DEFAULT)


def _set(doc: Any, path: tuple, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


def _parse(text: str) -> None:
    try:
        policy = loader.parse_text(text, source=SOURCE)
    except PolicyError as e:
        message = str(e)
    else:
        assert policy.rules is not None
        return
    assert message.startswith(SOURCE), message


def test_the_default_policy_loads() -> None:
    policy = loader.parse_text(loader.default_text(), source=SOURCE)
    assert len(policy.rules) >= 20


@FAST
@given(st.text(max_size=400))
def test_any_text_is_a_policy_or_a_policy_error(text: str) -> None:
    _parse(text)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_decoded_leniently(data: bytes) -> None:
    _parse(data.decode("utf-8", "replace"))


@FAST
@given(st.sampled_from(PATHS), values)
def test_replacing_any_value_of_the_default_is_validated(path: tuple, value: Any) -> None:
    _parse(yaml.safe_dump(_set(DEFAULT, path, value), allow_unicode=True))


@FAST
@given(st.sampled_from([p for p in PATHS if isinstance(p[-1], str)]),
       st.from_regex(r"[a-z_]{3,12}", fullmatch=True))
def test_an_unknown_key_anywhere_is_named_with_its_line(path: tuple, name: str) -> None:
    parent = path[:-1]
    doc = copy.deepcopy(DEFAULT)
    node = doc
    for step in parent:
        node = node[step]
    if not isinstance(node, dict) or name in node:
        return
    node[name] = 1
    if parent[:1] in (("groups",),) or (parent and parent[0] == "agents"):
        return  # free-form names (groups, checks, schedules) are allowed there
    with pytest.raises(PolicyError) as refused:
        loader.parse_text(yaml.safe_dump(doc), source=SOURCE)
    assert name in str(refused.value)
    assert str(refused.value).startswith(f"{SOURCE}:"), str(refused.value)


def _bomb(levels: int, at: str) -> str:
    lines = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
              for i in range(1, levels)]
    return "\n".join(lines) + f"\n{at}: *a{levels - 1}\n"


def test_nested_yaml_aliases_cost_linear_work() -> None:
    text = _bomb(9, "rules")  # 9**9 references if expanded
    assert len(loader._lines(text)) < 200  # each node walked once, not 387 million times
    _parse(text)
    _parse(_bomb(9, "owner"))
