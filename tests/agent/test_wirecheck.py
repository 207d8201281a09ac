"""The agent's own schema check agrees with the collector's compiled validators.

The collector refuses a whole report (422) when one result breaks its schema; the agent
asks ``wirecheck`` first and sends such a result as an ``error`` instead. The two must
judge alike: real results of every check on this host, then mutated by hypothesis
(any JSON value anywhere, long strings, unknown and missing fields), get the same verdict
from ``wirecheck`` and from fastjsonschema, which the collector runs.
"""

from __future__ import annotations

import copy
from typing import Any

import fastjsonschema
import pytest
from hostpatrol.agent import wirecheck
from hostpatrol.agent.checks import BUILTIN_CHECKS
from hostpatrol.agent.runner import run_one
from hostpatrol.shared.schemas import load_schema, schema_names
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COLLECTOR = {name: fastjsonschema.compile({k: v for k, v in load_schema(name).items()
                                          if k != "$schema"}) for name in schema_names()}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False,
                                                                       allow_infinity=False)
    | st.text(max_size=80) | st.sampled_from(["", "2026-12-04T09:30:00Z", "x" * 300,
                                              "2026-02-30T00:00:00Z", "tcp", "ok"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)


@pytest.fixture(scope="module")
def real_results() -> dict[str, dict[str, Any]]:
    """Each check's data from this host, as the collector would get it."""
    out = {}
    for cls in BUILTIN_CHECKS:
        result = run_one(cls())
        if result.status not in ("error", "skipped"):
            out[cls.name] = result.data
    return out


def _collector_takes(name: str, data: Any) -> bool:
    try:
        COLLECTOR[name](data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def test_every_schema_is_one_the_agent_can_check() -> None:
    for name in schema_names():
        assert wirecheck.problem(name, {}) is not None  # every schema requires fields


def test_real_results_of_this_host_pass_both(real_results: dict[str, Any]) -> None:
    assert len(real_results) >= 10
    for name, data in real_results.items():
        assert wirecheck.problem(name, data) is None, name
        assert _collector_takes(name, data), name


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:5]):
            out += _paths(v, (*path, i))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_results_get_the_same_verdict(real_results: dict[str, Any], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(real_results)))
    doc = copy.deepcopy(real_results[name])
    path = data.draw(st.sampled_from(_paths(doc)))
    kind = data.draw(st.sampled_from(["replace", "drop", "add", "stretch"]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if not path:
        doc = data.draw(json_values)
    elif kind == "replace":
        parent[path[-1]] = data.draw(json_values)
    elif kind == "drop":
        del parent[path[-1]]
    elif kind == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=10))] = data.draw(json_values)
    elif isinstance(parent[path[-1]], str):
        parent[path[-1]] *= data.draw(st.integers(2, 400))
    verdict = wirecheck.problem(name, doc)
    assert (verdict is None) == _collector_takes(name, doc), (name, path, kind, verdict)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(schema_names()), value=json_values)
def test_any_value_gets_the_same_verdict(name: str, value: Any) -> None:
    assert (wirecheck.problem(name, value) is None) == _collector_takes(name, value)


def test_the_reason_names_the_place() -> None:
    data = {"listening": [{"protocol": "tcp", "port": 22, "address": "127.0.0.1",
                           "family": "ipv4", "pid": 1, "process": "x" * 300, "user": None}],
            "truncated": False, "tcp_ports": [22], "udp_ports": [], "owner_unknown": 0,
            "services": [], "services_down": [], "error": None}
    assert wirecheck.problem("ports", data) == \
        "listening[0].process: is longer than 256 characters (300)"
    assert wirecheck.problem("no_such_check", {"anything": 1}) is None


DATE_TIME = {"type": "object", "properties": {"t": {"type": "string", "format": "date-time"}}}


def _agent_takes(schema: dict[str, Any], value: Any) -> bool:
    try:
        wirecheck._Validator(schema).check(schema, value, "")
    except wirecheck.Invalid:
        return False
    return True


@pytest.mark.parametrize("text", ["2026-12-04T09:30:00Z", "2028-02-29T00:00:00.5+08:00",
                                  "2026-02-29T00:00:00Z", "0000-02-29T23:59:60-0130",
                                  "2026-12-04 09:30:00Z", "2026-12-04T24:00:00Z",
                                  "2026-13-01T00:00:00Z", "2026-12-04T09:30:00"])
def test_date_times_are_judged_as_the_collector_judges_them(text: str) -> None:
    try:
        fastjsonschema.compile(DATE_TIME)({"t": text})
        collector = True
    except fastjsonschema.JsonSchemaException:
        collector = False
    assert _agent_takes(DATE_TIME, {"t": text}) == collector
