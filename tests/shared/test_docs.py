"""Docs cover every check and every setting (docs/checks.md, example configs); links hold."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hostpatrol.agent.checks import BUILTIN_CHECKS
from hostpatrol.agent.config import BASE_SPEC, load_agent_config
from hostpatrol.collector.config import SPEC as COLLECTOR_SPEC
from hostpatrol.shared.configfile import validate

ROOT = Path(__file__).resolve().parents[2]


DOCS = sorted((ROOT / "docs").glob("*.md"))


def _documented_checks() -> dict[str, str]:
    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    return {row.split("|")[1].strip(): row for row in rows}


def test_every_check_is_in_the_checks_table_with_its_options() -> None:
    rows = _documented_checks()
    for check in BUILTIN_CHECKS:
        assert check.name in rows, f"docs/checks.md table lacks {check.name}"
        for option in check.options:
            assert option in rows[check.name], f"docs/checks.md row {check.name} lacks {option}"
    assert set(rows) == {c.name for c in BUILTIN_CHECKS}


def test_agent_example_lists_every_check_and_option_and_loads() -> None:
    path = ROOT / "configs" / "agent.example.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for check in BUILTIN_CHECKS:
        assert check.name in doc["checks"], f"agent.example.yaml lacks {check.name}"
        assert set(doc["checks"][check.name]) == {"enabled", *check.options}
    assert set(doc) == {"checks", *BASE_SPEC}
    config = load_agent_config(path, BUILTIN_CHECKS)
    for check in BUILTIN_CHECKS:
        assert config.check_options(check.name) == {
            k: v.default for k, v in check.options.items()}


def test_collector_example_lists_every_setting_and_validates() -> None:
    doc = yaml.safe_load((ROOT / "configs" / "collector.example.yaml").read_text())

    def walk(spec, data, prefix=""):
        assert set(data) == set(spec), f"{prefix}: {set(spec) ^ set(data)}"
        for key, field in spec.items():
            if field.children:
                walk(field.children, data[key], f"{prefix}{key}.")
            else:
                assert data[key] == field.default, f"{prefix}{key} default differs"

    walk(COLLECTOR_SPEC, doc)
    validate(doc, COLLECTOR_SPEC)


def test_every_check_has_a_data_schema_and_documented_module() -> None:
    from hostpatrol.shared.schemas import schema_names

    assert {c.name for c in BUILTIN_CHECKS} <= set(schema_names())
    for check in BUILTIN_CHECKS:
        module = __import__(check.__module__, fromlist=["_"])
        assert re.match(rf"{check.name}\b", (module.__doc__ or "").strip()), check.name
        assert check.__doc__, check.name
        for option in check.options.values():
            assert option.doc, check.name


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_relative_link_in_the_docs_leads_somewhere() -> None:
    pages = [ROOT / "README.md", ROOT / "SECURITY.md", *DOCS]
    assert {p.name for p in DOCS} >= {"checks.md", "unattended.md", "policy-and-findings.md",
                                     "report.md", "operations.md", "security.md",
                                     "development.md"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"), re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in DOCS:
        assert f"](docs/{page.name})" in readme, page.name
