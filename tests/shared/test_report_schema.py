"""The report envelope: what validates, and what each violation says."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import jsonschema
import pytest
from forge import report_doc
from hostpatrol.shared.configfile import ConfigError, Field, load
from hostpatrol.shared.errors import SchemaError
from hostpatrol.shared.report import format_time, validate_report
from hostpatrol.shared.schemas import load_schema, schema_names

AGENT = "0b4f7e1c-5d2a-4d44-9a0e-3f0f2a8c1b11"


def test_valid_report_round_trips() -> None:
    doc = report_doc(AGENT)
    report = validate_report(doc)
    assert report.agent_id == AGENT
    assert report.results[0].check == "disk"
    again = report.to_dict()
    assert again["results"][0]["data"] == doc["results"][0]["data"]
    assert validate_report(json.loads(json.dumps(again))) == report


def _mutate(path: str, value: object) -> dict:
    doc = copy.deepcopy(report_doc(AGENT))
    target = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(("path", "value", "where", "message"), [
    ("format", "hostpatrol.report/9", "format", "unsupported format"),
    ("agent_id", "not-a-uuid", "agent_id", "not a UUID"),
    ("agent_id", AGENT.upper(), "agent_id", "canonical"),
    ("report_id", KeyError, "", "missing field(s): report_id"),
    ("seq", -1, "seq", "between"),
    ("seq", True, "seq", "integer"),
    ("created_at", "2026-11-28 10:00", "created_at", "RFC 3339"),
    ("created_at", "2026-11-28T10:00:00", "created_at", "UTC offset"),
    ("schedule", "Weekly Run", "schedule", "must match"),
    ("results", {}, "results", "must be a list"),
    ("results.0.status", "great", "results[0].status", "must be one of"),
    ("results.0.check", "Disk", "results[0].check", "must match"),
    ("results.0.data", [], "results[0].data", "must be an object"),
    ("results.0.error", 5, "results[0].error", "string or null"),
    ("results.0.duration_ms", 10**12, "results[0].duration_ms", "between"),
    ("results.0.surprise", 1, "results[0]", "unknown field(s): surprise"),
    ("host.hostname", "a\x1bb", "host.hostname", "control characters"),
    ("host.serial", "x", "host", "unknown field(s): serial"),
    ("extra", 1, "", "unknown field(s): extra"),
])
def test_each_violation_names_its_path(path: str, value: object, where: str,
                                       message: str) -> None:
    with pytest.raises(SchemaError) as info:
        validate_report(_mutate(path, value))
    assert info.value.path == where
    assert message in info.value.message


def test_error_result_needs_a_reason_and_checks_are_unique() -> None:
    doc = report_doc(AGENT)
    doc["results"][0]["status"] = "error"
    with pytest.raises(SchemaError, match="must say what went wrong"):
        validate_report(doc)
    doc = report_doc(AGENT)
    doc["results"].append(copy.deepcopy(doc["results"][0]))
    with pytest.raises(SchemaError, match="more than once"):
        validate_report(doc)


def test_time_format_is_utc_millis_z() -> None:
    ts = datetime(2026, 11, 28, 9, 5, 7, 123456, tzinfo=UTC)
    assert format_time(ts) == "2026-11-28T09:05:07.123Z"


def test_every_schema_file_is_a_valid_json_schema() -> None:
    names = schema_names()
    assert {"disk", "inventory"} <= set(names)
    for name in names:
        jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_config_errors_name_file_line_and_hint(tmp_path) -> None:
    spec = {"checks": Field(dict, children={"disk": Field(dict, children={
        "warn_percent": Field(int, 85, "warn at")})})}
    path = tmp_path / "agent.yaml"
    path.write_text("checks:\n  disk:\n    warn: 80\n")
    with pytest.raises(ConfigError) as info:
        load(path, spec)
    text = str(info.value)
    assert f"{path}:3" in text
    assert "did you mean 'warn_percent'" in text
    path.write_text("checks:\n  disk:\n    warn_percent: high\n")
    with pytest.raises(ConfigError, match=r":3: checks\.disk\.warn_percent: expected integer"):
        load(path, spec)
    path.write_text("checks: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path, spec)
    path.write_text("checks:\n  disk: {}\n")
    assert load(path, spec)["checks"]["disk"]["warn_percent"] == 85


def test_config_never_executes_tags(tmp_path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("checks: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError):
        load(path, {"checks": Field(dict)})
    assert not (tmp_path / "pwned").exists()
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)).endswith("Z")


FAST_KEYWORDS = {  # what the collector's compiled validators (fastjsonschema) understand
    "$schema", "$defs", "$ref", "title", "description", "type", "properties",
    "additionalProperties", "required", "items", "enum", "const", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems",
    "maxItems", "uniqueItems", "pattern", "format", "maxProperties", "minProperties",
    "propertyNames", "anyOf", "oneOf", "allOf", "not", "default", "examples",
    "patternProperties",
}


def test_schemas_use_only_keywords_the_collector_compiles() -> None:
    def keywords(node, inside_properties=False):
        if isinstance(node, dict):
            for key, value in node.items():
                if not inside_properties:
                    yield key
                yield from keywords(value, inside_properties=key in (
                    "properties", "$defs", "patternProperties") and not inside_properties)
        elif isinstance(node, list):
            for item in node:
                yield from keywords(item)

    for name in schema_names():
        unknown = set(keywords(load_schema(name))) - FAST_KEYWORDS
        assert not unknown, f"{name}.json uses {unknown}"
