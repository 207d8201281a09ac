"""The Chinese catalog covers every dashboard string and its compiled .mo is up to date."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[3] / "collector" / "web"
CATALOG = WEB / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def _po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def test_every_string_in_code_and_templates_has_a_chinese_translation() -> None:
    with open(WEB / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0]
             for msg in extract_from_dir(str(WEB), method_map, options_map,
                                         keywords={"_": None, "gettext": None, "_l": None,
                                                   "lazy_gettext": None})}
    assert len(found) > 150
    po = _po()
    missing = sorted(m for m in found if not (po.get(m) and po.get(m).string))
    assert missing == [], "untranslated (run pybabel extract/update, see docs/development.md)"
    assert not [m.id for m in po if m.id and m.fuzzy]


def test_compiled_mo_matches_the_po() -> None:
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = read_mo(f)
    po = _po()
    assert {m.id: m.string for m in mo if m.id} == {m.id: m.string for m in po if m.id}


def test_placeholders_survive_translation() -> None:
    import re

    for m in _po():
        if m.id and m.string:
            names = sorted(re.findall(r"%\((\w+)\)s", m.id))
            assert names == sorted(re.findall(r"%\((\w+)\)s", m.string)), m.id
