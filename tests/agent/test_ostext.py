"""The agent's one rule for OS text: valid UTF-8 always, every odd byte shown as \\xNN."""

from __future__ import annotations

import base64
import os
import sys

from hostpatrol.agent import ostext
from hostpatrol.agent.commands import run_command
from hypothesis import given, settings
from hypothesis import strategies as st


@given(st.binary(max_size=500))
def test_decoding_any_bytes_gives_valid_text_that_shows_every_odd_byte(raw: bytes) -> None:
    text = ostext.decode(raw)
    text.encode("utf-8")  # strict: no lone surrogate survives
    # the same text whether the bytes came through a file or an OS API (surrogateescape)
    assert text == ostext.visible(raw.decode("utf-8", "surrogateescape"))
    try:
        assert text == raw.decode("utf-8")  # valid UTF-8 passes untouched
    except UnicodeDecodeError:
        assert "\\x" in text


@given(st.text(max_size=200))
def test_valid_text_is_left_alone_and_has_no_raw_bytes_field(text: str) -> None:
    clean = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)
    assert ostext.visible(clean) == clean
    assert ostext.raw_b64(clean) is None


@given(st.binary(min_size=1, max_size=300))
def test_the_raw_bytes_field_holds_the_exact_bytes(raw: bytes) -> None:
    name = raw.decode("utf-8", "surrogateescape")
    field = ostext.raw_b64(name)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert field is not None
        assert base64.b64decode(field) == raw
    else:
        assert field is None


def test_the_shown_form_is_what_bash_quoting_matches() -> None:
    assert ostext.decode(b"ev\xffil\xc3") == "ev\\xffil\\xc3"
    assert ostext.visible("ev\udcffil\udcc3") == "ev\\xffil\\xc3"
    assert ostext.visible("a\ud800b") == "a\\ud800b"  # an unpaired UTF-16 surrogate
    assert ostext.decode("日志".encode()) == "日志"


def test_visible_tree_reaches_keys_values_and_nesting() -> None:
    tree = {"k\udcff": ["v\udcfe", {"x": ("t\udc80",)}], "n": 3, "f": None}
    assert ostext.visible_tree(tree) == {"k\\xff": ["v\\xfe", {"x": ["t\\x80"]}], "n": 3,
                                         "f": None}


def test_a_real_file_and_a_real_command_are_read_by_the_rule(tmp_path) -> None:
    raw = b"ok line\nbad \xff\xfe line\n\xe6\x97\xa5\xe5\xbf\x97\n"
    (tmp_path / "f.log").write_bytes(raw)
    assert ostext.read_text(tmp_path / "f.log") == "ok line\nbad \\xff\\xfe line\n日志\n"
    assert ostext.read_text(tmp_path / "f.log", 10) == "ok line\nba"
    out = run_command([sys.executable, "-c",
                       "import sys; sys.stdout.buffer.write(bytes([0x61, 0xff, 0x62]));"
                       "sys.stderr.buffer.write(bytes([0xc3]))"])
    assert (out.stdout, out.stderr) == ("a\\xffb", "\\xc3")


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=200))
def test_a_real_command_printing_any_bytes_gives_the_rule_s_text(raw: bytes) -> None:
    out = run_command([sys.executable, "-c",
                       f"import sys; sys.stdout.buffer.write({raw!r})"])
    # text mode also turns \r\n and \r into \n, as it always did
    assert out.stdout == ostext.decode(raw).replace("\r\n", "\n").replace("\r", "\n")


def test_names_from_the_file_system_keep_their_bytes(tmp_path) -> None:
    name = b"backup-\xff\xfe.tar"
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
        f.write(b"x")
    (listed,) = os.listdir(tmp_path)
    assert ostext.visible(listed) == "backup-\\xff\\xfe.tar"
    assert base64.b64decode(ostext.raw_b64(listed)) == name
