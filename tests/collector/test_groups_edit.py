"""Editing the policy's groups as YAML data: comments, order and other keys kept."""

from __future__ import annotations

import pytest
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.groups_edit import GroupContacts, with_groups
from hostpatrol.collector.policy.validation import PolicyError

POLICY = """\
# site policy, kept by the branch IT team
levels:
  deadlines_hours: {I: 24, II: 72, III: 168, IV: 720, info: null}
owner: null   # nobody by default
groups:
  # the head office answers for everything
  head-office:
    owner: secops  # the SOC mailbox user
  branch-a:
    parent: head-office
    rules:
      disk-used: {steps: [{at: 90, level: IV}]}
"""


def test_changes_only_the_named_fields_and_keeps_every_comment() -> None:
    out = with_groups(POLICY, [GroupContacts("branch-a", "head-office", "alice", "bob"),
                               GroupContacts("head-office", None, None, "carol"),
                               GroupContacts("branch-b", "branch-a", "dave", None),
                               GroupContacts("empty-new")])
    for line in ("# site policy, kept by the branch IT team", "owner: null   # nobody by default",
                 "  # the head office answers for everything",
                 "      disk-used: {steps: [{at: 90, level: IV}]}",
                 "  deadlines_hours: {I: 24, II: 72, III: 168, IV: 720, info: null}"):
        assert line in out.splitlines()
    assert "secops" not in out  # head-office's owner left empty: removed
    assert "empty-new" not in out  # a new group naming nobody is not added
    assert out.index("head-office:") < out.index("branch-a:") < out.index("branch-b:")
    assert "    backup_owner: carol" in out.splitlines()
    assert "  branch-b:\n    parent: branch-a\n    owner: dave\n" in out


def test_the_result_loads_as_a_policy() -> None:
    text = with_groups(loader.default_text(), [GroupContacts("a", None, "alice", None),
                                               GroupContacts("b", "a", "bob", "alice")])
    policy = loader.parse_text(text, source="test")
    assert policy.groups["b"].parent == "a"
    assert (policy.groups["b"].owner, policy.groups["b"].backup_owner) == ("bob", "alice")
    # the default policy's comments all survive
    assert [x for x in loader.default_text().splitlines() if x.lstrip().startswith("#")] == \
        [x for x in text.splitlines() if x.lstrip().startswith("#")]


def test_not_yaml_is_refused() -> None:
    with pytest.raises(PolicyError):
        with_groups("groups: [unclosed", [GroupContacts("a", None, "x", None)])
    with pytest.raises(PolicyError):
        with_groups("- a list\n", [GroupContacts("a", None, "x", None)])
