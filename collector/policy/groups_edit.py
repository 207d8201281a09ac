"""Editing the policy's groups (parent for escalation, owner, backup owner) as YAML data:
the text is changed in place with ruamel.yaml's round trip, so every comment, the order
and the layout of the rest of the file stay as the admin wrote them."""

from __future__ import annotations

import io
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from .validation import PolicyError

FIELDS = ("parent", "owner", "backup_owner")


@dataclass(frozen=True, slots=True)
class GroupContacts:
    """One group's escalation parent and owners (None: not set)."""

    name: str
    parent: str | None = None
    owner: str | None = None
    backup_owner: str | None = None


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the admin's long lines
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), _null)  # `owner: null` stays `null`
    return y


def _null(representer: object, _data: None) -> object:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")  # type: ignore[attr-defined]


def with_groups(text: str, rows: list[GroupContacts]) -> str:
    """``text`` with each row's group set to its parent and owners (a group not in the
    policy yet is added when it names any; a field left empty is removed). Other keys of a
    group (its rule overrides) and everything outside ``groups`` are kept as written."""
    y = _yaml()
    try:
        doc = y.load(text)
    except Exception as e:  # ruamel raises many types; the loader reports the details
        msg = f"the policy is not YAML this page can edit: {e}"
        raise PolicyError(msg) from e
    if not isinstance(doc, CommentedMap):
        msg = "the policy is not a mapping"
        raise PolicyError(msg)
    groups = doc.get("groups")
    if not isinstance(groups, CommentedMap):
        groups = CommentedMap()
        doc["groups"] = groups
    if not groups:
        groups.fa.set_block_style()  # `groups: {}` grows into a block, one group a line
    for row in rows:
        values = {"parent": row.parent, "owner": row.owner, "backup_owner": row.backup_owner}
        entry = groups.get(row.name)
        if not isinstance(entry, CommentedMap):
            if not any(values.values()):
                continue
            entry = CommentedMap()
            groups[row.name] = entry
        for key in FIELDS:
            if values[key]:
                entry[key] = values[key]
            elif key in entry:
                del entry[key]
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()
