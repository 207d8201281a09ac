"""Policy as data: the shipped default, strict validation with file:line, versions, the feed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from findings_kit import enroll_host, load_policy, policy_with
from hostpatrol.collector.intake.policy_feed import agent_policy
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.validation import PolicyError
from hostpatrol.collector.store import agents as agent_store
from hostpatrol.collector.store import profiles
from hostpatrol.shared.clock import utcnow

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_default_is_configs_policy_yaml() -> None:
    shipped = (ROOT / "configs" / "policy.yaml").read_text(encoding="utf-8")
    assert loader.default_text() == shipped
    policy = loader.parse_text(shipped, source="policy.yaml")
    kinds = {r.kind for r in policy.rules}
    assert kinds == {"threshold", "required", "staleness", "count", "drift", "checkin",
                     "trend", "crossing"}
    assert policy.deadlines_hours == {1: 24, 2: 72, 3: 168, 4: 720}


@pytest.mark.parametrize(("snippet", "expected"), [
    ("  - {id: x, kind: treshold, check: disk}", "unknown kind 'treshold'; did you mean "
                                                "'threshold'?"),
    ("  - {id: x, kind: count, check: dsk, path: a}", "unknown check 'dsk'; did you mean 'disk'"),
    ("  - {id: x, kind: count, check: disk, path: a, level: V}", "rules[34].level: must be one"),
    ("  - {id: x, kind: count, check: disk, pth: a}", "unknown option 'pth'; did you mean "
                                                     "'path'?"),
    ("  - {id: disk-used, kind: count, check: disk, path: a}", "duplicate rule id"),
    ("  - {id: x, kind: threshold, check: disk, value: a, steps: []}", "at least one step"),
    ("  - {id: x, kind: threshold, check: disk, steps: [{at: 1, level: IV}]}",
     "missing required key 'value'"),
])
def test_rule_errors_name_line_and_key(snippet: str, expected: str, tmp_path: Path) -> None:
    text = loader.default_text() + snippet + "\n"
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    line = text.count("\n")
    with pytest.raises(PolicyError) as e:
        loader.load_file(path)
    assert expected in str(e.value)
    assert f"{path}:{line}:" in str(e.value)


def test_section_errors(tmp_path: Path) -> None:
    cases = [
        (policy_with(groups="{a: {parent: nowhere}}"), "groups.a.parent: unknown group"),
        (policy_with(groups="{a: {rules: {nope: {level: III}}}}"), "no rule 'nope'"),
        (loader.default_text().replace("  routes: []", "  routes: [{channels: [x]}]"),
         "unknown channel 'x'"),
        (loader.default_text().replace("  checks: {}", "  checks: {diskk: {enabled: false}}"),
         "agents.checks.diskk: unknown check"),
        (loader.default_text().replace("remind_before_hours: 24", "remind_before: 24"),
         "did you mean 'remind_before_hours'?"),
    ]
    for text, expected in cases:
        with pytest.raises(PolicyError, match=expected):
            loader.parse_text(text, source="p.yaml")


def test_group_overrides_inherit_down_the_tree() -> None:
    text = policy_with(groups="{hq: {rules: {disk-used: {steps: [{at: 70, level: III}]}}}, "
                              "site: {parent: hq}, lab: {rules: {disk-used: {enabled: false}}}}")
    policy = loader.parse_text(text, source="p")
    by_group = {g: {r.id: r for r in policy.rules_in(g)} for g in ("hq", "site", "lab", None)}
    assert by_group["site"]["disk-used"].param("steps") == ((70, 3, False),)
    assert by_group[None]["disk-used"].param("steps")[0] == (85, 4, False)
    assert "disk-used" not in by_group["lab"]


def test_versions_are_kept_and_unchanged_text_adds_none(engine) -> None:
    now = utcnow()
    text = loader.default_text()
    with engine.begin() as conn:
        assert loader.current(conn).version == 0  # packaged default until one is loaded
        first = loader.store(conn, text, source="a.yaml", loaded_by="ann", now=now)
        again = loader.store(conn, text, source="a.yaml", loaded_by="ann", now=now)
        second = loader.store(conn, text.replace("remind_before_hours: 24",
                                                 "remind_before_hours: 48"),
                              source="b.yaml", loaded_by="bob", now=now + timedelta(hours=1))
    assert (first.version, again.changed, second.version) == (1, False, 2)
    with engine.connect() as conn:
        assert [h.version for h in loader.history(conn)] == [2, 1]
        assert loader.current(conn).remind_before_hours == 48
        assert loader.text_of(conn, 1) == (1, text)
        with pytest.raises(PolicyError):
            loader.store(conn, "rules: [{kind: nope}]", source="bad", loaded_by="x", now=now)
        assert len(loader.history(conn)) == 2


def test_agent_feed_reads_the_agents_section(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, group="branch", now=now)
    load_policy(engine, loader.default_text().replace(
        "  checks: {}", "  checks: {disk: {options: {warn_percent: 80}}}").replace(
        "  groups: {}\n  # host tag",
        "  groups: {branch: {schedules: {daily: '0 1 * * *'}}}\n  # host tag"))
    with engine.connect() as conn:
        row = agent_store.get(conn, host.agent_id)
        feed = agent_policy(conn, row)
    assert feed["schedules"]["daily"] == "0 1 * * *"
    assert feed["schedules"]["weekly"] == "0 3 * * 5"
    assert feed["checks"] == {"disk": {"options": {"warn_percent": 80}}}
    assert feed["monitoring_level"] == "normal"
    with engine.begin() as conn:
        profiles.set_profile(conn, host.agent_id, by="t", now=now, tags=["raised"])
        raised = agent_policy(conn, agent_store.get(conn, host.agent_id))
    assert raised["monitoring_level"] == "raised"
    assert raised["version"] > feed["version"]
    assert feed["version"] >> 32 == 1


def test_policy_yaml_documents_every_key() -> None:
    from hostpatrol.collector.policy import validation as v

    text = (ROOT / "configs" / "policy.yaml").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "policy-and-findings.md").read_text(encoding="utf-8")

    def walk(spec, prefix=""):
        for key, f in spec.items():
            yield prefix + key, key
            if f.children:
                yield from walk(f.children, f"{prefix}{key}.")

    specs = [dict(walk(v.TOP))]
    specs += [{k: k for k in s} for s in (v.COMMON, v.GROUP, v.CHANNEL, v.CHANNEL["smtp"].children,
                                         v.ROUTE, v.AGENT_CHECK, *v.KIND_SPECS.values(),
                                         *v.STEP.values(), v.AGE_STEP)]
    for spec in specs:
        for path, key in spec.items():
            assert f"{key}:" in text or f" {key} " in text or f"{key}," in text, path
    for kind in v.KIND_SPECS:
        assert kind in page, kind


def test_the_rules_a_batch_can_feed_cover_every_group_and_any_check_rules() -> None:
    """Ingest reads a host's findings only for these rules: every rule any group could
    choose for results of the batch's checks, check-in rules on any check included."""
    from hostpatrol.collector.rules.engine import evaluate, rules_fed_by
    from hostpatrol.collector.rules.model import HostFacts, Result

    text = policy_with(groups="{lab: {rules: {disk-used: {enabled: false}}}}")
    policy = loader.parse_text(text, source="p")
    disk = rules_fed_by(policy, {"disk"})
    assert {"disk-used", "host-silent"} <= set(disk)
    assert "firewall-off" not in disk
    assert "new-port" not in disk
    assert {"new-port", "host-silent"} <= set(rules_fed_by(policy, {"ports"}))
    # whatever evaluate chooses for a host of any group is among them
    now = utcnow()
    results = {"disk": Result("disk", "ok", now, {"filesystems": []}, 1)}
    for group in (None, "lab"):
        host = HostFacts(agent_id="a", hostname="h", group=group, critical=False,
                         tags=frozenset(), owner=None, backup_owner=None, last_seen_at=now)
        chosen = {r.id for r in evaluate(policy, host, results, {}, now).rules}
        assert chosen
        assert chosen <= set(disk)
