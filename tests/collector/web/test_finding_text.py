"""Finding messages and timeline notes are made from stored facts in the reader's language
(rows stored before facts were named included), and dates have one format per language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from flask import Flask
from flask_babel import Babel, force_locale
from hostpatrol.collector.rules import kinds
from hostpatrol.collector.rules.model import HostFacts, Result
from hostpatrol.collector.web import finding_text, timefmt
from hostpatrol.collector.web.i18n import TRANSLATIONS

T = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # 10:30 in Beijing


@pytest.fixture(scope="module")
def app() -> Flask:
    """Babel with the project's catalogs, times shown in Beijing."""
    a = Flask(__name__)
    a.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(a, timezone_selector=lambda: "Asia/Shanghai")
    return a


def _in(app: Flask, lang: str, fn, *args):
    with app.test_request_context(), force_locale(lang):
        return fn(*args)


def _rule(rule_id: str):
    from hostpatrol.collector.policy.loader import default_text, parse_text

    return next(r for r in parse_text(default_text(), source="t").every_rule()
                if r.id == rule_id)


def test_a_required_value_reads_in_each_language_from_its_stored_fact(app) -> None:
    rule = _rule("logging-alive")
    host = HostFacts("a", "h", None)
    dev = kinds.required(rule, host, {"logs": Result("logs", "fail", T, {
        "logging": {"alive": False}})}, {}, T)[0]
    evidence = {"message": dev.message, **dev.evidence}
    assert "logging.alive is False" in dev.message  # the stored English sentence
    zh = _in(app, "zh_CN", finding_text.message, rule.title, dev.subject, "logs", evidence)
    en = _in(app, "en", finding_text.message, rule.title, dev.subject, "logs", evidence)
    assert zh == "日志服务停止：日志服务运行中为“否”，应为“是”"
    assert en == "Logging service dead: logging service running is no, expected yes"


@pytest.mark.parametrize(("evidence", "zh"), [
    ({"message": "Disk used: / is 97 (limit 95)", "value": 97.0, "limit": 95.0},
     "磁盘使用率过高（/）：当前 97（限值 95）"),
    ({"message": "Disk used: / is 9 days old (limit 7)", "value": 9.0, "limit": 7.0,
      "unit": "days"}, "磁盘使用率过高（/）：已 9 天（限值 7 天）"),
    ({"message": "Disk used: 3 (allowed 0)", "value": 3.0, "limit": 0.0},
     "磁盘使用率过高（/）：3（允许 0）"),
    ({"message": "Disk used: /"}, "磁盘使用率过高（/）"),
    ({"fact": "threshold", "path": "used_percent", "value": 97.5, "limit": 95},
     "磁盘使用率过高（/）：当前 97.5%（限值 95%）"),
])
def test_rows_stored_before_facts_were_named_still_read_in_chinese(app, evidence, zh) -> None:
    assert _in(app, "zh_CN", finding_text.message, "Disk used", "/", "disk", evidence) == zh


def test_system_notes_are_rebuilt_and_typed_notes_kept(app) -> None:
    def event(action, actor, note, details=None):
        return SimpleNamespace(action=action, actor=actor, note=note, details=details or {})

    raised = event("level_raised", "policy", "level III → II", {"level": 2})
    typed = event("transition", "zhangwei", "已扩容 to 2 TB")
    reminder = event("reminder", "system", "deadline 2026-11-24T02:30:00+00:00")
    def note(lang, e):
        return _in(app, lang, finding_text.event_note, e, "Disk used", "/", "disk")

    assert note("zh_CN", raised) == "级别 Ⅲ级（较大） → Ⅱ级（重大）"
    assert note("zh_CN", typed) == "已扩容 to 2 TB"
    assert note("zh_CN", reminder) == "整改期限 2026年11月24日"
    assert note("en", reminder) == "deadline 24 Nov 2026"


def test_a_baseline_item_gone_from_the_host_is_said_so(app) -> None:
    evidence = {"fact": "drift_removed", "removed": "tcp/8080"}
    assert _in(app, "zh_CN", finding_text.subject_text, "removed tcp/8080") == "已消失：tcp/8080"
    assert _in(app, "en", finding_text.message, "Listening port not in baseline",
               "removed tcp/8080", "ports", evidence) == \
        "Listening port not in baseline: tcp/8080 is gone from the host"


def test_one_date_and_time_format_per_language(app) -> None:
    assert _in(app, "zh_CN", timefmt.datetime_text, T) == "2026年11月24日 10:30"
    assert _in(app, "en", timefmt.datetime_text, T) == "24 Nov 2026 10:30"
    assert _in(app, "zh_CN", timefmt.date_text, date(2026, 12, 4)) == "2026年12月4日"
    assert timefmt.date_text(T, locale="en", zone="UTC") == "24 Nov 2026"
    assert timefmt.date_text(None) == "—"
    assert timefmt.parse_instant("not a time") is None
