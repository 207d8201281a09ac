"""JSON Schemas (draft 2020-12) for the report envelope and each check's ``data``.

The schemas are data files in ``schemas/``; the collector validates with them and the
test suite validates every real check result with them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def schema_names() -> list[str]:
    """Names of the checks that have a data schema (file stems, minus ``report``)."""
    files = resources.files(__package__).joinpath("schemas").iterdir()
    stems = (f.name[: -len(".json")] for f in files if f.name.endswith(".json"))
    return sorted(s for s in stems if s != "report")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema for check ``name`` (or ``report`` for the envelope)."""
    path = resources.files(__package__).joinpath("schemas", f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))
