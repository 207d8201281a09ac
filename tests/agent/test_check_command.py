"""`hostpatrol-agent check`: every check runs for real here; table, JSON and exit code agree."""

from __future__ import annotations

import json

import jsonschema
from harness import agent
from hostpatrol.agent.checks import BUILTIN_CHECKS
from hostpatrol.agent.summaries import SUMMARIES, summarize
from hostpatrol.shared.schemas import load_schema

EXIT = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 2}


def test_json_output_validates_and_exit_code_is_the_worst(tmp_path) -> None:
    proc = agent(tmp_path, "check", "--json", check=False)
    results = json.loads(proc.stdout)
    assert [r["check"] for r in results] == [c.name for c in BUILTIN_CHECKS]
    for r in results:
        assert r["status"] != "error", (r["check"], r["error"])
        if r["status"] not in ("skipped",):
            jsonschema.Draft202012Validator(load_schema(r["check"])).validate(r["data"])
    assert proc.returncode == max(EXIT[r["status"]] for r in results)


def test_table_has_a_summary_for_every_check(tmp_path) -> None:
    proc = agent(tmp_path, "check", check=False)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "TIME", "SUMMARY"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {c.name for c in BUILTIN_CHECKS}
    for name, line in rows.items():
        summary = line.split(" ms  ", 1)[1].strip() if " ms  " in line else ""
        assert summary, f"{name} has no summary: {line!r}"
    assert set(SUMMARIES) == {c.name for c in BUILTIN_CHECKS}


def test_named_checks_only_and_unknown_name(tmp_path) -> None:
    proc = agent(tmp_path, "check", "disk", "--json", check=False)
    assert [r["check"] for r in json.loads(proc.stdout)] == ["disk"]
    bad = agent(tmp_path, "check", "dsik", check=False)
    assert bad.returncode == 64  # EX_USAGE: never 1 ("warn") or 2 ("fail")
    assert "unknown check(s): dsik" in bad.stderr
    assert bad.stdout == ""


def test_usage_and_config_errors_have_their_own_codes(tmp_path) -> None:
    flag = agent(tmp_path, "check", "--jsno", check=False)
    assert flag.returncode == 64
    assert "unrecognized arguments: --jsno" in flag.stderr
    run = agent(tmp_path, "run", "--checks", "nosuch", check=False)
    assert run.returncode == 64
    assert "unknown check(s): nosuch" in run.stderr
    conf = tmp_path / "agent.yaml"
    conf.write_text("checks:\n  disk:\n    warn: 80\n")
    bad = agent(tmp_path, "check", "disk", config=conf, check=False)
    assert bad.returncode == 78  # EX_CONFIG
    assert "warn" in bad.stderr
    helptext = agent(tmp_path, "check", "--help").stdout
    assert "64 a usage error" in " ".join(helptext.split())


def test_summary_never_raises_on_odd_data() -> None:
    assert summarize("disk", "ok", {"filesystems": "nonsense"}, None) == ""
    assert summarize("patches", "error", {}, "apt-get: timed out") == "apt-get: timed out"
    assert summarize("logs", "skipped", {"reason": "no logs"}, None) == "no logs"
