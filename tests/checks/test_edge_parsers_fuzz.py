"""The parsers added for issue 19 never raise on odd OS text (generated edge values)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hostpatrol.agent.checks.antivirus import clamav as clam
from hostpatrol.agent.checks.disk import parse_mountinfo
from hostpatrol.agent.checks.logs.files import first_line_since
from hostpatrol.agent.checks.logs.parse import line_time
from hostpatrol.agent.checks.patches.kernel import parse_dpkg_versions, running_package_version
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
LOGGY = st.text(alphabet=st.sampled_from(list("<>0123456789:-.TZ+ JanFebDc\n#/\\ OK()")),
                max_size=400)
NOW = 1_800_000_000.0


@settings(max_examples=300, deadline=None)
@given(TEXT | LOGGY)
def test_text_parsers_never_raise(text):
    line_time(text, NOW)
    parse_mountinfo(text)
    clam.parse_freshclam_log(text)
    parsed = clam.parse_clamscan_log(text)
    for scan in parsed["scans"]:
        assert scan["tool"] in ("clamscan", "clamdscan")
    running_package_version(text, text[:40])
    parse_dpkg_versions(text)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=86400 * 3), max_size=60),
       st.integers(min_value=0, max_value=86400 * 3))
def test_first_line_since_skips_exactly_the_older_lines(tmp_path: Path, offsets, cut):
    base = 1_700_000_000
    stamps = sorted(base + o for o in offsets)
    # long lines, so a file passes the 64 KiB where bisection starts
    lines = [f"{datetime.fromtimestamp(t, UTC).isoformat()} h app: line {i} {'x' * 3000}\n"
             for i, t in enumerate(stamps)]
    path = tmp_path / "f.log"
    path.write_text("".join(lines))
    since = base + cut
    at = first_line_since(path, since, lambda raw: line_time(raw, NOW))
    kept = path.read_bytes()[at:].decode().splitlines()
    assert len(kept) == sum(t >= since for t in stamps)
