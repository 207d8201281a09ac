"""Judge the output of ``hostpatrol-agent check --json``: every check ran, none crashed, every
result's data matches its schema. CI runs it on the Windows runner:

    python tests/windows/check_output.py check.json

Prints one line a check; exits 1 with the problems when there are any.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
from hostpatrol.agent.checks import by_name
from hostpatrol.shared.schemas import load_schema


def problems(results: Any, expected: set[str] | None = None) -> list[str]:
    """What is wrong with a decoded ``check --json`` document (empty when nothing)."""
    if not isinstance(results, list):
        return ["output is not a JSON list of results"]
    out = []
    seen = set()
    for r in results:
        name, status = r.get("check"), r.get("status")
        seen.add(name)
        if status == "error":
            out.append(f"{name}: error: {r.get('error')}")
        elif status not in ("ok", "warn", "fail", "skipped"):
            out.append(f"{name}: unknown status {status!r}")
        elif status != "skipped":
            try:
                jsonschema.Draft202012Validator(load_schema(name)).validate(r.get("data"))
            except jsonschema.ValidationError as e:
                out.append(f"{name}: data does not match its schema at "
                           f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")
    missing = (set(by_name()) if expected is None else expected) - seen
    out.extend(f"{name}: no result" for name in sorted(missing))
    return out


def main(argv: list[str]) -> int:
    """Read the file named on the command line, print each check and the problems."""
    raw = Path(argv[1]).read_bytes()
    # Windows PowerShell's ">" writes UTF-16 with a BOM, pwsh UTF-8; cmd writes the bytes.
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else \
        raw.decode("utf-8-sig")
    results = json.loads(text)
    for r in results if isinstance(results, list) else []:
        detail = r.get("error") or (r.get("data") or {}).get("reason") or ""
        print(f"{r.get('check', '?'):16} {r.get('status', '?'):8} {str(detail)[:100]}")
    found = problems(results)
    for p in found:
        print(f"PROBLEM {p}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
