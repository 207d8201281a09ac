"""The typed boundary of the wire format, driven by generated edge values of every type.

``loads_strict`` keeps every value within what can be stored and given back as JSON;
``validate_report`` keeps every time within a window of the report's own. Each property
either accepts (and then the value is within its limits) or refuses with a SchemaError
whose path names exactly the value that broke a limit — never any other exception.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from edges import (
    edge_times,
    in_limits,
    leaves,
    put,
    scalars,
    steps,
    texts,
    times,
    value_at,
    wire_text,
)
from forge import report_doc
from hostpatrol.shared.errors import SchemaError, WireValueError
from hostpatrol.shared.report import (
    MAX_RESULT_AGE,
    MAX_RESULT_LEAD,
    format_time,
    parse_time,
    validate_report,
)
from hostpatrol.shared.strictjson import dumps_compact, first_bad_value, loads_strict
from hypothesis import given, settings
from hypothesis import strategies as st

AGENT = "0b4f7e1c-5d2a-4d44-9a0e-3f0f2a8c1b11"
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

trees = st.recursive(scalars(), lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(texts(), inner, max_size=4), max_leaves=12)
def _scalars(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        return [*doc.keys(), *(v for x in doc.values() for v in _scalars(x))]
    if isinstance(doc, list):
        return [v for x in doc for v in _scalars(x)]
    return [doc]


def _outcome(work: Any) -> tuple[Any, SchemaError | None]:
    """(result, None) or (None, the SchemaError) of ``work()``; anything else propagates."""
    try:
        return work(), None
    except SchemaError as e:
        return None, e


@given(trees)
@settings(max_examples=500)
def test_any_document_is_parsed_within_limits_or_refused_at_the_bad_value(doc) -> None:
    text = wire_text(doc)
    parsed, error = _outcome(lambda: loads_strict(text))
    if error is None:
        assert all(in_limits(v) for v in _scalars(parsed)), text
        assert first_bad_value(parsed) is None
        assert loads_strict(dumps_compact(parsed)) == parsed  # storable, and JSON again
        return
    assert isinstance(error, WireValueError)
    assert not all(in_limits(v) for v in _scalars(doc)), text
    if error.message.startswith("key"):  # the path ends at the key itself
        *head, last = steps(error.path)
        holder = doc
        for step in head:
            holder = holder[step]
        assert last in holder
        assert not in_limits(last), error.path
    else:
        assert not in_limits(value_at(doc, error.path)), (error.path, text)


REPORT = report_doc(AGENT, created_at=NOW)
LEAVES = leaves(REPORT)


@given(st.sampled_from(LEAVES), scalars())
@settings(max_examples=800)
def test_any_field_of_a_report_set_to_any_edge_value(where: str, value: Any) -> None:
    doc = copy.deepcopy(REPORT)
    put(doc, where, value)
    report, error = _outcome(lambda: validate_report(loads_strict(wire_text(doc))))
    if error is not None:
        # refused at the field itself, or (a value of the wrong type inside a structure)
        # at an object holding it; a moved created_at leaves the results' times behind
        related = where == "created_at" and error.path.endswith(".started_at")
        assert where.startswith(error.path) or related, (where, error.path)
        if not in_limits(value):
            assert isinstance(error, WireValueError), error
            assert error.path == where, (where, error)
        return
    assert in_limits(value)
    assert loads_strict(dumps_compact(report.to_dict())) is not None
    for r in report.results:
        assert -MAX_RESULT_AGE <= r.started_at - report.created_at <= MAX_RESULT_LEAD


@given(times(), times())
@settings(max_examples=600)
def test_report_and_result_times_anywhere_in_the_calendar(created: str, started: str) -> None:
    doc = report_doc(AGENT, created_at=NOW)
    doc["created_at"], doc["results"][0]["started_at"] = created, started
    report, error = _outcome(lambda: validate_report(loads_strict(wire_text(doc))))
    if error is not None:
        assert error.path in ("created_at", "results[0].started_at"), error
        return
    assert report.created_at.tzinfo is UTC
    offset = report.results[0].started_at - report.created_at
    assert -MAX_RESULT_AGE <= offset <= MAX_RESULT_LEAD


@pytest.mark.parametrize("text", edge_times())
def test_times_at_the_ends_of_the_calendar_are_refused_or_parsed_never_overflow(text) -> None:
    parsed, error = _outcome(lambda: parse_time(text, "created_at"))
    if error is not None:
        assert error.path == "created_at"
        assert "outside the years 1 to 9999" in error.message
    else:
        assert parsed.tzinfo is UTC
        assert format_time(parsed)


def test_result_window_is_relative_to_the_reports_own_time() -> None:
    for offset, ok in ((-MAX_RESULT_AGE, True), (-MAX_RESULT_AGE - timedelta(seconds=1), False),
                       (MAX_RESULT_LEAD, True), (MAX_RESULT_LEAD + timedelta(seconds=1), False),
                       (timedelta(days=3000 * 365), False)):
        doc = report_doc(AGENT, created_at=NOW)
        doc["results"][0]["started_at"] = (NOW + offset).isoformat()
        if ok:
            validate_report(doc)
            continue
        with pytest.raises(SchemaError) as info:
            validate_report(doc)
        assert info.value.path == "results[0].started_at"
        assert "before and 10 minutes after the report's created_at" in info.value.message


@pytest.mark.parametrize(("text", "path", "message"), [
    ('{"a":{"b":[1,2,9223372036854775808]}}', "a.b[2]", "64-bit"),
    ('{"a":-9223372036854775809}', "a", "64-bit"),
    ('{"a":[' + "9" * 5000 + "]}", "a[0]", "5000 digits"),
    ('{"x":{"y":-1e400}}', "x.y", "not finite"),
    ('{"x":1' + "0" * 400 + '.0}', "x", "not finite"),
    ('{"s":"ok\\udfff"}', "s", "lone UTF-16 surrogate"),
    ('{"s":["\\udc00\\ud800"]}', "s[0]", "lone UTF-16 surrogate"),
])
def test_each_limit_names_the_path(text: str, path: str, message: str) -> None:
    with pytest.raises(WireValueError) as info:
        loads_strict(text)
    assert info.value.path == path
    assert message in info.value.message
    with pytest.raises(ValueError, match=message):  # callers refusing any bad JSON refuse it
        loads_strict(text.encode())


def test_within_the_limits_values_come_back_exactly() -> None:
    text = ('{"max":9223372036854775807,"min":-9223372036854775808,"big":1.7976931348623157e308,'
            '"tiny":5e-324,"pair":"\\ud83d\\ude00","u":"\u00e9"}')
    doc = loads_strict(text)
    assert doc == {"max": 2**63 - 1, "min": -(2**63), "big": 1.7976931348623157e308,
                   "tiny": 5e-324, "pair": "\U0001F600", "u": "é"}


def test_not_utf8_is_refused() -> None:
    with pytest.raises(ValueError, match="utf-8"):
        loads_strict('{"a": 1}'.encode("utf-16"))
